from __future__ import annotations

import pytest

from devstack.temporal_dev_config import TemporalDevConfig, dev_config, venv_binary
from domain import search_attributes


def test_search_attributes_in_code_match_temporal_dev_yml() -> None:
    declared = {key.name: key.indexed_value_type for key in search_attributes.ALL}
    registered = {key.name: key.indexed_value_type for key in dev_config().search_attribute_keys()}
    assert declared == registered


def test_the_file_defines_the_issue_ports_namespace_and_pragmas() -> None:
    config = dev_config()
    assert (config.grpc_port, config.ui_port) == (7233, 8233)
    assert config.namespace == "aftercare"
    assert config.db_file.parent.name == ".data"
    assert config.sqlite_pragmas == {"journal_mode": "wal", "synchronous": "normal"}


def test_start_dev_args_carry_every_setting_of_the_file() -> None:
    config = dev_config()
    args = config.start_dev_args(grpc_port=17233, ui_port=18233)
    joined = " ".join(args)
    assert args[:2] == ["server", "start-dev"]
    assert "--port 17233" in joined and "--ui-port 18233" in joined
    assert f"--db-filename {config.db_file}" in joined
    assert "--sqlite-pragma journal_mode=wal" in joined
    assert "--sqlite-pragma synchronous=normal" in joined
    assert "--search-attribute SlaDueAt=Datetime" in joined
    assert "--dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=true" in joined
    assert args.count("--search-attribute") == len(search_attributes.ALL)
    assert "--headless" not in args


def test_a_headless_server_has_no_ui_port() -> None:
    args = dev_config().start_dev_args(grpc_port=17233, ui_port=18233, headless=True)
    assert "--headless" in args and "--ui-port" not in args
    assert "--sqlite-pragma" in args and "--search-attribute" in args


def test_an_unknown_search_attribute_type_is_refused(tmp_path) -> None:
    broken = tmp_path / "temporal-dev.yml"
    broken.write_text(
        "grpc_port: 1\nui_port: 2\nip: 127.0.0.1\nnamespace: n\ndb_file: x.db\n"
        "sqlite_pragmas: {}\nsearch_attributes: {Foo: Float}\n"
    )
    with pytest.raises(ValueError, match="Float"):
        TemporalDevConfig.load(broken)


def test_the_temporal_binaries_come_from_the_installed_wheels() -> None:
    assert venv_binary("temporal").is_file()
    assert venv_binary("temporal-test-server").is_file()
