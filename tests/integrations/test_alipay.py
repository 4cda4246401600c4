"""Alipay OpenAPI: RSA2 signing content and amounts checked by hand, and the client against the
sandbox gateway."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from devstack import dev_keys
from domain.courses import Gateway
from domain.refunds import GatewayOutcome, GatewayRefundOrder
from integrations.payments.alipay import (
    AlipayConfig,
    AlipayGateway,
    fen_to_yuan,
    response_node_text,
    sign_params,
    signing_content,
    yuan_to_fen,
)
from integrations.payments.base import CallbackRejected, GatewayRejected
from tests.integrations.gateway_peers import Peers, gateway_peers

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_the_signed_content_is_sorted_non_empty_params_without_the_sign() -> None:
    params = {
        "method": "alipay.trade.refund",
        "app_id": "2021",
        "empty": "",
        "sign": "x",
        "biz_content": '{"a":1}',
    }
    content = signing_content(params, exclude=frozenset({"sign"}))
    assert content == b'app_id=2021&biz_content={"a":1}&method=alipay.trade.refund'
    signature = sign_params(KEY, params)
    KEY.public_key().verify(base64.b64decode(signature), content, padding.PKCS1v15(), hashes.SHA256())


def test_the_answer_signature_covers_the_response_object_text() -> None:
    raw = '{"alipay_trade_refund_response":{"code":"10000","msg":"Success"},"sign":"abc"}'
    assert response_node_text(raw, "alipay.trade.refund") == '{"code":"10000","msg":"Success"}'


@given(st.integers(0, 10**12))
def test_amounts_go_to_yuan_and_back_exactly(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@pytest.mark.parametrize(("text", "fen"), [("12.34", 1234), ("0.5", 50), ("7", 700), ("0.01", 1)])
def test_yuan_strings(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.234", "-1.00", "1e3", "", "１２"])
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(text)


@pytest_asyncio.fixture(scope="module")
async def peers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Peers]:
    async with gateway_peers(tmp_path_factory.mktemp("alipay")) as running:
        yield running


def client(peers: Peers, *, private_key: rsa.RSAPrivateKey | None = None) -> AlipayGateway:
    return AlipayGateway(
        AlipayConfig(
            app_id=dev_keys.ALIPAY_APP_ID,
            app_private_key=private_key or peers.keys.alipay_app,
            alipay_public_key=peers.keys.alipay_platform.public_key(),
            gateway_url=f"{peers.sandbox_url}/gateway.do",
        )
    )


def order(refund_id: str, trade: str, refund_fen: int = 50_000) -> GatewayRefundOrder:
    return GatewayRefundOrder(
        refund_id=refund_id, order_id="O-2", gateway=Gateway.ALIPAY, gateway_trade_no=trade,
        refund_fen=refund_fen, total_fen=99_900, reason="课程不合适",
    )  # fmt: skip


async def paid(peers: Peers, trade: str, total_fen: int = 99_900) -> None:
    async with httpx.AsyncClient(base_url=peers.sandbox_url) as http:
        (await http.put(f"/sandbox/trades/{trade}", params={"total_fen": total_fen})).raise_for_status()


async def test_a_refund_moves_money_once_and_is_notified_verifiably(peers: Peers) -> None:
    gateway = client(peers)
    await paid(peers, "2026112322001400001")
    first = await gateway.request_refund(order("RFALI00001", "2026112322001400001"), "unused")
    assert (first.outcome, first.refund_fen) == (GatewayOutcome.SUCCESS, 50_000)  # fund_change=Y
    again = await gateway.request_refund(order("RFALI00001", "2026112322001400001"), "unused")
    assert again.outcome is GatewayOutcome.PROCESSING  # fund_change=N: no money moved this time
    queried = await gateway.query_refund("RFALI00001")
    assert queried is not None and (queried.outcome, queried.refund_fen, queried.total_fen) == (
        GatewayOutcome.SUCCESS,
        50_000,
        99_900,
    )
    assert await gateway.query_refund("RFALI-NEVER") is None
    for _ in range(50):
        if any(name == "alipay" for name, _, _ in peers.receiver.received):
            break
        await asyncio.sleep(0.1)
    [(_, headers, body)] = [r for r in peers.receiver.received if r[0] == "alipay"]
    notified = gateway.verify_callback(headers, body)
    assert (notified.refund_id, notified.outcome, notified.refund_fen, notified.total_fen) == (
        "RFALI00001",
        GatewayOutcome.SUCCESS,
        50_000,
        99_900,
    )
    tampered = body.replace(b"send_back_fee=500.00", b"send_back_fee=999.00")
    assert tampered != body
    with pytest.raises(CallbackRejected, match="does not verify"):
        gateway.verify_callback(headers, tampered)


def test_garbage_is_not_a_notification(peers: Peers) -> None:
    gateway = client(peers)
    with pytest.raises(CallbackRejected):
        gateway.verify_callback({}, b"not a form")
    with pytest.raises(CallbackRejected, match="does not verify"):
        gateway.verify_callback({}, b"app_id=2021000000000001&out_biz_no=RF1&sign=abc")
    assert (gateway.callback_answer(True, "").body, gateway.callback_answer(False, "").body) == (
        b"success",
        b"failure",
    )


async def test_unknown_trades_and_refunds_beyond_the_payment_are_refused(peers: Peers) -> None:
    gateway = client(peers)
    with pytest.raises(GatewayRejected, match=r"ACQ\.TRADE_NOT_EXIST"):
        await gateway.request_refund(order("RFALI00002", "2026112322009999999"), "unused")
    await paid(peers, "2026112322001400002", total_fen=60_000)
    await gateway.request_refund(order("RFALI00003", "2026112322001400002", refund_fen=50_000), "unused")
    with pytest.raises(GatewayRejected, match=r"ACQ\.REFUND_AMT_NOT_EQUAL_TOTAL"):
        await gateway.request_refund(order("RFALI00004", "2026112322001400002", refund_fen=20_000), "unused")


async def test_a_request_signed_by_someone_else_is_refused(peers: Peers) -> None:
    with pytest.raises(GatewayRejected, match=r"isv\.invalid-signature"):
        await client(peers, private_key=KEY).request_refund(
            order("RFALI00005", "2026112322001400001"), "unused"
        )
