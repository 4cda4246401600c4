"""RefundWorkflow on the time-skipping test server, with its activities replaced by fakes that keep
a record of what they were asked to do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import expected_arrival
from domain.courses import Gateway
from domain.finance import FinanceTaskKind, PayoutOutcome, PayoutResolution
from domain.notifications import Channel, NoticeEvent
from domain.policy import Eligibility
from domain.refunds import (
    Decision,
    GatewayOutcome,
    RefundState,
    RefundStatus,
)
from domain.webhooks import OutboundEventType
from tests.workflows.refund_fakes import (
    TASK_QUEUE,
    FakeActivities,
    decision,
    notice_events,
    notices_of,
    refund_request,
    start,
    timers_started,
    wait_for_status,
)
from workflows.refund import RefundWorkflow


async def test_approved_refund_is_refunded_only_on_the_gateway_callback(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request()
    handle = await start(env.client, request)
    receipt = await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    assert receipt.status is RefundStatus.APPROVED
    await wait_for_status(handle, RefundStatus.REFUNDING)
    [order] = fakes.gateway_orders
    assert (order.refund_id, order.refund_fen, order.total_fen) == (request.refund_id, 179_910, 199_900)

    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    final: RefundState = await handle.result()
    assert final.status is RefundStatus.REFUNDED
    assert [step.event for step in fakes.events] == [
        "refund.requested",
        "review.awaiting",
        "review.approved",
        "gateway.requested",
        "gateway.succeeded",
        "enrollment.revoked",  # the course is no longer the student's
    ]
    [revocation] = fakes.revocations
    assert (revocation.refund_id, revocation.order_id, revocation.course_id) == (
        request.refund_id,
        "O-1",
        "C1",
    )
    succeeded = next(s for s in fakes.events if s.event == "gateway.succeeded")
    assert succeeded.at == datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # the gateway's time of success
    assert len({step.event_key for step in fakes.events}) == len(fakes.events)
    assert notice_events(fakes) == sorted(
        [
            (event, channel)
            for event in ("refund_received", "refund_approved", "refund_succeeded")
            for channel in ("inbox", "email")
        ]
        + [("team_refund_paid", "staff_chat")]
    )
    succeeded = next(n for n in fakes.notices if n.event.value == "refund_succeeded")
    assert succeeded.context["refunded_at"] == "2026-11-24T03:00:00+00:00"
    assert succeeded.context["refund_amount_fen"] == 179_910
    assert not fakes.queries  # the callback came in time: no need to ask
    approval = next(n for n in fakes.notices if n.event.value == "refund_approved")
    approved_at = next(s.at for s in fakes.events if s.event == "review.approved")
    assert (
        approval.context["expected_arrival"] == expected_arrival(Gateway.WECHATPAY, approved_at).isoformat()
    )


async def test_rejected_refund_tells_the_student_why_and_never_touches_the_gateway(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env.client, refund_request())
    receipt = await handle.execute_update(
        RefundWorkflow.decide, decision(Decision.REJECT, "课程已过半，超出退款期限")
    )
    assert receipt.status is RefundStatus.REJECTED
    final: RefundState = await handle.result()
    assert final.status is RefundStatus.REJECTED
    assert fakes.gateway_orders == []
    rejected = fakes.events[-1]
    assert (rejected.event, rejected.decision_reason, rejected.decided_by) == (
        "review.rejected",
        "课程已过半，超出退款期限",
        "U-REV",
    )
    rejection_notices = [n for n in fakes.notices if n.event.value == "refund_rejected"]
    assert {n.channel for n in rejection_notices} == {Channel.INBOX, Channel.EMAIL}
    assert all(n.context["decision_reason"] == "课程已过半，超出退款期限" for n in rejection_notices)


async def test_a_second_decision_is_refused_before_it_reaches_history(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request()
    handle = await start(env.client, request)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "改主意了"))
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "InvalidRefundState"
    history = await handle.fetch_history()
    accepted_updates = [
        e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted_updates) == 1
    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    assert (await handle.result()).status is RefundStatus.REFUNDED


async def test_without_a_callback_the_query_api_finishes_the_refund(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    fakes.query_answer = GatewayOutcome.SUCCESS
    handle = await start(env.client, refund_request())
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    final: RefundState = await handle.result()  # time skips to the first poll, one minute later
    assert final.status is RefundStatus.REFUNDED
    assert len(fakes.queries) == 1
    # The review's reminder timer (cut short by the decision), then one wait for the callback.
    assert await timers_started(handle) == [timedelta(hours=24), timedelta(minutes=1)]
    assert next(s for s in fakes.events if s.event == "gateway.succeeded").detail == {"source": "query"}


async def test_the_query_api_backs_off_while_the_gateway_is_still_processing(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    fakes.query_answer = GatewayOutcome.PROCESSING
    request = refund_request()
    handle = await start(env.client, request)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await env.sleep(timedelta(minutes=1 + 5 + 10) + timedelta(seconds=30))
    assert len(fakes.queries) == 3  # at +1, +6 and +16 minutes
    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    assert (await handle.result()).status is RefundStatus.REFUNDED
    # The fourth wait was cut short by the callback.
    assert await timers_started(handle) == [timedelta(hours=24)] + [
        timedelta(minutes=m) for m in (1, 5, 10, 20)
    ]
    events = (await handle.fetch_history()).events
    took = events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()
    assert timedelta(minutes=16) < took < timedelta(minutes=17)


async def test_a_callback_that_does_not_match_is_recorded_and_not_applied(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request()
    handle = await start(env.client, request)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.REFUNDING)
    wrong_amount = fakes.result(request.refund_id, 199_900, 199_900, GatewayOutcome.SUCCESS, "callback")
    await handle.signal(RefundWorkflow.gateway_result, wrong_amount)
    for _ in range(100):
        if any(step.event == "gateway.mismatch_ignored" for step in fakes.events):
            break
        await asyncio.sleep(0.05)
    state: RefundState = await handle.query(RefundWorkflow.state)
    assert state.status is RefundStatus.REFUNDING
    assert any(step.event == "gateway.mismatch_ignored" for step in fakes.events)

    right = fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback")
    await handle.signal(RefundWorkflow.gateway_result, right)
    await handle.signal(RefundWorkflow.gateway_result, right)  # a duplicate callback is harmless
    assert (await handle.result()).status is RefundStatus.REFUNDED
    assert [s.event for s in fakes.events].count("gateway.succeeded") == 1
    assert [n.event.value for n in fakes.notices].count("refund_succeeded") == 2  # inbox + email, once each


async def wait_for_event(fakes: FakeActivities, event: str) -> None:
    for _ in range(200):
        if any(step.event == event for step in fakes.events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event} never recorded; saw {[s.event for s in fakes.events]}")


async def test_a_refused_refund_goes_to_finance_who_may_have_the_gateway_asked_again(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    fakes.gateway_refuses = True
    request = refund_request()
    handle = await start(env.client, request)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_event(fakes, "finance.task_opened")
    assert (await handle.query(RefundWorkflow.state)).status is RefundStatus.REFUND_FAILED
    refused = next(step for step in fakes.events if step.event == "gateway.refused")
    assert "trade closed" in refused.note
    [task] = fakes.finance_opened
    assert (task.task_id, task.kind) == (f"FT-{request.refund_id}-1", FinanceTaskKind.GATEWAY_REFUSED)
    assert "trade closed" in task.detail
    # The student hears of the delay; the team hears of the task, on staff chat (beside the path).
    delayed = await notices_of(fakes, "refund_delayed", 2)
    assert sorted(n.channel.value for n in delayed) == ["email", "inbox"]
    [stuck] = await notices_of(fakes, "team_refund_stuck", 1)
    assert (stuck.channel, stuck.recipient.user_id) == (Channel.STAFF_CHAT, "team")
    assert stuck.context["finance_task_id"] == task.task_id

    fakes.gateway_refuses = False  # finance topped up the merchant balance
    receipt = await handle.execute_update(
        RefundWorkflow.resolve_payout,
        PayoutResolution(outcome=PayoutOutcome.RETRY_GATEWAY, note="余额已补足", resolved_by="U-FIN"),
    )
    assert receipt.status in (RefundStatus.APPROVED, RefundStatus.REFUNDING)
    await wait_for_status(handle, RefundStatus.REFUNDING)
    first, second = fakes.gateway_orders
    assert first == second  # the same out_refund_no: the gateway can never pay it twice
    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    assert (await handle.result()).status is RefundStatus.REFUNDED
    [closed] = fakes.finance_closed
    assert (closed.task_id, closed.resolution.outcome) == (task.task_id, PayoutOutcome.RETRY_GATEWAY)
    assert [s.event for s in fakes.events][-4:] == [
        "finance.retry_gateway",
        "gateway.requested",
        "gateway.succeeded",
        "enrollment.revoked",
    ]


async def test_an_abnormal_refund_is_paid_by_finance_outside_the_gateway(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request()
    handle = await start(env.client, request)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.REFUNDING)
    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.ABNORMAL, "callback"),
    )
    await wait_for_event(fakes, "finance.task_opened")
    [task] = fakes.finance_opened
    assert task.kind is FinanceTaskKind.GATEWAY_ABNORMAL

    # The refund number is spent at the gateway: asking it again is refused before history.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            RefundWorkflow.resolve_payout,
            PayoutResolution(outcome=PayoutOutcome.RETRY_GATEWAY, resolved_by="U-FIN"),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "InvalidRefundState"
    assert len(fakes.gateway_orders) == 1

    receipt = await handle.execute_update(
        RefundWorkflow.resolve_payout,
        PayoutResolution(
            outcome=PayoutOutcome.PAID_OFFLINE,
            reference="BANK-20261124-0001",
            note="学员提供新卡，已银行转账",
            resolved_by="U-FIN",
        ),
    )
    assert receipt.status is RefundStatus.REFUNDED
    assert (await handle.result()).status is RefundStatus.REFUNDED
    paid = next(step for step in fakes.events if step.event == "finance.paid_offline")
    assert (paid.actor, paid.detail) == ("U-FIN", {"reference": "BANK-20261124-0001"})
    succeeded = [n for n in fakes.notices if n.event is NoticeEvent.REFUND_SUCCEEDED]
    assert {n.channel for n in succeeded} == {Channel.INBOX, Channel.EMAIL}
    assert all(n.context["payout_reference"] == "BANK-20261124-0001" for n in succeeded)
    assert [n.event for n in fakes.notices if n.channel is Channel.STAFF_CHAT] == [
        NoticeEvent.TEAM_REFUND_STUCK,
        NoticeEvent.TEAM_REFUND_PAID,
    ]
    refunded = next(e for e in fakes.published if e.type is OutboundEventType.REFUND_REFUNDED)
    assert refunded.data["paid_outside_gateway"] is True
    assert len(fakes.revocations) == 1
    assert [c.task_id for c in fakes.finance_closed] == [task.task_id]


async def test_finance_is_reminded_daily_on_staff_chat_while_a_task_is_open(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    fakes.gateway_refuses = True
    handle = await start(env.client, refund_request())
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_event(fakes, "finance.task_opened")
    await env.sleep(timedelta(days=2, hours=1))
    stuck = [n for n in fakes.notices if n.event is NoticeEvent.TEAM_REFUND_STUCK]
    assert [n.context["reminder_count"] for n in stuck] == [0, 1, 2]
    assert len({n.notification_id for n in stuck}) == 3  # each reminder is its own message
    await handle.execute_update(
        RefundWorkflow.resolve_payout,
        PayoutResolution(outcome=PayoutOutcome.PAID_OFFLINE, reference="BANK-1", resolved_by="U-FIN"),
    )
    assert (await handle.result()).status is RefundStatus.REFUNDED


async def test_a_payout_resolution_without_a_finance_task_is_refused(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env.client, refund_request())
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            RefundWorkflow.resolve_payout,
            PayoutResolution(outcome=PayoutOutcome.PAID_OFFLINE, reference="BANK-1", resolved_by="U-FIN"),
        )
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    assert (await handle.result()).status is RefundStatus.REJECTED
    assert fakes.finance_opened == []


async def test_each_step_is_published_to_webhook_subscribers(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request()
    handle = await start(env.client, request)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.REFUNDING)
    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    await handle.result()
    assert [e.type for e in fakes.published] == [
        OutboundEventType.REFUND_REQUESTED,
        OutboundEventType.REFUND_APPROVED,
        OutboundEventType.REFUND_REFUNDED,
    ]
    refunded = fakes.published[-1]
    assert refunded.data["status"] == "refunded"
    assert refunded.data["student_id"] == "S1" and refunded.data["refunded_at"]
    assert refunded.data["paid_outside_gateway"] is False
    assert len({e.id for e in fakes.published}) == 3
    assert sorted(fakes.webhook_deliveries) == sorted(f"{e.id}:crm" for e in fakes.published)
    [paid] = [n for n in fakes.notices if n.channel is Channel.STAFF_CHAT]
    assert paid.event is NoticeEvent.TEAM_REFUND_PAID


async def test_an_undeliverable_email_does_not_hold_up_the_refund(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    fakes.email_refused = True
    handle = await start(env.client, refund_request())
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    assert (await handle.result()).status is RefundStatus.REJECTED


async def test_a_student_without_email_is_told_in_the_inbox_only(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env.client, refund_request(email=None))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    await handle.result()
    assert {n.channel for n in fakes.notices} == {Channel.INBOX}


async def test_a_request_outside_the_window_is_rejected_at_once_with_the_policys_reason(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    why = "很抱歉，本课程的退款期限已于 2026-11-20 10:00 结束"
    request = refund_request(eligibility=Eligibility.INELIGIBLE, reason_text=why)
    handle = await env.client.start_workflow(
        RefundWorkflow.run, request, id=f"refund-{request.refund_id}", task_queue=TASK_QUEUE
    )
    final: RefundState = await handle.result()  # no reviewer involved
    assert final.status is RefundStatus.REJECTED
    assert [(s.event, s.actor, s.decision_reason) for s in fakes.events] == [
        ("refund.requested", "S1", None),
        ("review.rejected_by_policy", "policy", why),
    ]
    assert fakes.events[0].detail == {"eligibility": "ineligible", "policy_version": 1}
    assert {n.event.value for n in fakes.notices} == {"refund_rejected"}  # the answer is the rejection
    assert all(n.context["decision_reason"] == why for n in fakes.notices)
    assert fakes.gateway_orders == []


async def test_an_exception_goes_to_a_reviewer_with_the_reason_it_was_flagged(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    why = "您的合同退款条款需要由专人核对"
    handle = await start(env.client, refund_request(eligibility=Eligibility.EXCEPTION, reason_text=why))
    awaiting = fakes.events[-1]
    assert (awaiting.event, awaiting.note) == ("review.awaiting", why)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "合同约定不可退"))
    assert (await handle.result()).status is RefundStatus.REJECTED


async def test_sms_goes_out_when_the_policy_names_it_and_the_student_has_a_phone(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env.client, refund_request(phone="13800138000"))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    await handle.result()
    sms = [n for n in fakes.notices if n.channel is Channel.SMS]
    assert sorted(n.event.value for n in sms) == ["refund_received", "refund_rejected"]
    assert all(n.recipient.phone == "13800138000" for n in sms)


async def test_a_decision_arriving_before_the_workflow_sees_its_own_write_is_accepted(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    """The database may say awaiting_review a moment before the workflow does: a reviewer who acts
    in that moment must not get a 409."""
    fakes.record_seconds = 0.5  # the update arrives while the first write is still in flight
    request = refund_request()
    handle = await env.client.start_workflow(
        RefundWorkflow.run, request, id=f"refund-{request.refund_id}", task_queue=TASK_QUEUE
    )
    assert (await handle.query(RefundWorkflow.state)).status is RefundStatus.REQUESTED
    receipt = await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    assert receipt.status is RefundStatus.REJECTED
    assert [s.event for s in fakes.events] == ["refund.requested", "review.awaiting", "review.rejected"]


async def test_a_policy_rejection_cannot_be_overruled_by_a_late_decision(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request(eligibility=Eligibility.INELIGIBLE, reason_text="已超过退款期限")
    handle = await env.client.start_workflow(
        RefundWorkflow.run, request, id=f"refund-{request.refund_id}", task_queue=TASK_QUEUE
    )
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    assert (await handle.result()).status is RefundStatus.REJECTED
