"""The refund intake stores what the student picked beside what they wrote."""

from __future__ import annotations

from db.engine import SessionFactory
from db.models import Refund
from db.refund_intake import take_in_refund
from domain.courses import Gateway
from domain.refund_reasons import RefundReasonCode
from domain.roles import Role
from tests.factories import make_order, make_user


def test_the_reason_code_is_stored_with_the_refund_and_may_be_left_out(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    picked, unpicked = make_order(sessions, student), make_order(sessions, student)
    with sessions() as session:
        with_code = take_in_refund(
            session=session,
            student=student,
            order_id=picked.id,
            reason="别家便宜一半",
            reason_code=RefundReasonCode.PRICE,
            requested_fen=None,
            gateways={Gateway.WECHATPAY},
        )
        without_code = take_in_refund(
            session=session,
            student=student,
            order_id=unpicked.id,
            reason="不想学了",
            requested_fen=None,
            gateways={Gateway.WECHATPAY},
        )
    with sessions() as session:
        assert session.get(Refund, with_code.refund_id).reason_code == "price"
        assert session.get(Refund, without_code.refund_id).reason_code is None
