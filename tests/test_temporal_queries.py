"""README's `temporal workflow list` lines as the tooling reads them, and docs/operations.md saying the
same (the integration test runs README's lines against a dev server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.temporal_dev_config import dev_config
from devstack.temporal_queries import readme_list_commands
from settings import PROJECT_ROOT


def test_readme_lists_three_commands_for_the_dev_servers_namespace() -> None:
    commands = readme_list_commands()
    assert [
        ("RefundStatus = 'awaiting_review'" in c.query, "SlaBreached = true" in c.query) for c in commands
    ] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert "RefundStatus = 'refunding'" in commands[2].query
    config = dev_config()
    for command in commands:
        assert command.purpose, command
        assert f"--address {config.address} --namespace {config.namespace} --query" in command.command


def test_operations_doc_quotes_the_same_queries() -> None:
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for command in readme_list_commands():
        assert f'--query "{command.query}"' in operations, command.purpose


def test_continued_lines_are_joined_and_shell_expansions_kept(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "text\n<!-- temporal-queries:start -->\n```bash\n# Late ones\n"
        ".venv/bin/temporal workflow list --namespace x \\\n"
        "  --query \"SlaDueAt < '$(date -u +%Y-%m-%dT%H:%M:%SZ)'\"\n"
        "```\n<!-- temporal-queries:end -->\n"
    )
    [command] = readme_list_commands(readme)
    assert command.purpose == "Late ones"
    late = "SlaDueAt < '$(date -u +%Y-%m-%dT%H:%M:%SZ)'"
    assert command.command == f'.venv/bin/temporal workflow list --namespace x --query "{late}"'
    assert command.query == late


def test_a_readme_without_the_block_is_an_error(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no queries here\n")
    with pytest.raises(ValueError, match="no temporal-queries block"):
        readme_list_commands(readme)
