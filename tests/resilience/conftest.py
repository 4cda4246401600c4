"""Resilience tests: the system as separate processes (tests/resilience/system.py), one of them
broken on purpose — killed, stopped, or made to fail — while work is in flight. Long, so marked
`resilience` and left out of `make test`; `make test-resilience` runs them (CI does, after the rest)."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from db.migrate import upgrade
from devstack.system import System, running_system

# Where the random moments come from: set RESILIENCE_SEED to run a failed schedule again.
SEED = int(os.environ.get("RESILIENCE_SEED", "20261124"))


@pytest.fixture
def rng() -> random.Random:
    print(f"RESILIENCE_SEED={SEED}")  # shown with a failure's captured output
    return random.Random(SEED)


@pytest.fixture(scope="module")
def system_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite: most faults here are the processes', not the database's (a module that kills a writer
    mid-transaction asks for both databases instead)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'aftercare.db'}"
    upgrade(url)
    return url


@pytest_asyncio.fixture(scope="module")
async def system(system_database: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    async with running_system(tmp_path_factory.mktemp("resilience"), system_database) as running:
        yield running
