from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.finance import FinanceActivities
from db.engine import SessionFactory
from db.models import FinanceTask
from domain.finance import (
    FinanceTaskClosing,
    FinanceTaskKind,
    FinanceTaskOpening,
    PayoutOutcome,
    PayoutResolution,
    finance_task_id,
)
from domain.roles import Role
from tests.factories import make_order, make_refund, make_user


def test_a_task_is_opened_once_and_closed_once(sessions: SessionFactory) -> None:
    order = make_order(sessions, make_user(sessions, Role.STUDENT))
    refund = make_refund(sessions, order, status="refund_failed")
    finance = FinanceActivities(sessions)
    env = ActivityEnvironment()
    opening = FinanceTaskOpening(
        task_id=finance_task_id(refund.id, 1),
        refund_id=refund.id,
        kind=FinanceTaskKind.GATEWAY_ABNORMAL,
        detail="x" * 3000,  # a long gateway message is cut to fit, not refused
    )
    for _ in range(2):  # a retry finds the task it opened
        assert env.run(finance.open_finance_task, opening) == f"FT-{refund.id}-1"
    paid = PayoutResolution(
        outcome=PayoutOutcome.PAID_OFFLINE, reference="BANK-7", note="已转账", resolved_by="U-FIN"
    )
    env.run(finance.close_finance_task, FinanceTaskClosing(task_id=opening.task_id, resolution=paid))
    later = paid.model_copy(update={"reference": "BANK-8"})
    env.run(finance.close_finance_task, FinanceTaskClosing(task_id=opening.task_id, resolution=later))
    with sessions() as session:
        task = session.get(FinanceTask, opening.task_id)
        assert task is not None
        assert (task.status, task.outcome, task.reference, task.resolved_by) == (
            "resolved",
            "paid_offline",
            "BANK-7",  # the first answer stands
            "U-FIN",
        )
        assert len(task.detail) == 2000 and task.resolved_at is not None
