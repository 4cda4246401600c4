"""The compensation desk of one complaint (inside ComplaintWorkflow): books each offer against the
offerer's quota, keeps the offers that wait for a lead, and has the commerce system give what was
granted — beside the main path, so a slow commerce system never holds the complaint up.
Deterministic code only: this runs inside the workflow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.messenger import NOTICE_DEADLINE, NOTICE_RETRY, RECORD_RETRY, RECORD_TIMEOUT, CaseMessenger

with workflow.unsafe.imports_passed_through():
    from activities.compensation import CompensationActivities
    from domain.compensation import (
        CompensationDecision,
        CompensationIssue,
        CompensationKind,
        CompensationOffer,
        CompensationOutcome,
        CompensationReservation,
        CompensationStatus,
        CompensationTicket,
    )
    from domain.notifications import NoticeEvent, Recipient
    from domain.webhooks import OutboundEventType

ISSUE_TIMEOUT = RECORD_TIMEOUT


class Recorder(Protocol):
    def __call__(self, event: str, *, actor: str, note: str = "", **fields: Any) -> Awaitable[None]: ...


class CompensationDesk:
    def __init__(
        self,
        *,
        complaint_id: str,
        student_id: str,
        messenger: CaseMessenger,
        record: Recorder,
        context: Callable[[], dict[str, Any]],
        publish: Callable[..., None],
    ) -> None:
        self.complaint_id = complaint_id
        self.student_id = student_id
        self.messenger = messenger
        self.record = record  # a step on the complaint's timeline, its stage unchanged
        self.context = context  # the complaint's notice variables, as they are now
        self.publish = publish
        self.offers = 0
        self.awaiting: dict[str, CompensationOffer] = {}  # compensation id → offer a lead decides
        self.giving = 0  # grants the commerce system has not confirmed yet

    @property
    def settled(self) -> bool:
        """Nothing waits for a lead and nothing is still being given: the complaint may close."""
        return not self.awaiting and self.giving == 0

    async def offer(self, offer: CompensationOffer, lead: Recipient | None) -> CompensationTicket:
        self.offers += 1
        compensation_id = f"CM-{self.complaint_id}-{self.offers}"
        ticket: CompensationTicket = await workflow.execute_activity_method(
            CompensationActivities.reserve_compensation,
            CompensationReservation(
                compensation_id=compensation_id,
                complaint_id=self.complaint_id,
                student_id=self.student_id,
                offer=offer,
                at=workflow.now(),
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"Book a {offer.kind.value} against {offer.by}'s quota",
        )
        if ticket.status is CompensationStatus.ISSUING:
            self.giving += 1
            await self.record(
                "compensation.granted",
                actor=offer.by,
                note=offer.reason,
                detail=_detail(compensation_id, offer),
            )
            self.messenger.spawn(self._given(compensation_id, offer))
            return ticket
        self.awaiting[compensation_id] = offer
        await self.record(
            "compensation.awaiting_approval",
            actor=offer.by,
            note=offer.reason,
            detail={**_detail(compensation_id, offer), "coupon_fen_left": ticket.quota.coupon_fen_left},
        )
        asking = {
            **self.context(),
            **_notice_variables(compensation_id, offer),
            "offered_by": offer.by_name,
            "quota_left_fen": ticket.quota.coupon_fen_left,
        }
        if lead is not None:
            self.messenger.to_staff(NoticeEvent.COMPENSATION_APPROVAL, lead, asking)
        self.messenger.to_team(
            NoticeEvent.COMPENSATION_APPROVAL, {**asking, "staff_name": lead.name if lead else "—"}
        )
        return ticket

    def refusal_of(self, decision: CompensationDecision) -> str | None:
        """Why this decision cannot be taken, or None."""
        offer = self.awaiting.get(decision.compensation_id)
        if offer is None:
            return f"compensation {decision.compensation_id} does not wait for a decision on this complaint"
        if offer.by == decision.by:
            return "a lead decides on someone else's offer, not their own"
        return None

    async def decide(self, decision: CompensationDecision) -> CompensationStatus:
        offer = self.awaiting.pop(decision.compensation_id)
        if decision.approve:
            self.giving += 1  # from this moment, so the complaint cannot close in between
        status = CompensationStatus.ISSUING if decision.approve else CompensationStatus.DECLINED
        await self._settle(
            decision.compensation_id, status, decided_by=decision.by, decision_note=decision.note or None
        )
        await self.record(
            "compensation.approved" if decision.approve else "compensation.declined",
            actor=decision.by,
            note=decision.note,
            detail=_detail(decision.compensation_id, offer),
        )
        if decision.approve:
            self.messenger.spawn(self._given(decision.compensation_id, offer))
        return status

    async def _given(self, compensation_id: str, offer: CompensationOffer) -> None:
        """Runs beside the main path; `giving` was counted up when the grant was made."""
        try:
            await self._ask_commerce(compensation_id, offer)
        finally:
            self.giving -= 1

    async def _ask_commerce(self, compensation_id: str, offer: CompensationOffer) -> None:
        """Ask the commerce system (for two days, if it is down), then record what it said."""
        try:
            reference = await workflow.execute_activity_method(
                CompensationActivities.issue_compensation,
                CompensationIssue(
                    compensation_id=compensation_id,
                    kind=offer.kind,
                    student_id=self.student_id,
                    amount_fen=offer.amount_fen,
                    order_id=offer.order_id,
                    reason=offer.reason,
                ),
                start_to_close_timeout=ISSUE_TIMEOUT,
                schedule_to_close_timeout=NOTICE_DEADLINE,
                retry_policy=NOTICE_RETRY,
                summary=f"Give {compensation_id}",
            )
        except ActivityError as exc:
            failure = str(exc.cause or exc)[:500]
            await self._settle(compensation_id, CompensationStatus.FAILED, failure=failure)
            await self.record(
                "compensation.failed", actor="system", note=failure, detail=_detail(compensation_id, offer)
            )
            return
        await self._settle(compensation_id, CompensationStatus.ISSUED, external_ref=reference)
        await self.record(
            "compensation.issued",
            actor="system",
            note=reference,
            detail={**_detail(compensation_id, offer), "reference": reference},
        )
        self.messenger.to_student(
            NoticeEvent.COMPENSATION_GIVEN,
            {**self.context(), **_notice_variables(compensation_id, offer, reference)},
        )
        self.publish(
            OutboundEventType.COMPLAINT_COMPENSATED,
            compensation_id=compensation_id,
            kind=offer.kind.value,
            amount_fen=offer.amount_fen,
        )

    async def _settle(self, compensation_id: str, status: CompensationStatus, **fields: Any) -> None:
        await workflow.execute_activity_method(
            CompensationActivities.settle_compensation,
            CompensationOutcome(compensation_id=compensation_id, status=status, at=workflow.now(), **fields),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"{compensation_id}: {status.value}",
        )


def _detail(compensation_id: str, offer: CompensationOffer) -> dict[str, Any]:
    detail: dict[str, Any] = {"compensation_id": compensation_id, "kind": offer.kind.value}
    if offer.kind is CompensationKind.COUPON:
        detail["amount_fen"] = offer.amount_fen
    else:
        detail["order_id"] = offer.order_id
    return detail


def _notice_variables(compensation_id: str, offer: CompensationOffer, reference: str = "") -> dict[str, Any]:
    return {
        "compensation_id": compensation_id,
        "compensation_kind": offer.kind.value,
        "compensation_amount_fen": offer.amount_fen,
        "compensation_reference": reference,
        "compensation_reason": offer.reason,
        "course_name": offer.course_name or "",
    }
