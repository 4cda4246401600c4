"""Each workflow test module gets its own time-skipping server: time skipping stalls in
long-shared environments."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.temporal_env import start_time_skipping
from tests.workflows.refund_fakes import TASK_QUEUE, FakeActivities
from worker import workflow_runner
from workflows.complaint import ComplaintWorkflow
from workflows.refund import RefundWorkflow


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping() as environment:
        yield environment


@pytest.fixture
def fakes() -> FakeActivities:
    return FakeActivities()


@pytest_asyncio.fixture
async def worker(env: WorkflowEnvironment, fakes: FakeActivities) -> AsyncIterator[Worker]:
    async with Worker(
        env.client,
        task_queue=TASK_QUEUE,
        workflows=[RefundWorkflow, ComplaintWorkflow],
        activities=fakes.definitions(),
        workflow_runner=workflow_runner(),
    ) as running:
        yield running
