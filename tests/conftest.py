"""Shared fixtures. Every database-backed test runs on SQLite and, when TEST_POSTGRES_URL is set, on
PostgreSQL too (a fresh database per test module, dropped afterwards). With AFTERCARE_REQUIRE_POSTGRES=1
(CI) an unreachable PostgreSQL fails the run instead of being skipped."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from db.engine import SessionFactory, build_engine
from db.migrate import upgrade

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("AFTERCARE_REQUIRE_POSTGRES") == "1"

DATABASE_KINDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_POSTGRES and not POSTGRES_URL:
        raise pytest.UsageError("AFTERCARE_REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set")


def _libpq_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _fresh_postgres_database() -> tuple[str, str]:
    """Create an empty database next to TEST_POSTGRES_URL's; return (its URL, its name)."""
    assert POSTGRES_URL
    name = f"aftercare_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(_libpq_conninfo(POSTGRES_URL), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {exc}")
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_postgres_database(name: str) -> None:
    assert POSTGRES_URL
    with psycopg.connect(_libpq_conninfo(POSTGRES_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database of each kind under test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'aftercare.db'}"
        upgrade(url)
        yield url
        return
    url, name = _fresh_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        _drop_postgres_database(name)


@pytest.fixture(scope="module")
def sessions(database_url: str) -> Iterator[SessionFactory]:
    engine = build_engine(database_url)
    yield SessionFactory(engine)
    engine.dispose()
