"""Engine and session factory. One engine per process, built from settings.database_url."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

# SQLite's journal and sync modes for our database. WAL lets the API's readers run beside the one
# writer. FULL syncs the WAL at every commit: with NORMAL an OS crash or power loss could take back
# the last commits — an audit event or a refund's status whose activity Temporal already holds as
# done, so nothing would write it again. Measured to cost ~5% of the worker's CPU and no throughput
# beyond noise (docs/benchmarks.md, "Tuning").
SQLITE_PRAGMAS: Mapping[str, str] = {"journal_mode": "WAL", "synchronous": "FULL"}


def build_engine(database_url: str, sqlite_pragmas: Mapping[str, str] | None = None, **kwargs: Any) -> Engine:
    """`sqlite_pragmas` replace SQLITE_PRAGMAS' values by name (SQLite only); kwargs go to
    create_engine (the pool's size)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # API and worker threads share the file; WAL lets readers run beside the one writer.
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        pragmas = {**SQLITE_PRAGMAS, **(sqlite_pragmas or {}), "foreign_keys": "ON"}
        event.listen(engine, "connect", partial(_set_sqlite_pragmas, pragmas))
        return engine
    return create_engine(database_url, pool_pre_ping=True, **kwargs)


def _set_sqlite_pragmas(pragmas: Mapping[str, str], dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for name, value in pragmas.items():
        cursor.execute(f"PRAGMA {name}={value}")  # names and values are ours or Settings' Literals
    cursor.close()


class SessionFactory:
    """Hands out short-lived sessions; activities and requests each open and close their own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
