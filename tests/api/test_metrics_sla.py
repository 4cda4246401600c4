"""The SLA counters of GET /metrics follow a complaint that really runs: its workflow's first-response
clock warns and then breaches on the time-skipping test server, the records activity writes those
steps to the audit trail, and the next scrape counts them — so the event names the metrics count
are the ones the workflow writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from domain.roles import Role
from tests.api.complaint_stack import ComplaintStack, eventually, login, stage_of
from tests.factories import make_user
from tests.temporal_env import start_time_skipping

SLA = "aftercare_sla_events_total"


@pytest_asyncio.fixture(scope="module")
async def temporal_test_env(database_url: str) -> AsyncIterator[WorkflowEnvironment]:
    """A fresh test server per database kind (the shared one is per module): the API stamps a
    complaint's received_at by the wall clock, and a server whose clock an earlier run skipped
    ahead would find its deadlines long past."""
    async with await start_time_skipping() as env:
        yield env


async def sla_counts(api: httpx.AsyncClient) -> dict[tuple[str, str, str], float]:
    response = await api.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.labels["case_type"], sample.labels["clock"], sample.labels["kind"]): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == SLA
    }


def recorded(stack: ComplaintStack, complaint_id: str, event: str) -> bool:
    return event in [step.event for step in stack.steps_of(complaint_id)]


async def test_a_complaints_first_response_warning_and_breach_are_counted(
    stack: ComplaintStack, temporal_test_env: WorkflowEnvironment
) -> None:
    student = await login(stack.api, make_user(stack.sessions, Role.STUDENT))
    before = await sla_counts(stack.api)
    # Technical: the first response is due in 10 minutes, warned at 8, the resolution in 2 hours.
    filed = await stack.api.post(
        "/api/complaints", headers=student, json={"text": "直播课一直卡顿，画面黑屏"}
    )
    assert filed.status_code == 202, filed.text
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_of(stack, complaint_id) == "assigned", "assignment")

    await temporal_test_env.sleep(timedelta(minutes=9))
    await eventually(lambda: recorded(stack, complaint_id, "sla.first_response.warning"), "the warning")
    warned = await sla_counts(stack.api)
    assert (
        warned[("complaint", "first_response", "warning")]
        == before[("complaint", "first_response", "warning")] + 1
    )
    assert (
        warned[("complaint", "first_response", "breached")]
        == before[("complaint", "first_response", "breached")]
    )

    await temporal_test_env.sleep(timedelta(minutes=2))
    await eventually(lambda: recorded(stack, complaint_id, "sla.first_response.breached"), "the breach")
    breached = await sla_counts(stack.api)
    assert {labels: breached[labels] - before[labels] for labels in breached} == {
        ("complaint", "first_response", "warning"): 1,
        ("complaint", "first_response", "breached"): 1,
        ("complaint", "resolution", "warning"): 0,
        ("complaint", "resolution", "breached"): 0,
        ("refund", "review", "warning"): 0,
        ("refund", "review", "breached"): 0,
    }
