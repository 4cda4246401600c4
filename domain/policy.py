"""Refund fee per course type, from the school's published policy (the source articles):
trial 0%, regular 10%, premium per contract. Policies become editable, versioned data later; this is
the default they start from."""

from __future__ import annotations

from pydantic import BaseModel

from domain.courses import CourseType
from domain.money import fee_for
from domain.notifications import Channel

DEFAULT_FEE_BP: dict[CourseType, int] = {
    CourseType.TRIAL: 0,
    CourseType.REGULAR: 1_000,
    CourseType.PREMIUM: 0,  # per contract; until contract terms are on the order, no fee
}

DEFAULT_NOTICE_CHANNELS: tuple[Channel, ...] = (Channel.INBOX, Channel.EMAIL)


class RefundQuote(BaseModel):
    amount_paid_fen: int
    fee_bp: int
    fee_fen: int
    refund_amount_fen: int


def quote_refund(*, course_type: CourseType, amount_paid_fen: int) -> RefundQuote:
    fee_bp = DEFAULT_FEE_BP[course_type]
    fee_fen = fee_for(amount_paid_fen, fee_bp)
    return RefundQuote(
        amount_paid_fen=amount_paid_fen,
        fee_bp=fee_bp,
        fee_fen=fee_fen,
        refund_amount_fen=amount_paid_fen - fee_fen,
    )
