"""An agent compensating beyond their quota, through the API against a running complaint workflow
and the real ledger: what does not fit goes to a lead and is never given — one offer at a time
or many at once — and only a lead other than the offerer can change that.

Elsewhere: the ledger's arithmetic and its lock under concurrent bookings
(tests/db/test_compensation_ledger.py), the workflow's approval path
(tests/workflows/test_complaint_compensation.py), and refusals before the workflow is asked —
bad offers, wrong roles, one's own offer (test_compensation.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from db.models import Compensation
from domain.roles import Role
from tests.api.complaint_stack import ComplaintStack, complaint_stack, eventually, login, stage_of
from tests.factories import make_user

AGENT_COUPON_QUOTA_FEN = 5_000  # the agents' default per day (domain/compensation.py, migration 0010)


@pytest_asyncio.fixture(scope="module")
async def stack(
    temporal_test_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ComplaintStack]:
    async with complaint_stack(
        temporal_test_env, database_url, tmp_path_factory.mktemp("data"), real_ledger=True
    ) as running:
        yield running


def _offers(stack: ComplaintStack, complaint_id: str) -> dict[str, str]:
    with stack.sessions() as session:
        rows = session.exec(select(Compensation).where(Compensation.complaint_id == complaint_id)).all()
        return {row.id: row.status for row in rows}


async def _complaint(stack: ComplaintStack) -> str:
    student = await login(stack.api, make_user(stack.sessions, Role.STUDENT))
    filed = await stack.api.post(
        "/api/complaints", headers=student, json={"text": "直播课一直卡顿，画面黑屏"}
    )
    assert filed.status_code in (200, 201, 202), filed.text
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_of(stack, complaint_id) == "assigned", "assignment")
    return complaint_id


def _coupon(fen: int) -> dict:
    return {"kind": "coupon", "amount_fen": fen, "reason": "直播卡顿影响上课"}


async def test_an_offer_beyond_the_agents_quota_waits_for_a_lead_and_is_never_given(
    stack: ComplaintStack,
) -> None:
    complaint_id = await _complaint(stack)
    agent = await login(stack.api, make_user(stack.sessions, Role.AGENT))
    url = f"/api/complaints/{complaint_id}/compensations"

    within = await stack.api.post(url, headers=agent, json=_coupon(3_000))
    assert within.status_code == 200, within.text
    assert within.json()["status"] in ("issuing", "issued")
    await eventually(lambda: len(stack.fakes.compensations_given) == 1, "the coupon within quota given")

    beyond = await stack.api.post(url, headers=agent, json=_coupon(AGENT_COUPON_QUOTA_FEN - 3_000 + 1))
    assert beyond.status_code == 200, beyond.text
    waiting = beyond.json()
    assert waiting["status"] == "awaiting_approval"
    assert waiting["quota"]["coupon_fen_left"] == AGENT_COUPON_QUOTA_FEN - 3_000  # waiting uses none
    await asyncio.sleep(1)  # time for a wrongful issue to show
    assert [given.compensation_id for given in stack.fakes.compensations_given] == [
        within.json()["compensation_id"]
    ]
    assert _offers(stack, complaint_id)[waiting["compensation_id"]] == "awaiting_approval"
    assert "compensation.awaiting_approval" in [step.event for step in stack.steps_of(complaint_id)]

    decision = f"{url}/{waiting['compensation_id']}/decision"
    for who in (agent, await login(stack.api, make_user(stack.sessions, Role.AGENT))):
        assert (await stack.api.post(decision, headers=who, json={"approve": True})).status_code == 403
    assert _offers(stack, complaint_id)[waiting["compensation_id"]] == "awaiting_approval"
    assert len(stack.fakes.compensations_given) == 1


async def test_offers_sent_at_once_do_not_squeeze_past_the_quota_together(stack: ComplaintStack) -> None:
    complaint_id = await _complaint(stack)
    agent = await login(stack.api, make_user(stack.sessions, Role.AGENT))
    url = f"/api/complaints/{complaint_id}/compensations"
    given_before = len(stack.fakes.compensations_given)
    answers = await asyncio.gather(
        *(stack.api.post(url, headers=agent, json=_coupon(2_000)) for _ in range(4))
    )
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    statuses = sorted(answer.json()["status"] for answer in answers)
    # ¥50 a day: two ¥20 coupons fit, the other two wait for a lead.
    assert statuses.count("awaiting_approval") == 2, statuses
    await eventually(lambda: len(stack.fakes.compensations_given) == given_before + 2, "two coupons given")
    await asyncio.sleep(1)
    assert len(stack.fakes.compensations_given) == given_before + 2
    assert sorted(_offers(stack, complaint_id).values()).count("awaiting_approval") == 2
