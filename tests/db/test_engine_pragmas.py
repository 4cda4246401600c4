"""The app database's SQLite pragmas: db/engine.py's defaults, and the ones Settings may set instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from db.engine import build_engine
from devstack.processes import aftercare_env
from settings import Settings


def _pragmas(engine) -> dict[str, object]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        }


def test_defaults_are_wal_synced_at_every_commit_with_foreign_keys(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'app.db'}")
    # synchronous: 0 OFF, 1 NORMAL, 2 FULL
    assert _pragmas(engine) == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}
    engine.dispose()


def test_settings_replace_journal_and_sync_modes_but_never_foreign_keys(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        database_sqlite_journal_mode="DELETE",
        database_sqlite_synchronous="NORMAL",
    )
    engine = build_engine(settings.database_url, **settings.database_engine_options)
    assert _pragmas(engine) == {"journal_mode": "delete", "synchronous": 1, "foreign_keys": 1}
    engine.dispose()


def test_settings_leave_the_defaults_when_unset() -> None:
    assert Settings().database_engine_options["sqlite_pragmas"] == {}


@pytest.mark.parametrize("field", ["database_sqlite_journal_mode", "database_sqlite_synchronous"])
def test_a_pragma_value_outside_the_known_modes_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: "NORMAL; DROP TABLE refunds"})


def test_a_launcher_passes_set_pragmas_on_and_leaves_unset_ones_out(monkeypatch: pytest.MonkeyPatch) -> None:
    launched = Settings(database_sqlite_synchronous="NORMAL")
    env = aftercare_env(launched, temporal_address="127.0.0.1:7233", temporal_namespace="aftercare")
    assert "AFTERCARE_DATABASE_SQLITE_JOURNAL_MODE" not in env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings().database_engine_options["sqlite_pragmas"] == {"synchronous": "NORMAL"}
