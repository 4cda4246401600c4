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
from tests.resilience.system import System, running_system

# Where the random moments come from: set RESILIENCE_SEED to run a failed schedule again.
SEED = int(os.environ.get("RESILIENCE_SEED", "20261124"))


@pytest.fixture
def rng() -> random.Random:
    print(f"RESILIENCE_SEED={SEED}")  # shown with a failure's captured output
    return random.Random(SEED)


@pytest_asyncio.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """SQLite: the faults here are the processes'; the database's part runs on both databases in the
    rest of the suite."""
    data_dir = tmp_path_factory.mktemp("resilience")
    url = f"sqlite:///{data_dir / 'aftercare.db'}"
    upgrade(url)
    async with running_system(data_dir, url) as running:
        yield running
