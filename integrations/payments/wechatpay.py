"""WeChat Pay API v3 (微信支付 APIv3): domestic refunds.

- Requests are signed with the merchant's RSA private key: SHA256-RSA over
  "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n", sent as `Authorization: WECHATPAY2-SHA256-RSA2048
  mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`.
- Answers and notifications are signed by the platform: SHA256-RSA over
  "TIMESTAMP\\nNONCE\\nBODY\\n" (the raw body), in the Wechatpay-Timestamp / -Nonce / -Signature /
  -Serial headers; the serial names which platform public key verifies it.
- A notification's `resource` is encrypted with AEAD_AES_256_GCM under the merchant's APIv3 key.

The merchant's refund number `out_refund_no` is our refund id, sent unchanged on every retry, so
WeChat Pay refunds once however often we ask.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.refunds import GatewayOutcome, GatewayRefundOrder, GatewayRefundResult
from integrations.http_client import outbound_client
from integrations.payments.base import CallbackAnswer, CallbackRefusal, CallbackRejected, GatewayRejected
from integrations.payments.exchange_log import exchange_hooks

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
REFUNDS_PATH = "/v3/refund/domestic/refunds"
# A notification or answer stamped further than this from now is refused: no replays from the past.
MAX_CLOCK_SKEW_SECONDS = 300
# WeChat Pay error codes after which asking again cannot succeed (the others are worth retrying:
# SYSTEM_ERROR, FREQUENCY_LIMITED, NOT_ENOUGH — the merchant's balance may be topped up).
PERMANENT_ERROR_CODES = frozenset(
    {
        "PARAM_ERROR",
        "INVALID_REQUEST",
        "NO_AUTH",
        "SIGN_ERROR",
        "MCH_NOT_EXISTS",
        "RESOURCE_NOT_EXISTS",
        "USER_ACCOUNT_ABNORMAL",
    }
)
_STATUS_TO_OUTCOME = {
    "PROCESSING": GatewayOutcome.PROCESSING,
    "SUCCESS": GatewayOutcome.SUCCESS,
    "ABNORMAL": GatewayOutcome.ABNORMAL,
    "CLOSED": GatewayOutcome.CLOSED,
}


# --- the cryptography, shared by the client, the sandbox and the tests -----------------------------


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature_b64, validate=True), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def request_message(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method}\n{path_with_query}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def platform_signed_headers(
    private_key: rsa.RSAPrivateKey, serial: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The Wechatpay-* headers the platform puts on an answer or a notification (the sandbox
    gateway's side of the protocol, and the tests')."""
    stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), secrets.token_hex(16)
    return {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature": rsa_sign(private_key, response_message(stamp, nonce, body)),
    }


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of a `WECHATPAY2-SHA256-RSA2048 k="v",…` header; raises ValueError if malformed."""
    schema, _, rest = header.partition(" ")
    if schema != SCHEMA:
        raise ValueError("unknown authorization schema")
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        if not value.startswith('"') or not value.endswith('"'):
            raise ValueError("malformed authorization field")
        fields[key] = value[1:-1]
    return fields


def encrypt_resource(
    apiv3_key: bytes, plaintext: dict[str, Any], *, associated_data: str = "refund"
) -> dict[str, str]:
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay sends
    ciphertext = AESGCM(apiv3_key).encrypt(
        nonce.encode(), json.dumps(plaintext, ensure_ascii=False).encode(), associated_data.encode()
    )
    return {
        "original_type": "refund",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def decrypt_resource(apiv3_key: bytes, resource: dict[str, Any]) -> dict[str, Any]:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise CallbackRejected(
            CallbackRefusal.UNDECRYPTABLE, f"unsupported algorithm {resource.get('algorithm')!r}"
        )
    try:
        plaintext = AESGCM(apiv3_key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(resource["ciphertext"]),
            str(resource.get("associated_data") or "").encode(),
        )
        return json.loads(plaintext)
    except (InvalidTag, KeyError, ValueError) as exc:
        raise CallbackRejected(
            CallbackRefusal.UNDECRYPTABLE, "the resource does not decrypt under our APIv3 key"
        ) from exc


# --- the client ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WechatPayConfig:
    mchid: str
    merchant_serial: str
    merchant_private_key: rsa.RSAPrivateKey
    apiv3_key: bytes  # 32 bytes
    platform_public_keys: dict[str, rsa.RSAPublicKey]  # by serial
    base_url: str = "https://api.mch.weixin.qq.com"
    timeout_seconds: float = 10.0
    clock: Any = field(default=time.time, repr=False)


def result_from_refund(refund: dict[str, Any], *, source: str) -> GatewayRefundResult:
    """Read a WeChat Pay refund object (an answer, or a decrypted notification resource)."""
    try:
        status = (
            refund.get("status") or refund["refund_status"]
        )  # answers say status, notifications refund_status
        succeeded_at = refund.get("success_time")
        return GatewayRefundResult(
            refund_id=refund["out_refund_no"],
            gateway_refund_id=refund["refund_id"],
            outcome=_STATUS_TO_OUTCOME[status],
            refund_fen=int(refund["amount"]["refund"]),
            total_fen=int(refund["amount"]["total"]),
            succeeded_at=datetime.fromisoformat(succeeded_at) if succeeded_at else None,
            source=source,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CallbackRejected(CallbackRefusal.MALFORMED, f"malformed refund object: {exc!r}") from exc


class WechatPayGateway:
    def __init__(self, config: WechatPayConfig) -> None:
        self.config = config

    # -- signing and verifying -----------------------------------------------------------------

    def authorization(self, method: str, path_with_query: str, body: bytes) -> str:
        config = self.config
        timestamp, nonce = str(int(config.clock())), secrets.token_hex(16)
        signature = rsa_sign(
            config.merchant_private_key, request_message(method, path_with_query, timestamp, nonce, body)
        )
        return (
            f'{SCHEMA} mchid="{config.mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{config.merchant_serial}"'
        )

    def verify_platform_signature(self, headers: dict[str, str], body: bytes) -> None:
        """Raise CallbackRejected unless headers carry a fresh platform signature of body."""
        lowered = {key.lower(): value for key, value in headers.items()}
        timestamp = lowered.get("wechatpay-timestamp")
        nonce = lowered.get("wechatpay-nonce")
        signature = lowered.get("wechatpay-signature")
        serial = lowered.get("wechatpay-serial")
        if not (timestamp and nonce and signature and serial):
            raise CallbackRejected(CallbackRefusal.UNSIGNED, "missing Wechatpay-* signature headers")
        public_key = self.config.platform_public_keys.get(serial)
        if public_key is None:
            raise CallbackRejected(CallbackRefusal.UNKNOWN_KEY, f"unknown platform key serial {serial}")
        try:
            skew = abs(self.config.clock() - int(timestamp))
        except ValueError as exc:
            raise CallbackRejected(CallbackRefusal.MALFORMED, "Wechatpay-Timestamp is not a number") from exc
        if skew > MAX_CLOCK_SKEW_SECONDS:
            raise CallbackRejected(CallbackRefusal.STALE, "Wechatpay-Timestamp is outside the allowed window")
        if not rsa_verify(public_key, response_message(timestamp, nonce, body), signature):
            raise CallbackRejected(CallbackRefusal.BAD_SIGNATURE, "Wechatpay-Signature does not verify")

    # -- the refund API --------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        headers = {
            "Authorization": self.authorization(method, path, body),
            "Accept": "application/json",
            "User-Agent": "aftercare/0.1",
        }
        if body:
            headers["Content-Type"] = "application/json"
        async with outbound_client(
            base_url=self.config.base_url, timeout=self.config.timeout_seconds, event_hooks=exchange_hooks()
        ) as client:
            response = await client.request(method, path, content=body, headers=headers)
        if response.status_code < 500:
            # An answer we cannot verify may be forged or garbled: raise (transient) and ask again;
            # out_refund_no makes asking again safe.
            try:
                self.verify_platform_signature(dict(response.headers), response.content)
            except CallbackRejected as exc:
                raise RuntimeError(f"unverifiable WeChat Pay answer ({response.status_code}): {exc}") from exc
        return response

    @staticmethod
    def _error_code(response: httpx.Response) -> str:
        try:
            return str(response.json().get("code", ""))
        except ValueError:
            return ""

    async def request_refund(self, order: GatewayRefundOrder, notify_url: str) -> GatewayRefundResult:
        body = json.dumps(
            {
                "transaction_id": order.gateway_trade_no,
                "out_refund_no": order.refund_id,
                "reason": order.reason[:80],
                "notify_url": notify_url,
                "amount": {"refund": order.refund_fen, "total": order.total_fen, "currency": "CNY"},
            },
            ensure_ascii=False,
        ).encode()
        response = await self._call("POST", REFUNDS_PATH, body)
        if response.is_success:
            return result_from_refund(response.json(), source="request")
        code = self._error_code(response)
        if code in PERMANENT_ERROR_CODES:
            raise GatewayRejected(f"WeChat Pay refused the refund: {code} {response.text}")
        raise RuntimeError(f"WeChat Pay answered {response.status_code} {code}: try again")

    async def query_refund(self, refund_id: str) -> GatewayRefundResult | None:
        response = await self._call("GET", f"{REFUNDS_PATH}/{refund_id}")
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise RuntimeError(f"WeChat Pay answered {response.status_code} {self._error_code(response)}")
        return result_from_refund(response.json(), source="query")

    def callback_answer(self, accepted: bool, message: str) -> CallbackAnswer:
        """204 when handled; otherwise 4XX with {"code": "FAIL", "message": …}, and WeChat Pay retries."""
        if accepted:
            return CallbackAnswer(204, "application/json", b"")
        body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode()
        return CallbackAnswer(401, "application/json", body)

    def notification_id(self, headers: dict[str, str], body: bytes) -> str:
        """The signature covers timestamp, nonce and body: a replay repeats all three."""
        lowered = {key.lower(): value for key, value in headers.items()}
        signed = response_message(
            lowered.get("wechatpay-timestamp", ""), lowered.get("wechatpay-nonce", ""), body
        )
        return hashlib.sha256(signed).hexdigest()

    def verify_callback(self, headers: dict[str, str], body: bytes) -> GatewayRefundResult:
        self.verify_platform_signature(headers, body)
        try:
            notification = json.loads(body)
        except ValueError as exc:
            raise CallbackRejected(CallbackRefusal.MALFORMED, "body is not JSON") from exc
        if not isinstance(notification, dict) or not str(notification.get("event_type", "")).startswith(
            "REFUND."
        ):
            raise CallbackRejected(CallbackRefusal.MALFORMED, "not a refund notification")
        resource = decrypt_resource(self.config.apiv3_key, notification.get("resource") or {})
        if resource.get("mchid") != self.config.mchid:
            raise CallbackRejected(CallbackRefusal.NOT_FOR_US, "the notification is for another merchant")
        return result_from_refund(resource, source="callback")
