"""Fresh benchmark databases, migrated by our Alembic migrations, and the bulk load of a dataset:
executemany on SQLite's own connection in big transactions, COPY on PostgreSQL. The indexes the
migrations create are in place while rows go in, as they would be on a live database."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.dataset import Dataset
from db.engine import build_engine
from db.migrate import upgrade

BENCH_DATABASE = "aftercare_bench"
SQLITE_BATCH = 50_000  # rows per executemany
SQLITE_LOAD_CACHE_KIB = 1_048_576  # the loading connection's page cache; the API's keep the default


@dataclass(frozen=True)
class BenchDatabase:
    kind: str  # "sqlite" | "postgresql"
    url: str  # SQLAlchemy URL, as AFTERCARE_DATABASE_URL takes it


def libpq_conninfo(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_unreachable(server_url: str) -> str | None:
    """Why the server cannot be used, or None when it answers."""
    try:
        with psycopg.connect(libpq_conninfo(server_url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def postgres_server_version(url: str) -> str:
    with psycopg.connect(libpq_conninfo(url), connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def fresh_sqlite(directory: Path) -> BenchDatabase:
    path = directory / "bench.db"
    for leftover in (path, path.with_name("bench.db-wal"), path.with_name("bench.db-shm")):
        leftover.unlink(missing_ok=True)
    return BenchDatabase("sqlite", f"sqlite:///{path}")


def fresh_postgres(server_url: str, name: str = BENCH_DATABASE) -> BenchDatabase:
    """Drop (a previous run's) and create the benchmark database on the server server_url names."""
    with psycopg.connect(libpq_conninfo(server_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return BenchDatabase("postgresql", make_url(server_url).set(database=name).render_as_string(False))


def drop_postgres(server_url: str, name: str = BENCH_DATABASE) -> None:
    with psycopg.connect(libpq_conninfo(server_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(database: BenchDatabase) -> None:
    upgrade(database.url)


def load(database: BenchDatabase, dataset: Dataset) -> dict[str, float]:
    """Insert every table of the dataset; seconds per table, plus "settle" (see below)."""
    if database.kind == "sqlite":
        return _load_sqlite(database.url, dataset)
    return _load_postgres(database.url, dataset)


def _load_sqlite(url: str, dataset: Dataset) -> dict[str, float]:
    engine = build_engine(url)  # our pragmas (db/engine.py SQLITE_PRAGMAS), foreign keys on
    seconds: dict[str, float] = {}
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            # Random-order index inserts into 3M-row indexes thrash SQLite's 2 MB default cache.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}")
            for name, table in dataset.tables.items():
                started = time.perf_counter()
                columns = ", ".join(table.columns)
                marks = ", ".join("?" * len(table.columns))
                statement = f"INSERT INTO {name} ({columns}) VALUES ({marks})"
                for offset in range(0, len(table.rows), SQLITE_BATCH):
                    cursor.executemany(statement, table.rows[offset : offset + SQLITE_BATCH])
                connection.commit()
                seconds[name] = time.perf_counter() - started
            # Fold the WAL into the database file, as a checkpoint would soon after: readers of a
            # freshly loaded database should not be timed scanning a gigabyte of WAL.
            started = time.perf_counter()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            seconds["settle"] = time.perf_counter() - started
            cursor.close()
        finally:
            connection.close()
    finally:
        engine.dispose()
    return seconds


def _load_postgres(url: str, dataset: Dataset) -> dict[str, float]:
    seconds: dict[str, float] = {}
    with psycopg.connect(libpq_conninfo(url)) as conn:
        conn.execute("SET TIME ZONE 'UTC'")  # the dataset's times are naive UTC text
        for name, table in dataset.tables.items():
            started = time.perf_counter()
            with conn.cursor() as cursor:
                with cursor.copy(f"COPY {name} ({', '.join(table.columns)}) FROM STDIN") as copy:
                    for row in table.rows:
                        copy.write_row(row)
            conn.commit()
            seconds[name] = time.perf_counter() - started
    # What autovacuum would do shortly after such a load (insert-triggered vacuum and analyze):
    # statistics for the planner and the visibility map for index-only scans. Timing the reports
    # before it would measure a database no live server has for long.
    started = time.perf_counter()
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    seconds["settle"] = time.perf_counter() - started
    return seconds
