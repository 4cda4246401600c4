"""Gateway notifications for a refund row, built as WeChat Pay and Alipay build them (with the dev
keys the API under test trusts, or with others to forge them), and a stand-in for Temporal that
only records what the API signals — so a test can say a workflow was, or was not, told."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from db.models import Refund
from devstack.dev_keys import ALIPAY_APP_ID, WECHATPAY_MCHID, WECHATPAY_PLATFORM_SERIAL, DevKeys
from integrations.payments import alipay, wechatpay

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def wechatpay_notification(
    keys: DevKeys,
    refund: Refund,
    *,
    refund_fen: int | None = None,
    mchid: str = WECHATPAY_MCHID,
    apiv3_key: bytes | None = None,
    event_type: str = "REFUND.SUCCESS",
    signer: rsa.RSAPrivateKey | None = None,
    serial: str = WECHATPAY_PLATFORM_SERIAL,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A signed, encrypted REFUND.* notification; each keyword spoils one part of it."""
    resource = {
        "mchid": mchid,
        "transaction_id": f"42000{secrets.randbelow(10**9)}",
        "out_trade_no": refund.order_id,
        "refund_id": f"503{secrets.randbelow(10**9)}",
        "out_refund_no": refund.id,
        "refund_status": event_type.removeprefix("REFUND."),
        "success_time": "2026-11-23T13:00:00+08:00",
        "amount": {
            "refund": refund.refund_amount_fen if refund_fen is None else refund_fen,
            "total": refund.amount_paid_fen,
        },
    }
    body = json.dumps(
        {
            "id": f"EV-{secrets.token_hex(8)}",
            "event_type": event_type,
            "resource_type": "encrypt-resource",
            "resource": wechatpay.encrypt_resource(apiv3_key or keys.wechatpay_apiv3_key, resource),
        }
    ).encode()
    headers = wechatpay.platform_signed_headers(
        signer or keys.wechatpay_platform, serial, body, timestamp=timestamp
    )
    return body, headers


def alipay_params(
    refund: Refund, *, refund_fen: int | None = None, app_id: str = ALIPAY_APP_ID
) -> dict[str, str]:
    return {
        "notify_time": "2026-11-23 13:00:05",
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "app_id": app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": f"2026{secrets.randbelow(10**9)}",
        "out_biz_no": refund.id,
        "trade_status": "TRADE_CLOSED",
        "total_amount": alipay.fen_to_yuan(refund.amount_paid_fen),
        "refund_fee": alipay.fen_to_yuan(refund.refund_amount_fen if refund_fen is None else refund_fen),
        "gmt_refund": "2026-11-23 13:00:00.000",
    }


def alipay_signed(params: dict[str, str], signer: rsa.RSAPrivateKey) -> bytes:
    content = alipay.signing_content(params, exclude=frozenset({"sign", "sign_type"}))
    return str(httpx.QueryParams({**params, "sign": wechatpay.rsa_sign(signer, content)})).encode()


def alipay_notification(
    keys: DevKeys, refund: Refund, *, signer: rsa.RSAPrivateKey | None = None, **spoil: Any
) -> tuple[bytes, dict[str, str]]:
    return alipay_signed(alipay_params(refund, **spoil), signer or keys.alipay_platform), FORM


def stale(hours: float) -> int:
    return int(time.time() - hours * 3600)


@dataclass
class Signalled:
    workflow_id: str
    signal: str
    argument: Any


@dataclass
class RecordingTemporal:
    """Enough of temporalio.client.Client for the notify route: every signal is kept, none sent."""

    signals: list[Signalled] = field(default_factory=list)

    def get_workflow_handle_for(self, _run: Any, workflow_id: str) -> Any:
        recorder = self

        class Handle:
            async def signal(self, signal: Any, argument: Any) -> None:
                recorder.signals.append(Signalled(workflow_id, signal.__name__, argument))

        return Handle()

    def of(self, refund: Refund) -> list[Signalled]:
        return [s for s in self.signals if s.workflow_id == refund.workflow_id]
