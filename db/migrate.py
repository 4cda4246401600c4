"""Apply Alembic migrations from code: `python -m db.migrate` (make dev) and the test fixtures."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from settings import PROJECT_ROOT, get_settings


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


if __name__ == "__main__":
    upgrade(get_settings().database_url)
