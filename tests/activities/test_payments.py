"""Every exchange with a gateway lands on the refund's audit trail, credentials redacted, failed
attempts included, each attempt once however often its evidence is written."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlmodel import col, select
from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities
from db.audit_log import verify_case
from db.engine import SessionFactory
from db.models import AuditEvent
from domain.courses import Gateway
from domain.redaction import REDACTED
from domain.refunds import GatewayQuery
from integrations.payments.alipay import AlipayGateway
from integrations.payments.wechatpay import WechatPayGateway
from tests.integrations import test_alipay, test_wechatpay
from tests.integrations.gateway_peers import Peers, gateway_peers


@pytest_asyncio.fixture(scope="module")
async def peers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Peers]:
    async with gateway_peers(tmp_path_factory.mktemp("payments")) as running:
        yield running


def _activities(peers: Peers, sessions: SessionFactory) -> PaymentActivities:
    gateways = {
        Gateway.WECHATPAY: WechatPayGateway(test_wechatpay.config(peers)),
        Gateway.ALIPAY: AlipayGateway(test_alipay.client(peers).config),
    }
    return PaymentActivities(gateways, "http://127.0.0.1:9", sessions)


def _refund_id() -> str:
    """Fresh per test and per database: the sandbox's ledger is shared by both runs of the module."""
    return f"RFEV{secrets.token_hex(5).upper()}"


def _trail(sessions: SessionFactory, refund_id: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.case_id == refund_id).order_by(col(AuditEvent.seq))
            )
        )


async def test_a_wechatpay_refund_request_is_kept_with_its_answer(
    peers: Peers, sessions: SessionFactory
) -> None:
    payments = _activities(peers, sessions)
    first, trade = _refund_id(), f"42{secrets.randbelow(10**17):017d}"
    env = ActivityEnvironment()
    await env.run(payments.request_gateway_refund, test_wechatpay.order(first, trade=trade))
    await env.run(payments.request_gateway_refund, test_wechatpay.order(first, trade=trade))
    [kept] = _trail(sessions, first)  # the same attempt written twice is one event
    assert kept.event == "gateway.exchange" and kept.actor == "wechatpay"
    assert kept.detail["request_headers"]["authorization"] == REDACTED
    assert kept.detail["request_body"]["out_refund_no"] == first
    assert kept.detail["request_body"]["amount"]["refund"] == 179_910
    assert kept.detail["status"] == 200 and kept.detail["response_body"]["out_refund_no"] == first
    assert kept.note == "POST /v3/refund/domestic/refunds → 200"
    assert "wechatpay_apiv3_key" not in str(kept.detail)

    env.info = dataclasses.replace(env.info, attempt=2, activity_type="query_gateway_refund")
    await env.run(payments.query_gateway_refund, GatewayQuery(refund_id=first, gateway=Gateway.WECHATPAY))
    query = _trail(sessions, first)[1]
    assert (query.seq, query.detail["method"], query.detail["attempt"]) == (2, "GET", 2)
    with sessions() as session:
        assert verify_case(session, "refund", first).broken is None


async def test_a_failed_attempt_is_evidence_too(peers: Peers, sessions: SessionFactory) -> None:
    payments = _activities(peers, sessions)
    second = _refund_id()
    await test_wechatpay.set_fault(peers, "lose_response", count=1)
    with pytest.raises(RuntimeError, match="500"):
        await ActivityEnvironment().run(
            payments.request_gateway_refund,
            test_wechatpay.order(second, trade=f"42{secrets.randbelow(10**17):017d}"),
        )
    [kept] = _trail(sessions, second)
    assert kept.detail["status"] == 500 and kept.detail["request_body"]["out_refund_no"] == second


async def test_an_alipay_form_is_kept_as_fields_with_its_signature(
    peers: Peers, sessions: SessionFactory
) -> None:
    payments = _activities(peers, sessions)
    third, trade = _refund_id(), f"ALI-{secrets.token_hex(4)}"
    await test_alipay.paid(peers, trade)
    await ActivityEnvironment().run(payments.request_gateway_refund, test_alipay.order(third, trade))
    [kept] = _trail(sessions, third)
    form = kept.detail["request_body"]
    assert form["method"] == "alipay.trade.refund" and form["sign"]  # a signature is evidence, not a secret
    assert f'"out_request_no":"{third}"' in form["biz_content"]
    assert kept.detail["response_body"]["alipay_trade_refund_response"]["code"] == "10000"
