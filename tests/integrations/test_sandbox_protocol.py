"""Signing and verification of the sandbox gateway protocol, against the running sandbox and
against vectors computed here by hand from the documented message layout."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from integrations.payments.base import CallbackRejected
from integrations.payments.sandbox import SandboxGateway, signature, verify_signed

SECRET = "test-secret"


def test_signature_is_hmac_sha256_over_timestamp_nonce_body_lines() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"test-secret", b'1700000000\nn0nce\n{"a":1}\n', hashlib.sha256).hexdigest()
    assert signature(SECRET, "1700000000", "n0nce", body) == expected


def _headers(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "X-Sandbox-Timestamp": ts,
        "X-Sandbox-Nonce": "abc",
        "X-Sandbox-Signature": signature(secret, ts, "abc", body),
    }


def test_a_valid_signature_verifies_whatever_the_header_case() -> None:
    body = b"{}"
    headers = {key.lower(): value for key, value in _headers(body).items()}
    verify_signed(SECRET, headers, body)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered body", "does not match"),
        ("wrong key", "does not match"),
        ("stale timestamp", "outside the allowed window"),
        ("missing headers", "missing signature headers"),
    ],
)
def test_forgeries_are_rejected(case: str, message: str) -> None:
    body = b'{"status":"SUCCESS"}'
    headers = _headers(body)
    if case == "tampered body":
        body = b'{"status":"SUCCESS","amount":1}'
    elif case == "wrong key":
        headers = _headers(body, secret="someone-else")
    elif case == "stale timestamp":
        headers = _headers(body, timestamp=int(time.time()) - 3600)
    elif case == "missing headers":
        headers = {}
    with pytest.raises(CallbackRejected, match=message):
        verify_signed(SECRET, headers, body)


def _callback_body(**overrides) -> bytes:
    resource = {
        "refund_id": "SB1",
        "out_refund_no": "RF1",
        "status": "SUCCESS",
        "success_time": "2026-11-23T05:00:00+00:00",
        "amount": {"refund": 100, "total": 200, "currency": "CNY"},
    }
    resource.update(overrides)
    return json.dumps({"event_type": "REFUND.SUCCESS", "resource": resource}).encode()


def test_a_verified_callback_is_read_into_a_gateway_result() -> None:
    body = _callback_body()
    result = SandboxGateway("http://unused", SECRET).verify_callback(_headers(body), body)
    assert (result.refund_id, result.refund_fen, result.total_fen) == ("RF1", 100, 200)
    assert result.outcome.value == "success" and result.source == "callback"


def test_a_signed_but_malformed_callback_is_rejected() -> None:
    body = json.dumps({"resource": {"out_refund_no": "RF1"}}).encode()
    with pytest.raises(CallbackRejected, match="malformed"):
        SandboxGateway("http://unused", SECRET).verify_callback(_headers(body), body)
