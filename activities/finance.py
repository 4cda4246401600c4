"""Opens and closes finance tasks (domain/finance.py) for the refund workflow."""

from __future__ import annotations

from temporalio import activity

from db.engine import SessionFactory
from db.models import FinanceTask
from domain.finance import FinanceTaskClosing, FinanceTaskOpening, FinanceTaskStatus
from domain.timeutil import utcnow

DETAIL_LIMIT = 2000


class FinanceActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self.sessions = session_factory

    @activity.defn(name="open_finance_task")
    def open_finance_task(self, opening: FinanceTaskOpening) -> str:
        """Idempotent: the task id is deterministic, so a retry finds the task it opened."""
        with self.sessions() as session:
            if session.get(FinanceTask, opening.task_id) is None:
                session.add(
                    FinanceTask(
                        id=opening.task_id,
                        refund_id=opening.refund_id,
                        kind=opening.kind.value,
                        status=FinanceTaskStatus.OPEN.value,
                        detail=opening.detail[:DETAIL_LIMIT],
                    )
                )
                session.commit()
        return opening.task_id

    @activity.defn(name="close_finance_task")
    def close_finance_task(self, closing: FinanceTaskClosing) -> None:
        resolution = closing.resolution
        with self.sessions() as session:
            task = session.get(FinanceTask, closing.task_id)
            if task is None or task.status == FinanceTaskStatus.RESOLVED.value:
                return
            task.status = FinanceTaskStatus.RESOLVED.value
            task.outcome = resolution.outcome.value
            task.reference = resolution.reference
            task.note = resolution.note
            task.resolved_by = resolution.resolved_by
            task.resolved_at = utcnow()
            session.add(task)
            session.commit()
