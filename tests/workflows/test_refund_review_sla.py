"""Routing and the review SLA: the reviewer is reminded at the policy's reminder time, and an
overdue review is escalated to a lead (search attributes say so for the Temporal UI)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import search_attributes
from domain.refunds import Decision, RefundStatus
from tests.temporal_env import activity_priorities
from tests.workflows.refund_fakes import FakeActivities, decision, refund_request, start
from workflows.refund import RefundWorkflow


def step(fakes: FakeActivities, event: str):
    return next(s for s in fakes.events if s.event == event)


async def test_the_refund_is_assigned_with_its_due_time(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request()
    handle = await start(env.client, request)
    [asked] = fakes.assignments
    assert (asked.course_type.value, asked.refund_amount_fen, asked.student_id) == ("regular", 179_910, "S1")
    awaiting = step(fakes, "review.awaiting")
    assert (awaiting.review_group, awaiting.assigned_reviewer_id) == ("regular-courses", "U-REV")
    assert awaiting.review_due_at is not None and awaiting.review_due_at - awaiting.at == timedelta(hours=48)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.ASSIGNED_TO) == "U-REV"
    assert attributes.get(search_attributes.SLA_DUE_AT) == awaiting.review_due_at
    assert attributes.get(search_attributes.SLA_BREACHED) is False
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合条件"))
    await handle.result()
    assert "review.reminder" not in [s.event for s in fakes.events]  # decided in time: nobody reminded


async def test_an_undecided_review_is_reminded_then_escalated_to_a_lead(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env.client, refund_request())
    await env.sleep(timedelta(hours=24, minutes=1))
    assert [s.event for s in fakes.events][-1] == "review.reminder"
    [reminder] = [n for n in fakes.notices if n.event.value == "review_reminder"]
    assert (reminder.recipient.user_id, reminder.channel.value) == ("U-REV", "inbox")
    assert "review_due_at" in reminder.context and reminder.context["staff_name"] == "王审核"

    await env.sleep(timedelta(hours=24))
    escalated = step(fakes, "review.escalated")
    assert escalated.assigned_reviewer_id == "U-LEAD"
    [to_lead] = [n for n in fakes.notices if n.event.value == "review_escalated"]
    assert to_lead.recipient.user_id == "U-LEAD"
    [to_team] = [n for n in fakes.notices if n.event.value == "team_review_overdue"]
    assert (to_team.channel.value, to_team.context["lead_name"]) == ("staff_chat", "刘主管")
    # The student hears it is late and who has it now, on the policy's channels.
    to_student = [n for n in fakes.notices if n.event.value == "refund_review_late"]
    assert sorted(n.channel.value for n in to_student) == ["email", "inbox"]
    assert {n.recipient.user_id for n in to_student} == {"S1"}
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.SLA_BREACHED) is True
    assert attributes.get(search_attributes.ASSIGNED_TO) == "U-LEAD"
    # The reminder and the escalation go ahead of other queued work; the student's notice does not.
    priorities = await activity_priorities(handle)
    deadline_work = {
        "Record review.reminder",
        "review_reminder by inbox",
        "Record review.escalated",
        "review_escalated by inbox",
        "team_review_overdue by staff_chat",
    }
    assert {summary: priorities[summary] for summary in deadline_work} == {key: {1} for key in deadline_work}
    assert priorities["refund_review_late by email"] == {0}
    # Its first step waits behind refunds already under way (INTAKE_PRIORITY); the rest keep the default.
    intake = {"Record refund.requested"}
    assert {summary: priorities[summary] for summary in intake} == {key: {4} for key in intake}
    ordinary = priorities.keys() - deadline_work - intake
    assert {summary: priorities[summary] for summary in ordinary} == {key: {0} for key in ordinary}

    receipt = await handle.execute_update(
        RefundWorkflow.decide, decision(Decision.REJECT, "主管审核：不符合条件")
    )
    assert receipt.status is RefundStatus.REJECTED
    assert (await handle.result()).status is RefundStatus.REJECTED


async def test_a_group_with_nobody_in_it_still_gets_its_refund_decided(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    fakes.assignment = fakes.assignment.model_copy(update={"reviewer": None})
    handle = await start(env.client, refund_request())
    assert step(fakes, "review.awaiting").assigned_reviewer_id is None
    await env.sleep(timedelta(hours=25))
    assert not [n for n in fakes.notices if n.event.value == "review_reminder"]  # nobody to remind
    receipt = await handle.execute_update(
        RefundWorkflow.decide, decision(Decision.REJECT, "主管审核：不符合条件")
    )
    assert receipt.status is RefundStatus.REJECTED
