"""WeChat Pay APIv3: signatures and encryption checked against independently built vectors, and
the client against the sandbox gateway, which speaks the protocol with dev keys."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devstack import dev_keys
from domain.courses import Gateway
from domain.refunds import GatewayOutcome, GatewayRefundOrder
from integrations.payments.base import CallbackRejected, GatewayRejected
from integrations.payments.wechatpay import (
    WechatPayConfig,
    WechatPayGateway,
    decrypt_resource,
    parse_authorization,
    platform_signed_headers,
)
from tests.integrations.gateway_peers import Peers, gateway_peers

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
APIV3_KEY = b"0123456789abcdef0123456789abcdef"


def config(peers: Peers | None = None, **changes) -> WechatPayConfig:
    keys = peers.keys if peers else None
    base = WechatPayConfig(
        mchid=dev_keys.WECHATPAY_MCHID,
        merchant_serial=dev_keys.WECHATPAY_MERCHANT_SERIAL,
        merchant_private_key=keys.wechatpay_merchant if keys else KEY,
        apiv3_key=keys.wechatpay_apiv3_key if keys else APIV3_KEY,
        platform_public_keys={
            dev_keys.WECHATPAY_PLATFORM_SERIAL: (keys.wechatpay_platform if keys else KEY).public_key()
        },
        base_url=peers.sandbox_url if peers else "http://unused",
        clock=time.time if peers else (lambda: 1_700_000_000.0),
    )
    return replace(base, **changes)


# --- constructed vectors ------------------------------------------------------------------------


def test_the_authorization_header_signs_the_documented_message() -> None:
    gateway = WechatPayGateway(config())
    header = gateway.authorization("POST", "/v3/refund/domestic/refunds", b'{"a":1}')
    fields = parse_authorization(header)
    assert header.startswith("WECHATPAY2-SHA256-RSA2048 ")
    assert (fields["mchid"], fields["timestamp"], fields["serial_no"]) == (
        dev_keys.WECHATPAY_MCHID,
        "1700000000",
        dev_keys.WECHATPAY_MERCHANT_SERIAL,
    )
    message = f"POST\n/v3/refund/domestic/refunds\n1700000000\n{fields['nonce_str']}\n" + '{"a":1}\n'
    KEY.public_key().verify(
        base64.b64decode(fields["signature"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_notification_resource_encrypted_by_the_book_decrypts() -> None:
    plaintext = {"out_refund_no": "RF1", "refund_status": "SUCCESS"}
    ciphertext = AESGCM(APIV3_KEY).encrypt(b"fdasfwqewlkja", json.dumps(plaintext).encode(), b"refund")
    resource = {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": "refund",
        "nonce": "fdasfwqewlkja",
    }
    assert decrypt_resource(APIV3_KEY, resource) == plaintext
    with pytest.raises(CallbackRejected):
        decrypt_resource(b"x" * 32, resource)
    with pytest.raises(CallbackRejected):
        decrypt_resource(APIV3_KEY, {**resource, "associated_data": "transaction"})


def _notification(refund: dict, *, mchid: str = dev_keys.WECHATPAY_MCHID) -> bytes:
    resource_plain = {"mchid": mchid, **refund}
    ciphertext = AESGCM(APIV3_KEY).encrypt(b"0123456789ab", json.dumps(resource_plain).encode(), b"refund")
    resource = {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": "refund",
        "nonce": "0123456789ab",
    }
    return json.dumps({"event_type": "REFUND.SUCCESS", "resource": resource}).encode()


REFUND = {
    "refund_id": "50000000382019052709732678859",
    "out_refund_no": "RF20261123ABCDEF0123",
    "refund_status": "SUCCESS",
    "success_time": "2026-11-23T13:29:35+08:00",
    "amount": {"total": 199900, "refund": 179910, "payer_total": 199900, "payer_refund": 179910},
}


def test_a_verified_notification_is_read_as_a_successful_refund() -> None:
    gateway = WechatPayGateway(config())
    body = _notification(REFUND)
    result = gateway.verify_callback(
        platform_signed_headers(KEY, dev_keys.WECHATPAY_PLATFORM_SERIAL, body, timestamp=1_700_000_000), body
    )
    assert (result.refund_id, result.outcome, result.refund_fen, result.total_fen) == (
        "RF20261123ABCDEF0123",
        GatewayOutcome.SUCCESS,
        179910,
        199900,
    )
    assert result.succeeded_at is not None and result.succeeded_at.utcoffset() is not None


def test_a_notification_for_another_merchant_is_refused() -> None:
    gateway = WechatPayGateway(config())
    body = _notification(REFUND, mchid="1230000109")
    headers = platform_signed_headers(KEY, dev_keys.WECHATPAY_PLATFORM_SERIAL, body, timestamp=1_700_000_000)
    with pytest.raises(CallbackRejected, match="another merchant"):
        gateway.verify_callback(headers, body)


def test_the_callback_answers_are_what_wechat_pay_expects() -> None:
    gateway = WechatPayGateway(config())
    assert gateway.callback_answer(True, "OK").status_code == 204
    refused = gateway.callback_answer(False, "bad signature")
    assert refused.status_code == 401 and json.loads(refused.body) == {
        "code": "FAIL",
        "message": "bad signature",
    }


# --- against the sandbox ------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def peers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Peers]:
    async with gateway_peers(tmp_path_factory.mktemp("wechatpay")) as running:
        yield running


def order(
    refund_id: str, refund_fen: int = 179_910, trade: str = "4200000000000000001"
) -> GatewayRefundOrder:
    return GatewayRefundOrder(
        refund_id=refund_id, order_id="O-1", gateway=Gateway.WECHATPAY, gateway_trade_no=trade,
        refund_fen=refund_fen, total_fen=199_900, reason="工作调动",
    )  # fmt: skip


async def set_fault(peers: Peers, mode: str, **extra) -> None:
    async with httpx.AsyncClient(base_url=peers.sandbox_url) as client:
        (await client.post("/sandbox/faults", json={"mode": mode, **extra})).raise_for_status()


async def ledger(peers: Peers) -> dict:
    async with httpx.AsyncClient(base_url=peers.sandbox_url) as client:
        return (await client.get("/sandbox/refunds")).json()


async def test_a_refund_is_asked_for_verified_and_reported_by_a_verifiable_notification(peers: Peers) -> None:
    gateway = WechatPayGateway(config(peers))
    notify_url = f"{peers.receiver_url}/wechatpay/notify"
    first = await gateway.request_refund(order("RFWX000001"), notify_url)
    again = await gateway.request_refund(order("RFWX000001"), notify_url)  # a retry
    assert first.outcome is GatewayOutcome.PROCESSING and again.gateway_refund_id == first.gateway_refund_id
    assert (await ledger(peers))["requests_seen"]["RFWX000001"] == 2
    for _ in range(50):
        if any(gateway_name == "wechatpay" for gateway_name, _, _ in peers.receiver.received):
            break
        await asyncio.sleep(0.1)
    [(_, headers, body)] = [r for r in peers.receiver.received if r[0] == "wechatpay"]
    result = gateway.verify_callback(headers, body)
    assert (result.refund_id, result.outcome, result.refund_fen) == (
        "RFWX000001",
        GatewayOutcome.SUCCESS,
        179_910,
    )
    queried = await gateway.query_refund("RFWX000001")
    assert queried is not None and queried.outcome is GatewayOutcome.SUCCESS and queried.source == "query"
    assert await gateway.query_refund("RFWX-NEVER-ASKED") is None


async def test_a_lost_reply_then_a_retry_refunds_once(peers: Peers) -> None:
    gateway = WechatPayGateway(config(peers))
    await set_fault(peers, "lose_response", count=1)
    with pytest.raises(RuntimeError, match="500"):
        await gateway.request_refund(
            order("RFWX000002", trade="4200000000000000002"), "http://127.0.0.1:9/none"
        )
    retried = await gateway.request_refund(
        order("RFWX000002", trade="4200000000000000002"), "http://127.0.0.1:9/none"
    )
    assert retried.refund_id == "RFWX000002"
    records = [r for r in (await ledger(peers))["refunds"] if r["out_refund_no"] == "RFWX000002"]
    assert len(records) == 1


async def test_more_than_is_left_is_refused_for_good(peers: Peers) -> None:
    gateway = WechatPayGateway(config(peers))
    trade = "4200000000000000003"
    await gateway.request_refund(
        order("RFWX000003", refund_fen=150_000, trade=trade), "http://127.0.0.1:9/none"
    )
    with pytest.raises(GatewayRejected, match="INVALID_REQUEST"):
        await gateway.request_refund(
            order("RFWX000004", refund_fen=60_000, trade=trade), "http://127.0.0.1:9/none"
        )


async def test_requests_signed_with_the_wrong_merchant_key_are_refused(peers: Peers) -> None:
    impostor = WechatPayGateway(config(peers, merchant_private_key=KEY))
    with pytest.raises(GatewayRejected, match="SIGN_ERROR"):
        await impostor.request_refund(order("RFWX000005"), "http://127.0.0.1:9/none")


async def test_an_answer_that_does_not_verify_is_not_believed(peers: Peers) -> None:
    trusting_the_wrong_key = WechatPayGateway(
        config(peers, platform_public_keys={dev_keys.WECHATPAY_PLATFORM_SERIAL: KEY.public_key()})
    )
    with pytest.raises(RuntimeError, match="unverifiable"):
        await trusting_the_wrong_key.query_refund("RFWX000001")
