from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from db.engine import build_engine
from settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def _database_url() -> str:
    # db.migrate.upgrade() passes the URL explicitly; the alembic CLI falls back to settings.
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = build_engine(_database_url())
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # SQLite rebuilds a table to alter it; with foreign keys on, rebuilding a referenced
            # table (users, orders) on a populated database fails. Outside a transaction, as SQLite wants.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
