"""The ready-to-paste `temporal workflow list` lines of README.md, read from there and nowhere else:
the integration test runs them against a dev server and the screenshot script types their filters
into the Temporal UI, so the lines people copy are the lines that were checked."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
BLOCK = re.compile(r"<!-- temporal-queries:start -->\n```bash\n(.*?)```\n<!-- temporal-queries:end -->", re.S)


@dataclass(frozen=True)
class ListCommand:
    purpose: str  # the comment line above the command
    command: str  # the shell command, its continuation lines joined
    query: str  # the --query argument as written, shell expansions such as $(date …) left in


def readme_list_commands(readme: Path = README) -> list[ListCommand]:
    """The commands in the order README lists them: refunds awaiting review, tech-support complaints
    with a breached SLA, refunds whose gateway callback is late."""
    found = BLOCK.search(readme.read_text(encoding="utf-8"))
    if found is None:
        raise ValueError(f"{readme}: no temporal-queries block")
    commands: list[ListCommand] = []
    purpose = ""
    for line in re.sub(r" *\\\n\s*", " ", found.group(1)).splitlines():
        if line.startswith("#"):
            purpose = line.lstrip("# ").strip()
        elif line.strip():
            words = shlex.split(line)
            query = words[words.index("--query") + 1]
            commands.append(ListCommand(purpose=purpose, command=line.strip(), query=query))
    return commands
