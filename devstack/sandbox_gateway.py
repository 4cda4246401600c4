"""The sandbox payment gateway: the dev default, and the peer of the gateway tests.

It speaks the real protocols with the dev keys of devstack/dev_keys.py:
- WeChat Pay APIv3 — verifies the merchant's signed requests, answers signed by the platform key,
  and reports each refund by a signed notification whose resource is AES-256-GCM encrypted;
- Alipay OpenAPI — verifies RSA2-signed gateway.do requests, answers signed, and sends signed
  refund notifications, acknowledged by the text `success`.

Refunds are kept per out_refund_no / out_request_no (asking twice refunds once) in a JSON file, so a
restart forgets nothing; a refund beyond what is left of the payment is refused. Notifications are
retried like a real gateway's until acknowledged. `POST /sandbox/faults` makes the next refunds
misbehave (see FAULTS); `GET /sandbox/refunds` shows every record and how often each was asked for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from devstack import dev_keys
from devstack.sandbox_wechat import sandbox_wechat_router
from devstack.school_systems import school_systems_router
from domain.timeutil import SHANGHAI, utcnow
from integrations.http_client import outbound_client
from integrations.payments import alipay, wechatpay
from settings import DEV_COMMERCE_HOOK_SECRET

log = logging.getLogger("sandbox_gateway")
NOTIFY_RETRY_DELAYS_SECONDS = (1, 2, 5, 15, 30, 60, 120)
FAULTS = {
    "normal": "behave",
    "abnormal": "WeChat Pay refunds end ABNORMAL (the bank refused the card)",
    "closed": "WeChat Pay refunds end CLOSED",
    "delay": "notify only after delay_seconds",
    "duplicate": "notify twice",
    "out_of_order": "notify before answering the refund request",
    "never": "never notify (the query API is the only way to learn the outcome)",
    "lose_response": "refund, then answer 500 as if the reply were lost",
    "fail": "answer status_code (500 unless given) without refunding",
    "slow": "answer only after delay_seconds (and refund then, even if the caller gave up)",
}


class FaultPlan(BaseModel):
    mode: str = Field(default="normal", pattern="^(" + "|".join(FAULTS) + ")$")
    count: int | None = Field(default=None, ge=1)  # how many refund requests; None: until changed
    delay_seconds: float = Field(default=5.0, ge=0, le=600)
    status_code: int = Field(default=500, ge=500, le=599)  # what `fail` answers


class SandboxLedger:
    """What the gateway holds, kept across its restarts in a journal: one JSON line per change, the
    last line about a refund being its record. (Rewriting the whole ledger at every change cost time in
    proportion to the ledger at each step of each refund: quadratic over a long bench.)"""

    def __init__(self, state_file: Path | None) -> None:
        self.state_file = state_file
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests_seen: dict[str, int] = {}
        # What each Alipay trade was paid, as Alipay knows from the payment (WeChat Pay requests
        # carry the total themselves).
        self.trade_totals: dict[str, int] = {}
        if state_file:
            state_file.parent.mkdir(parents=True, exist_ok=True)
        if state_file and state_file.exists():
            saved = state_file.read_text(encoding="utf-8")
            for line in saved.splitlines():
                if line.strip():
                    self._apply(json.loads(line))
            if saved and not saved.endswith("\n"):  # written whole, before the journal
                self._journal_line("")

    def _apply(self, change: dict[str, Any]) -> None:
        # A whole ledger ("refunds") is how the file was written before it was a journal.
        records = [change["refund"]] if "refund" in change else list(change.get("refunds", {}).values())
        # Records from before the sandbox spoke real protocols have no gateway: they are dropped.
        self.refunds.update({r["out_refund_no"]: r for r in records if "gateway" in r})
        self.requests_seen.update(change.get("requests_seen", {}))
        self.trade_totals.update(change.get("trade_totals", {}))

    def _journal(self, change: dict[str, Any]) -> None:
        self._journal_line(json.dumps(change, ensure_ascii=False))

    def _journal_line(self, line: str) -> None:
        if self.state_file:
            with self.state_file.open("a", encoding="utf-8") as journal:
                journal.write(line + "\n")

    def keep(self, record: dict[str, Any]) -> None:
        """Store a refund's record as it now is (new, or changed in place)."""
        self.refunds[record["out_refund_no"]] = record
        self._journal({"refund": record})

    def count_request(self, out_refund_no: str) -> None:
        self.requests_seen[out_refund_no] = self.requests_seen.get(out_refund_no, 0) + 1
        self._journal({"requests_seen": {out_refund_no: self.requests_seen[out_refund_no]}})

    def set_trade_total(self, trade: str, total_fen: int) -> None:
        self.trade_totals[trade] = total_fen
        self._journal({"trade_totals": {trade: total_fen}})

    def refunded_of(self, trade: str) -> int:
        return sum(
            r["amount"]["refund"]
            for r in self.refunds.values()
            if r["trade"] == trade and r["status"] != "CLOSED"
        )


def _beijing(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def create_app(
    *,
    keys: dev_keys.DevKeys,
    alipay_notify_url: str,
    callback_delay_seconds: float = 2.0,
    state_file: Path | None = None,
    commerce_secret: str = DEV_COMMERCE_HOOK_SECRET,
) -> FastAPI:
    ledger = SandboxLedger(state_file)
    tasks: set[asyncio.Task[None]] = set()
    plan = FaultPlan()
    merchant_public = keys.wechatpay_merchant.public_key()
    app_public = keys.alipay_app.public_key()

    def fault_for_this_request() -> FaultPlan:
        nonlocal plan
        current = plan
        if plan.count is not None:
            plan = FaultPlan() if plan.count <= 1 else plan.model_copy(update={"count": plan.count - 1})
        return current

    def in_background(coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # --- notifications ---------------------------------------------------------------------------

    def settle(record: dict[str, Any]) -> None:
        if record["status"] == "PROCESSING":
            record["status"] = record.pop("ends_as", "SUCCESS")
            record["success_time"] = _beijing(utcnow()) if record["status"] == "SUCCESS" else None
            ledger.keep(record)

    def wechat_notification(record: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        resource = {
            "mchid": dev_keys.WECHATPAY_MCHID,
            "transaction_id": record["trade"],
            "out_trade_no": record.get("out_trade_no") or "",
            "refund_id": record["refund_id"],
            "out_refund_no": record["out_refund_no"],
            "refund_status": record["status"],
            "success_time": record["success_time"],
            "user_received_account": "招商银行信用卡0403",
            "amount": {
                **record["amount"],
                "payer_total": record["amount"]["total"],
                "payer_refund": record["amount"]["refund"],
            },
        }
        body = json.dumps(
            {
                "id": f"EV-{secrets.token_hex(8)}",
                "create_time": _beijing(utcnow()),
                "resource_type": "encrypt-resource",
                "event_type": f"REFUND.{record['status']}",
                "summary": "退款成功" if record["status"] == "SUCCESS" else "退款异常",
                "resource": wechatpay.encrypt_resource(keys.wechatpay_apiv3_key, resource),
            },
            ensure_ascii=False,
        ).encode()
        return body, platform_headers(body)

    def alipay_notification(record: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        params = {
            "notify_time": utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": dev_keys.ALIPAY_APP_ID,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": record["trade"],
            "out_trade_no": record.get("out_trade_no") or "",
            "out_biz_no": record["out_refund_no"],
            "trade_status": "TRADE_CLOSED"
            if ledger.refunded_of(record["trade"]) >= record["amount"]["total"]
            else "TRADE_SUCCESS",
            "total_amount": alipay.fen_to_yuan(record["amount"]["total"]),
            "refund_fee": alipay.fen_to_yuan(ledger.refunded_of(record["trade"])),
            "send_back_fee": alipay.fen_to_yuan(record["amount"]["refund"]),
            "gmt_refund": datetime.fromisoformat(record["success_time"]).strftime("%Y-%m-%d %H:%M:%S.000"),
        }
        content = alipay.signing_content(params, exclude=frozenset({"sign", "sign_type"}))
        params["sign"] = wechatpay.rsa_sign(keys.alipay_platform, content)
        body = str(httpx.QueryParams(params)).encode()
        return body, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

    async def notify(out_refund_no: str, delay: float, *, times: int = 1) -> None:
        """After delay, the refund settles; then the merchant is told (times=0: never told)."""
        await asyncio.sleep(delay)
        record = ledger.refunds[out_refund_no]
        settle(record)
        for _ in range(times):
            if record["gateway"] == "wechatpay":
                body, headers = wechat_notification(record)
            else:
                body, headers = alipay_notification(record)
            await deliver(record, body, headers)

    async def deliver(record: dict[str, Any], body: bytes, headers: dict[str, str]) -> None:
        # Kept so a test (or a curious developer) can replay exactly what was sent.
        record["last_notification"] = {"headers": headers, "body": body.decode()}
        for retry_delay in (*NOTIFY_RETRY_DELAYS_SECONDS, None):
            try:
                # The shared TLS context: building one per notification was half this process's CPU.
                async with outbound_client(timeout=10) as client:
                    response = await client.post(record["notify_url"], content=body, headers=headers)
                acknowledged = response.is_success and (
                    record["gateway"] == "wechatpay" or response.text == "success"
                )
                if acknowledged:
                    record["notifications_acknowledged"] = record.get("notifications_acknowledged", 0) + 1
                    ledger.keep(record)
                    return
                log.warning("notification for %s answered %s", record["out_refund_no"], response.status_code)
            except httpx.HTTPError as exc:
                log.warning("notification for %s failed: %s", record["out_refund_no"], exc)
            if retry_delay is None:
                return
            await asyncio.sleep(retry_delay)

    def schedule_notification(record: dict[str, Any], fault: FaultPlan) -> None:
        delay = fault.delay_seconds if fault.mode == "delay" else callback_delay_seconds
        times = {"never": 0, "duplicate": 2}.get(fault.mode, 1)
        in_background(notify(record["out_refund_no"], delay, times=times))

    # --- one refund, whichever protocol asked for it ------------------------------------------------

    async def refund(
        *,
        gateway: str,
        out_refund_no: str,
        trade: str,
        refund_fen: int,
        total_fen: int,
        notify_url: str,
        **extra: Any,
    ) -> tuple[dict[str, Any], FaultPlan]:
        """The ledger's record for this refund number, creating it (and moving money) only once."""
        ledger.count_request(out_refund_no)
        fault = fault_for_this_request()
        if fault.mode == "slow":
            await asyncio.sleep(fault.delay_seconds)
        if fault.mode == "fail":
            raise HTTPException(
                fault.status_code, {"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后重试"}
            )
        existing = ledger.refunds.get(out_refund_no)
        if existing is not None:
            if existing["amount"]["refund"] != refund_fen or existing["trade"] != trade:
                raise HTTPException(
                    400, {"code": "INVALID_REQUEST", "message": "退款单号已被使用，参数不一致"}
                )
            return existing, fault
        if not 0 < refund_fen <= total_fen - ledger.refunded_of(trade):
            raise HTTPException(400, {"code": "INVALID_REQUEST", "message": "退款金额超过订单可退金额"})
        record = {
            "gateway": gateway,
            "refund_id": f"50{int(time.time() * 1000)}{secrets.randbelow(10**6):06d}",
            "out_refund_no": out_refund_no,
            "trade": trade,
            "status": "PROCESSING",
            "create_time": _beijing(utcnow()),
            "success_time": None,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            "notify_url": notify_url,
            **extra,
        }
        if fault.mode in ("abnormal", "closed"):
            record["ends_as"] = fault.mode.upper()
        if fault.mode == "never":
            record["never_notify"] = True
        ledger.keep(record)
        if fault.mode == "out_of_order":
            await notify(out_refund_no, 0)
        else:
            schedule_notification(record, fault)
        if fault.mode == "lose_response":
            raise HTTPException(500, {"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后重试"})
        return record, fault

    # --- WeChat Pay APIv3 --------------------------------------------------------------------------

    def platform_headers(body: bytes) -> dict[str, str]:
        return wechatpay.platform_signed_headers(
            keys.wechatpay_platform, dev_keys.WECHATPAY_PLATFORM_SERIAL, body
        )

    def wechat_answer(status: int, payload: dict[str, Any]) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return Response(body, status_code=status, headers=platform_headers(body))

    def wechat_refund_object(record: dict[str, Any]) -> dict[str, Any]:
        return {
            "refund_id": record["refund_id"],
            "out_refund_no": record["out_refund_no"],
            "transaction_id": record["trade"],
            "out_trade_no": record.get("out_trade_no") or "",
            "channel": "ORIGINAL",
            "user_received_account": "招商银行信用卡0403",
            "success_time": record["success_time"],
            "create_time": record["create_time"],
            "status": record["status"],
            "amount": {
                **record["amount"],
                "payer_total": record["amount"]["total"],
                "payer_refund": record["amount"]["refund"],
            },
        }

    async def merchant_verified(request: Request) -> bytes:
        body = await request.body()
        try:
            auth = wechatpay.parse_authorization(request.headers.get("authorization", ""))
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            message = wechatpay.request_message(
                request.method, path, auth["timestamp"], auth["nonce_str"], body
            )
            fresh = abs(time.time() - int(auth["timestamp"])) <= wechatpay.MAX_CLOCK_SKEW_SECONDS
            valid = (
                auth.get("mchid") == dev_keys.WECHATPAY_MCHID
                and auth.get("serial_no") == dev_keys.WECHATPAY_MERCHANT_SERIAL
                and fresh
                and wechatpay.rsa_verify(merchant_public, message, auth["signature"])
            )
        except (KeyError, ValueError):
            valid = False
        if not valid:
            raise HTTPException(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        return body

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for out_refund_no, record in ledger.refunds.items():  # after a restart, finish what was owed
            if not record.get("notifications_acknowledged") and not record.get("never_notify"):
                in_background(notify(out_refund_no, callback_delay_seconds))
        yield
        for task in list(tasks):
            task.cancel()

    app = FastAPI(title="Sandbox payment gateway (WeChat Pay APIv3 + Alipay)", lifespan=lifespan)
    app.state.ledger = ledger

    @app.exception_handler(HTTPException)
    async def gateway_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/v3/"):
            return wechat_answer(
                exc.status_code, exc.detail if isinstance(exc.detail, dict) else {"message": exc.detail}
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.post("/v3/refund/domestic/refunds")
    async def wechat_create_refund(request: Request) -> Response:
        try:
            payload = json.loads(await merchant_verified(request))
            fields = {
                "out_refund_no": str(payload["out_refund_no"]),
                "trade": str(payload["transaction_id"]),
                "refund_fen": int(payload["amount"]["refund"]),
                "total_fen": int(payload["amount"]["total"]),
                "notify_url": str(payload["notify_url"]),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, {"code": "PARAM_ERROR", "message": f"参数错误 {exc!r}"}) from exc
        record, _fault = await refund(gateway="wechatpay", **fields, out_trade_no=payload.get("out_trade_no"))
        return wechat_answer(200, wechat_refund_object(record))

    @app.get("/v3/refund/domestic/refunds/{out_refund_no}")
    async def wechat_query_refund(out_refund_no: str, request: Request) -> Response:
        await merchant_verified(request)
        record = ledger.refunds.get(out_refund_no)
        if record is None or record["gateway"] != "wechatpay":
            return wechat_answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
        return wechat_answer(200, wechat_refund_object(record))

    # --- Alipay OpenAPI ------------------------------------------------------------------------------

    def alipay_answer(method: str, node: dict[str, Any]) -> PlainTextResponse:
        node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        sign = wechatpay.rsa_sign(keys.alipay_platform, node_text.encode())
        key = method.replace(".", "_") + "_response"
        return PlainTextResponse(f'{{"{key}":{node_text},"sign":"{sign}"}}', media_type="application/json")

    @app.post("/gateway.do")
    async def alipay_gateway(request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        method = params.get("method", "")
        signed = alipay.signing_content(params, exclude=frozenset({"sign"}))
        if params.get("app_id") != dev_keys.ALIPAY_APP_ID or not wechatpay.rsa_verify(
            app_public, signed, params.get("sign", "")
        ):
            return alipay_answer(
                method,
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-signature",
                    "sub_msg": "验签出错",
                },
            )
        try:
            biz = json.loads(params["biz_content"])
        except (KeyError, ValueError):
            return alipay_answer(
                method, {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.missing-biz-content"}
            )
        if method == alipay.REFUND_METHOD:
            return await alipay_refund(biz)
        if method == alipay.QUERY_METHOD:
            record = ledger.refunds.get(str(biz.get("out_request_no")))
            if record is None or record["gateway"] != "alipay":
                return alipay_answer(method, {"code": "10000", "msg": "Success"})
            done = record["status"] == "SUCCESS"
            return alipay_answer(
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": record["trade"],
                    "out_request_no": record["out_refund_no"],
                    "refund_status": "REFUND_SUCCESS" if done else "",
                    "refund_amount": alipay.fen_to_yuan(record["amount"]["refund"]),
                    "total_amount": alipay.fen_to_yuan(record["amount"]["total"]),
                    "gmt_refund_pay": datetime.fromisoformat(record["success_time"]).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    )
                    if done
                    else "",
                },
            )
        return alipay_answer(
            method, {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"}
        )

    async def alipay_refund(biz: dict[str, Any]) -> Response:
        method = alipay.REFUND_METHOD
        try:
            out_request_no = str(biz["out_request_no"])
            refund_fen = alipay.yuan_to_fen(str(biz["refund_amount"]))
            trade = str(biz["trade_no"])
        except (KeyError, ValueError):
            return alipay_answer(
                method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.INVALID_PARAMETER"}
            )
        total_fen = ledger.trade_totals.get(trade)
        if total_fen is None:
            return alipay_answer(
                method,
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_NOT_EXIST",
                    "sub_msg": "交易不存在",
                },
            )
        first_time = out_request_no not in ledger.refunds
        try:
            record, _fault = await refund(
                gateway="alipay",
                out_refund_no=out_request_no,
                trade=trade,
                refund_fen=refund_fen,
                total_fen=total_fen,
                notify_url=alipay_notify_url,
            )
        except HTTPException as exc:
            if exc.status_code == 400:
                return alipay_answer(
                    method,
                    {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"},
                )
            raise
        settle(record)
        return alipay_answer(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade,
                "fund_change": "Y" if first_time else "N",
                "refund_fee": alipay.fen_to_yuan(ledger.refunded_of(trade)),
                "send_back_fee": alipay.fen_to_yuan(refund_fen),
                "gmt_refund_pay": datetime.fromisoformat(record["success_time"]).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
            },
        )

    # --- control and inspection -------------------------------------------------------------------

    @app.post("/sandbox/faults")
    async def set_faults(new_plan: FaultPlan) -> dict[str, Any]:
        nonlocal plan
        plan = new_plan
        return {"plan": plan.model_dump(), "modes": FAULTS}

    @app.put("/sandbox/trades/{trade}")
    async def register_trade(trade: str, total_fen: int) -> dict[str, Any]:
        """An Alipay payment happened: what Alipay would know about the trade from then on."""
        ledger.set_trade_total(trade, total_fen)
        return {"trade": trade, "total_fen": total_fen}

    # --- the school's own systems (commerce hook, CRM webhook subscriber, staff chat room) ----------
    app.include_router(school_systems_router(commerce_secret=commerce_secret))
    app.include_router(sandbox_wechat_router())

    @app.get("/sandbox/refunds")
    async def list_refunds() -> dict[str, Any]:
        return {"refunds": list(ledger.refunds.values()), "requests_seen": ledger.requests_seen}

    return app


def main() -> None:
    import uvicorn

    from settings import get_settings

    settings = get_settings()
    app = create_app(
        keys=dev_keys.ensure_dev_keys(settings.data_dir),
        alipay_notify_url=f"{settings.callback_base_url}/api/payments/alipay/notify",
        callback_delay_seconds=settings.sandbox_callback_delay_seconds,
        state_file=settings.data_dir / "sandbox-gateway.json",
        commerce_secret=settings.commerce_hook_secret.get_secret_value(),
    )
    uvicorn.run(app, host="127.0.0.1", port=settings.sandbox_gateway_port, log_level="warning")


if __name__ == "__main__":
    main()
