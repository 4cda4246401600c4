"""Premium and high-value refunds: the account manager's call before money moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.notifications import Channel
from domain.refunds import (
    ConfirmationOutcome,
    Decision,
    GatewayOutcome,
    ManagerConfirmation,
    RefundStatus,
)
from tests.workflows.refund_fakes import (
    FakeActivities,
    decision,
    notices_of,
    refund_request,
    start,
    wait_for_status,
)
from workflows.refund import RefundWorkflow


def confirmation(outcome: ConfirmationOutcome, note: str = "已电话确认，学员坚持退款") -> ManagerConfirmation:
    return ManagerConfirmation(outcome=outcome, note=note, manager_id="U-LEAD", manager_name="刘主管")


async def test_a_premium_refund_waits_for_the_managers_call_with_reminders_before_money_moves(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request(manager_call=True)
    handle = await start(env.client, request)
    with pytest.raises(WorkflowUpdateFailedError):  # no call is awaited before the approval
        await handle.execute_update(RefundWorkflow.confirm, confirmation(ConfirmationOutcome.CONFIRMED))
    receipt = await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    assert receipt.status is RefundStatus.APPROVED
    await wait_for_status(handle, RefundStatus.AWAITING_CONFIRMATION)
    assert fakes.gateway_orders == []
    call_notices = await notices_of(fakes, "refund_manager_call", 2)
    assert {n.channel for n in call_notices} == {Channel.INBOX, Channel.EMAIL}

    await env.sleep(timedelta(hours=49))  # nobody called for two days
    assert [s.event for s in fakes.events].count("confirmation.reminder") == 2
    assert fakes.gateway_orders == []
    # Each reminder reaches the team's chat, as its own message.
    overdue = [n for n in fakes.notices if n.event.value == "team_call_overdue"]
    assert [(n.channel, n.context["reminder_count"]) for n in overdue] == [
        (Channel.STAFF_CHAT, 1),
        (Channel.STAFF_CHAT, 2),
    ]
    assert overdue[0].notification_id != overdue[1].notification_id

    confirmed = await handle.execute_update(
        RefundWorkflow.confirm, confirmation(ConfirmationOutcome.CONFIRMED)
    )
    assert confirmed.status is RefundStatus.APPROVED
    with pytest.raises(WorkflowUpdateFailedError):  # once is enough
        await handle.execute_update(
            RefundWorkflow.confirm, confirmation(ConfirmationOutcome.WITHDRAWN, "改主意")
        )
    await wait_for_status(handle, RefundStatus.REFUNDING)
    assert len(fakes.gateway_orders) == 1
    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    assert (await handle.result()).status is RefundStatus.REFUNDED
    confirmed_step = next(s for s in fakes.events if s.event == "confirmation.confirmed")
    assert (confirmed_step.actor, confirmed_step.note) == ("U-LEAD", "已电话确认，学员坚持退款")


async def test_a_student_who_withdraws_on_the_call_is_refunded_nothing(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env.client, refund_request(manager_call=True))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.AWAITING_CONFIRMATION)
    withdrawn = await handle.execute_update(
        RefundWorkflow.confirm, confirmation(ConfirmationOutcome.WITHDRAWN, "学员决定继续学习")
    )
    assert withdrawn.status is RefundStatus.WITHDRAWN
    assert (await handle.result()).status is RefundStatus.WITHDRAWN
    assert fakes.gateway_orders == []
