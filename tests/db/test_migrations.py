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


def test_refunds_made_before_policies_were_data_are_backfilled(tmp_path) -> None:
    """Upgrading a database that already holds a refund (a dev box from the first release) keeps it
    readable: it is recorded as judged by version 1 of its course type's policy, refunded in full."""
    from alembic import command
    from sqlalchemy import text

    from db.engine import build_engine
    from db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0001")
    engine = build_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users VALUES ('S1', 's@x', 'S', 'student', 'h', 'zh-CN', NULL, 1, '2026-01-01')"
            )
        )
        conn.execute(text("INSERT INTO courses VALUES ('C1', 'Course', 'regular', NULL, '2026-01-01')"))
        conn.execute(
            text(
                "INSERT INTO orders VALUES"
                " ('O1', 'S1', 'C1', 19900, '2026-01-01', 'sandbox', 'T1', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO refunds (id, workflow_id, order_id, student_id, course_id, course_name,"
                " course_type, gateway, status, reason, amount_paid_fen, fee_fen, refund_amount_fen,"
                " requested_at, updated_at) VALUES ('RF1', 'refund-RF1', 'O1', 'S1', 'C1', 'Course',"
                " 'regular', 'sandbox', 'refunded', 'r', 19900, 1990, 17910, '2026-01-02', '2026-01-02')"
            )
        )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT requested_fen, eligibility, policy_version, policy FROM refunds WHERE id = 'RF1'")
        ).one()
        policies = conn.execute(
            text("SELECT course_type, version FROM refund_policies ORDER BY course_type")
        ).all()
    engine.dispose()
    assert (row.requested_fen, row.eligibility, row.policy_version) == (19900, "eligible", 1)
    assert '"window_days": 7' in row.policy and '"course_type": "regular"' in row.policy
    assert [tuple(p) for p in policies] == [("premium", 1), ("regular", 1), ("trial", 1)]
