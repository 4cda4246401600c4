"""Compensation for complaints: booked against the offerer's quota in the ledger, given by the
school's commerce system, and its outcome written back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.commerce import configured
from db import compensation_ledger
from db.engine import SessionFactory
from domain.compensation import (
    CompensationIssue,
    CompensationKind,
    CompensationOutcome,
    CompensationReservation,
    CompensationTicket,
)
from integrations.commerce import CommerceHook
from integrations.delivery import PermanentDeliveryError


class CompensationActivities:
    def __init__(self, session_factory: SessionFactory, hook: CommerceHook | None) -> None:
        self.sessions = session_factory
        self.hook = hook

    @activity.defn(name="reserve_compensation")
    def reserve_compensation(self, reservation: CompensationReservation) -> CompensationTicket:
        with self.sessions() as session, _missing_is_final():
            return compensation_ledger.reserve(session, reservation)

    @activity.defn(name="settle_compensation")
    def settle_compensation(self, outcome: CompensationOutcome) -> None:
        with self.sessions() as session, _missing_is_final():
            compensation_ledger.settle(session, outcome)

    @activity.defn(name="issue_compensation")
    async def issue_compensation(self, issue: CompensationIssue) -> str:
        """The coupon code or the reset's reference. A refusal is final: nothing was given."""
        hook = configured(self.hook)
        try:
            if issue.kind is CompensationKind.COUPON:
                assert issue.amount_fen is not None
                return await hook.issue_coupon(
                    compensation_id=issue.compensation_id,
                    student_id=issue.student_id,
                    amount_fen=issue.amount_fen,
                    reason=issue.reason,
                )
            assert issue.order_id is not None
            return await hook.reset_progress(
                compensation_id=issue.compensation_id,
                student_id=issue.student_id,
                order_id=issue.order_id,
                reason=issue.reason,
            )
        except PermanentDeliveryError as exc:
            raise ApplicationError(str(exc), type="CompensationRefused", non_retryable=True) from exc


@contextmanager
def _missing_is_final() -> Iterator[None]:
    """A person or compensation that is not in the database will not appear on a retry."""
    try:
        yield
    except LookupError as exc:
        raise ApplicationError(str(exc), type="CompensationRecordMissing", non_retryable=True) from exc
