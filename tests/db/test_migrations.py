"""Alembic migrations are the only way tables are made outside tests; they must match the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import db.models  # noqa: F401
from db.engine import SessionFactory
from db.models import Course


def test_migrated_schema_matches_the_models(sessions: SessionFactory) -> None:
    with sessions.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_times_come_back_timezone_aware_utc(sessions: SessionFactory) -> None:
    shanghai_morning = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    with sessions() as session:
        session.add(Course(id="C-TZ", name="tz", type="trial", starts_at=shanghai_morning))
        session.commit()
    with sessions() as session:
        stored = session.get(Course, "C-TZ")
        assert stored is not None and stored.starts_at is not None
        assert stored.starts_at.tzinfo is not None
        assert stored.starts_at.utcoffset() == timedelta(0)
        assert stored.starts_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def test_a_naive_time_is_refused(sessions: SessionFactory) -> None:
    with sessions() as session:
        session.add(Course(id="C-NAIVE", name="naive", type="trial", starts_at=datetime(2026, 3, 1, 9, 30)))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()
