"""Compensation inside ComplaintWorkflow on the time-skipping server: within the offerer's quota it
is given at once; beyond it, a lead (not the offerer) decides; a refusal by the commerce system
gives nothing; the complaint does not close while an offer is open. The ledger that counts the
quota is a fake here (tests/db/test_compensation_ledger.py tests the real one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.compensation import (
    CompensationDecision,
    CompensationKind,
    CompensationOffer,
    CompensationStatus,
)
from domain.complaints import ComplaintStage, SurveyAnswer
from domain.notifications import Channel, NoticeEvent
from domain.roles import Role
from tests.temporal_env import start_time_skipping
from tests.workflows.refund_fakes import FakeActivities, notices_of, published_events
from tests.workflows.test_complaint_workflow import (
    complaint,
    events,
    reply,
    resolution,
    stage_is,
    start,
    stop,
)
from workflows.complaint import ComplaintWorkflow


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping() as environment:
        yield environment


def coupon(amount_fen: int, by: str = "U-AGENT") -> CompensationOffer:
    return CompensationOffer(
        kind=CompensationKind.COUPON,
        amount_fen=amount_fen,
        reason="直播卡顿影响上课",
        by=by,
        by_name="陈客服",
        by_role=Role.AGENT,
    )


def decision(compensation_id: str, approve: bool, by: str = "U-LEAD") -> CompensationDecision:
    return CompensationDecision(
        compensation_id=compensation_id,
        approve=approve,
        note="同意补偿" if approve else "已补发回放，不再另补",
        by=by,
        by_name="刘主管",
    )


async def outcome_of(fakes: FakeActivities, compensation_id: str, status: CompensationStatus) -> None:
    for _ in range(200):
        if any(
            o.compensation_id == compensation_id and o.status is status for o in fakes.compensation_outcomes
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{compensation_id} never became {status}: {fakes.compensation_outcomes}")


async def test_a_coupon_within_the_quota_is_given_at_once_and_the_student_told(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    receipt = await handle.execute_update(ComplaintWorkflow.compensate, coupon(3_000))
    assert receipt.status is CompensationStatus.ISSUING
    assert receipt.compensation_id == f"CM-{receipt.complaint_id}-1"
    assert receipt.quota.coupon_fen_left == 2_000

    await outcome_of(fakes, receipt.compensation_id, CompensationStatus.ISSUED)
    [given] = fakes.compensations_given
    assert (given.kind, given.amount_fen, given.student_id) == (CompensationKind.COUPON, 3_000, "S1")
    told = await notices_of(fakes, "compensation_given", 3)
    assert {n.channel for n in told} == {Channel.INBOX, Channel.EMAIL, Channel.SMS}
    assert told[0].context["compensation_reference"] == f"CPN-{receipt.compensation_id}"
    assert events(fakes)[-2:] == ["compensation.granted", "compensation.issued"]
    await published_events(fakes, "complaint.compensated")
    await stop(handle)


async def test_beyond_the_quota_a_lead_decides_and_never_the_offerer(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    waiting = await handle.execute_update(ComplaintWorkflow.compensate, coupon(8_000))
    assert waiting.status is CompensationStatus.AWAITING_APPROVAL
    assert fakes.compensations_given == []  # nothing given yet
    asked = await notices_of(fakes, "compensation_approval", 2)
    assert {(n.channel, n.recipient.user_id) for n in asked} == {
        (Channel.INBOX, "U-LEAD"),
        (Channel.STAFF_CHAT, "team"),
    }
    assert asked[0].context["quota_left_fen"] == 5_000

    with pytest.raises(WorkflowUpdateFailedError) as own:
        await handle.execute_update(
            ComplaintWorkflow.decide_compensation, decision(waiting.compensation_id, True, by="U-AGENT")
        )
    assert "not their own" in str(own.value.cause)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(ComplaintWorkflow.decide_compensation, decision("CM-NOPE-1", True))

    approved = await handle.execute_update(
        ComplaintWorkflow.decide_compensation, decision(waiting.compensation_id, True)
    )
    assert approved.status is CompensationStatus.ISSUING
    await outcome_of(fakes, waiting.compensation_id, CompensationStatus.ISSUED)
    assert [g.amount_fen for g in fakes.compensations_given] == [8_000]
    with pytest.raises(WorkflowUpdateFailedError):  # decided once, not twice
        await handle.execute_update(
            ComplaintWorkflow.decide_compensation, decision(waiting.compensation_id, False)
        )
    assert [e for e in events(fakes) if e.startswith("compensation.")] == [
        "compensation.awaiting_approval",
        "compensation.approved",
        "compensation.issued",
    ]
    await stop(handle)


async def test_a_declined_offer_gives_nothing_and_a_refused_grant_is_recorded_as_failed(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    waiting = await handle.execute_update(ComplaintWorkflow.compensate, coupon(9_000))
    declined = await handle.execute_update(
        ComplaintWorkflow.decide_compensation, decision(waiting.compensation_id, False)
    )
    assert declined.status is CompensationStatus.DECLINED
    fakes.commerce_refuses = True
    refused = await handle.execute_update(ComplaintWorkflow.compensate, coupon(1_000))
    await outcome_of(fakes, refused.compensation_id, CompensationStatus.FAILED)
    assert [g.compensation_id for g in fakes.compensations_given] == [refused.compensation_id]
    assert not [n for n in fakes.notices if n.event is NoticeEvent.COMPENSATION_GIVEN]
    assert [e for e in events(fakes) if e.startswith("compensation.")] == [
        "compensation.awaiting_approval",
        "compensation.declined",
        "compensation.granted",
        "compensation.failed",
    ]
    failed = next(o for o in fakes.compensation_outcomes if o.status is CompensationStatus.FAILED)
    assert "coupon campaign closed" in failed.failure
    await stop(handle)


async def test_the_complaint_waits_for_a_lead_before_it_is_archived(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle: WorkflowHandle = await start(env, complaint())
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    waiting = await handle.execute_update(ComplaintWorkflow.compensate, coupon(20_000))
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    with pytest.raises(WorkflowUpdateFailedError):  # only an open complaint takes offers
        await handle.execute_update(ComplaintWorkflow.compensate, coupon(100))
    await env.sleep(timedelta(hours=72, minutes=1))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    answered = await handle.execute_update(ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=True))
    assert answered.stage is ComplaintStage.FOLLOW_UP  # satisfied, but the offer is still open
    await env.sleep(timedelta(days=3))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)

    await handle.execute_update(
        ComplaintWorkflow.decide_compensation, decision(waiting.compensation_id, True)
    )
    await stage_is(handle, ComplaintStage.ARCHIVED)
    assert events(fakes)[-3:] == ["compensation.approved", "compensation.issued", "complaint.archived"]
    await handle.result()
