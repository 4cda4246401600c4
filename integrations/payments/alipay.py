"""Alipay OpenAPI (支付宝开放平台): alipay.trade.refund and alipay.trade.fastpay.refund.query.

- Every request is a form POST to the gateway with the common parameters and a JSON biz_content,
  signed RSA2: SHA256-RSA with the app's private key over the non-empty parameters except `sign`,
  sorted by name and joined as "k=v&k=v" (raw values).
- An answer is `{"<method>_response": {...}, "sign": "..."}`; the signature covers the exact text of
  the response object and is verified with Alipay's public key.
- Asynchronous notifications are form posts, signed the same way over every parameter except
  `sign` and `sign_type`, and answered with the plain text `success`.
- Amounts are yuan strings with two decimals ("12.34"); here they become integer fen and back.

`out_request_no` is our refund id, the same on every retry, so Alipay refunds once. Money has moved
only when an answer says fund_change=Y, a query says refund_status=REFUND_SUCCESS, or a verified
notification for our out_request_no arrives.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.asymmetric import rsa

from domain.refunds import GatewayOutcome, GatewayRefundOrder, GatewayRefundResult
from domain.timeutil import SHANGHAI, utcnow
from integrations.http_client import outbound_client
from integrations.payments.base import CallbackAnswer, CallbackRefusal, CallbackRejected, GatewayRejected
from integrations.payments.exchange_log import exchange_hooks
from integrations.payments.wechatpay import rsa_sign, rsa_verify

REFUND_METHOD = "alipay.trade.refund"
QUERY_METHOD = "alipay.trade.fastpay.refund.query"
SUCCESS_CODE = "10000"
# Business refusals after which asking again cannot succeed. Others (ACQ.SYSTEM_ERROR,
# ACQ.SELLER_BALANCE_NOT_ENOUGH, aop.ACQ.SYSTEM_ERROR…) are worth retrying.
PERMANENT_SUB_CODES = frozenset(
    {
        "ACQ.TRADE_NOT_EXIST",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "ACQ.REASON_TRADE_REFUND_FEE_ERR",
        "ACQ.TRADE_NOT_ALLOW_REFUND",
        "ACQ.INVALID_PARAMETER",
        "isv.invalid-signature",
        "isv.invalid-app-id",
    }
)
_YUAN = re.compile(r"^([0-9]{1,12})(?:\.([0-9]{1,2}))?$")  # ASCII digits only: \d takes ０-９ too


def yuan_to_fen(amount: str) -> int:
    match = _YUAN.match(amount.strip())
    if not match:
        raise ValueError(f"not an amount in yuan: {amount!r}")
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def fen_to_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def signing_content(params: dict[str, str], *, exclude: frozenset[str]) -> bytes:
    return "&".join(
        f"{key}={params[key]}" for key in sorted(params) if key not in exclude and params[key] != ""
    ).encode()


def sign_params(private_key: rsa.RSAPrivateKey, params: dict[str, str]) -> str:
    """The `sign` of a request (everything but `sign` itself is signed)."""
    return rsa_sign(private_key, signing_content(params, exclude=frozenset({"sign"})))


def verify_notification_params(public_key: rsa.RSAPublicKey, params: dict[str, str]) -> bool:
    """A notification signs everything but `sign` and `sign_type`."""
    signature = params.get("sign", "")
    return bool(signature) and rsa_verify(
        public_key, signing_content(params, exclude=frozenset({"sign", "sign_type"})), signature
    )


def response_node_text(raw: str, method: str) -> str:
    """The exact text of `<method>_response` in an answer, which is what its `sign` covers."""
    key = f'"{method.replace(".", "_")}_response":'
    start = raw.find(key)
    end = raw.rfind(',"sign":')
    if start < 0 or end < start:
        raise ValueError("no response object in the answer")
    return raw[start + len(key) : end]


def _beijing_time(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key: rsa.RSAPrivateKey
    alipay_public_key: rsa.RSAPublicKey
    gateway_url: str = "https://openapi.alipay.com/gateway.do"
    timeout_seconds: float = 10.0


class AlipayGateway:
    def __init__(self, config: AlipayConfig) -> None:
        self.config = config

    async def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        params = {
            "app_id": config.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = sign_params(config.app_private_key, params)
        async with outbound_client(timeout=config.timeout_seconds, event_hooks=exchange_hooks()) as client:
            response = await client.post(config.gateway_url, data=params)
        response.raise_for_status()  # 5xx: transient, the activity retries
        raw = response.text
        try:
            node_text = response_node_text(raw, method)
            signature = json.loads(raw)["sign"]
        except (ValueError, KeyError) as exc:
            raise RuntimeError(f"unreadable Alipay answer: {exc}") from exc
        if not rsa_verify(config.alipay_public_key, node_text.encode(), signature):
            # Forged or garbled: ask again (out_request_no makes that safe).
            raise RuntimeError("Alipay answer signature does not verify")
        return json.loads(node_text)

    @staticmethod
    def _refused_or_retry(answer: dict[str, Any], what: str) -> None:
        sub_code = str(answer.get("sub_code", ""))
        if sub_code in PERMANENT_SUB_CODES:
            raise GatewayRejected(f"Alipay refused the {what}: {sub_code} {answer.get('sub_msg', '')}")
        raise RuntimeError(f"Alipay answered {answer.get('code')} {sub_code}: try again")

    async def request_refund(self, order: GatewayRefundOrder, notify_url: str) -> GatewayRefundResult:
        # Alipay notifies refunds to the notify_url configured for the app; notify_url is unused.
        answer = await self._call(
            REFUND_METHOD,
            {
                "trade_no": order.gateway_trade_no,
                "refund_amount": fen_to_yuan(order.refund_fen),
                "out_request_no": order.refund_id,
                "refund_reason": order.reason[:256],
            },
        )
        if answer.get("code") != SUCCESS_CODE:
            self._refused_or_retry(answer, "refund")
        moved = answer.get("fund_change") == "Y"
        refunded = answer.get("send_back_fee")
        return GatewayRefundResult(
            refund_id=order.refund_id,
            gateway_refund_id=answer.get("trade_no"),
            # fund_change=N: this call moved no money (e.g. a repeat of an earlier one): the query decides.
            outcome=GatewayOutcome.SUCCESS if moved else GatewayOutcome.PROCESSING,
            refund_fen=yuan_to_fen(refunded) if refunded else order.refund_fen,
            total_fen=order.total_fen,
            succeeded_at=_beijing_time(answer["gmt_refund_pay"])
            if moved and answer.get("gmt_refund_pay")
            else None,
            source="request",
        )

    async def query_refund(self, refund_id: str) -> GatewayRefundResult | None:
        answer = await self._call(
            QUERY_METHOD, {"out_request_no": refund_id, "query_options": ["gmt_refund_pay"]}
        )
        if answer.get("code") != SUCCESS_CODE:
            self._refused_or_retry(answer, "refund query")
        if not answer.get("out_request_no"):
            return None  # Alipay has no refund under this number
        done = answer.get("refund_status") == "REFUND_SUCCESS"
        return GatewayRefundResult(
            refund_id=answer["out_request_no"],
            gateway_refund_id=answer.get("trade_no"),
            outcome=GatewayOutcome.SUCCESS if done else GatewayOutcome.PROCESSING,
            refund_fen=yuan_to_fen(answer["refund_amount"]),
            total_fen=yuan_to_fen(answer["total_amount"]),
            succeeded_at=_beijing_time(answer["gmt_refund_pay"])
            if done and answer.get("gmt_refund_pay")
            else None,
            source="query",
        )

    def callback_answer(self, accepted: bool, message: str) -> CallbackAnswer:
        """The plain text `success` stops Alipay's retries; anything else means try again later."""
        if accepted:
            return CallbackAnswer(200, "text/plain", b"success")
        return CallbackAnswer(401, "text/plain", b"failure")

    def notification_id(self, headers: dict[str, str], body: bytes) -> str:
        """The sign covers every parameter (notify_id and notify_time too), all in the body."""
        return hashlib.sha256(body).hexdigest()

    def verify_callback(self, headers: dict[str, str], body: bytes) -> GatewayRefundResult:
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CallbackRejected(CallbackRefusal.MALFORMED, "body is not a form") from exc
        if not params.get("sign"):
            raise CallbackRejected(CallbackRefusal.UNSIGNED, "the notification carries no sign")
        if not verify_notification_params(self.config.alipay_public_key, params):
            raise CallbackRejected(
                CallbackRefusal.BAD_SIGNATURE, "sign does not verify with Alipay's public key"
            )
        if params.get("app_id") != self.config.app_id:
            raise CallbackRejected(CallbackRefusal.NOT_FOR_US, "the notification is for another app")
        if not params.get("out_biz_no") or not params.get("gmt_refund"):
            raise CallbackRejected(CallbackRefusal.MALFORMED, "not a refund notification")
        try:
            refunded = params.get("send_back_fee") or params["refund_fee"]
            return GatewayRefundResult(
                refund_id=params["out_biz_no"],
                gateway_refund_id=params.get("trade_no"),
                outcome=GatewayOutcome.SUCCESS,
                refund_fen=yuan_to_fen(refunded),
                total_fen=yuan_to_fen(params["total_amount"]),
                succeeded_at=_beijing_time(params["gmt_refund"]),
                source="callback",
            )
        except (KeyError, ValueError) as exc:
            raise CallbackRejected(
                CallbackRefusal.MALFORMED, f"malformed refund notification: {exc!r}"
            ) from exc
