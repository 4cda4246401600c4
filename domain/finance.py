"""Finance tasks: a refund the gateway could not complete, handed to the finance team.

Why a task is opened decides what finance may do about it:
- the gateway refused our request (e.g. the merchant balance was short): no refund exists there, so
  asking again with the same out_refund_no is safe — or finance pays the student another way;
- the gateway accepted it and then reported ABNORMAL (the student's card was closed) or CLOSED: the
  refund number is spent, so finance pays the student another way (a bank transfer) and records
  its reference.
Either way the refund stays open, and the order locked, until finance has resolved the task.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from domain.text import NO_CONTROL_CHARACTERS


class FinanceTaskKind(StrEnum):
    GATEWAY_REFUSED = "gateway_refused"
    GATEWAY_ABNORMAL = "gateway_abnormal"
    GATEWAY_CLOSED = "gateway_closed"


class FinanceTaskStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class PayoutOutcome(StrEnum):
    PAID_OFFLINE = "paid_offline"  # finance paid the student by other means; reference required
    RETRY_GATEWAY = "retry_gateway"  # ask the gateway again, with the same refund number


RETRYABLE_KINDS = frozenset({FinanceTaskKind.GATEWAY_REFUSED})


def finance_task_id(refund_id: str, attempt: int) -> str:
    return f"FT-{refund_id}-{attempt}"


class PayoutResolution(BaseModel):
    """What finance reports back on a task."""

    outcome: PayoutOutcome
    # E.g. the bank transfer number.
    reference: Annotated[str, Field(max_length=100), NO_CONTROL_CHARACTERS] | None = None
    note: Annotated[str, Field(max_length=1000), NO_CONTROL_CHARACTERS] = ""
    resolved_by: str

    @model_validator(mode="after")
    def _offline_payment_needs_reference(self) -> PayoutResolution:
        check_payout_reference(self.outcome, self.reference)
        return self


def check_payout_reference(outcome: PayoutOutcome, reference: str | None) -> None:
    if outcome is PayoutOutcome.PAID_OFFLINE and not (reference or "").strip():
        raise ValueError("a payment made outside the gateway needs its reference (e.g. the transfer number)")


def refusal_of_retry(kind: FinanceTaskKind) -> str | None:
    """Why asking the gateway again is not allowed for this kind of task, or None when it is."""
    if kind in RETRYABLE_KINDS:
        return None
    return (
        f"the gateway already settled this refund number as {kind.value.removeprefix('gateway_')}; "
        "pay the student another way and record its reference"
    )


class FinanceTaskOpening(BaseModel):
    task_id: str
    refund_id: str
    kind: FinanceTaskKind
    detail: str = ""


class FinanceTaskClosing(BaseModel):
    task_id: str
    resolution: PayoutResolution
