"""The sandbox payment gateway: a stand-in for the real one that behaves like it over HTTP.

It accepts signed refund requests (idempotent by out_refund_no), keeps its records in a JSON file so a
restart forgets nothing, and reports each result later by a signed asynchronous callback to the
request's notify_url, retried like a real gateway until it is acknowledged. Protocol:
integrations/payments/sandbox.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request

from integrations.payments.base import CallbackRejected
from integrations.payments.sandbox import signed_headers, verify_signed

log = logging.getLogger("sandbox_gateway")
CALLBACK_RETRY_DELAYS_SECONDS = (1, 2, 5, 15, 30, 60, 120)


class SandboxLedger:
    """The gateway's refund records, kept in memory and mirrored to a JSON file."""

    def __init__(self, state_file: Path | None) -> None:
        self.state_file = state_file
        self.refunds: dict[str, dict[str, Any]] = {}
        # How many create requests arrived per out_refund_no (retries included): tests read it.
        self.requests_seen: dict[str, int] = {}
        if state_file and state_file.exists():
            saved = json.loads(state_file.read_text())
            self.refunds = saved.get("refunds", {})
            self.requests_seen = saved.get("requests_seen", {})

    def save(self) -> None:
        if self.state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"refunds": self.refunds, "requests_seen": self.requests_seen}))
            tmp.replace(self.state_file)


def create_app(*, secret: str, callback_delay_seconds: float, state_file: Path | None = None) -> FastAPI:
    ledger = SandboxLedger(state_file)
    callbacks: set[asyncio.Task[None]] = set()

    def schedule_callback(out_refund_no: str, delay: float) -> None:
        task = asyncio.create_task(_settle_and_call_back(out_refund_no, delay))
        callbacks.add(task)
        task.add_done_callback(callbacks.discard)

    async def _settle_and_call_back(out_refund_no: str, delay: float) -> None:
        await asyncio.sleep(delay)
        record = ledger.refunds[out_refund_no]
        if record["status"] == "PROCESSING":
            record["status"] = "SUCCESS"
            record["success_time"] = datetime.now(UTC).isoformat()
            ledger.save()
        body = json.dumps(
            {
                "id": f"EV{secrets.token_hex(8).upper()}",
                "create_time": datetime.now(UTC).isoformat(),
                "event_type": f"REFUND.{record['status']}",
                "resource": record,
            },
            ensure_ascii=False,
        ).encode()
        for retry_delay in (*CALLBACK_RETRY_DELAYS_SECONDS, None):
            try:
                async with httpx.AsyncClient(timeout=10) as client:
                    response = await client.post(
                        record["notify_url"], content=body, headers=signed_headers(secret, body)
                    )
                if response.is_success:
                    record["callbacks_acknowledged"] = record.get("callbacks_acknowledged", 0) + 1
                    ledger.save()
                    return
                log.warning("callback for %s answered %s", out_refund_no, response.status_code)
            except httpx.HTTPError as exc:
                log.warning("callback for %s failed: %s", out_refund_no, exc)
            if retry_delay is None:
                return
            await asyncio.sleep(retry_delay)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # After a restart, refunds still processing get their callback.
        for out_refund_no, record in ledger.refunds.items():
            if not record.get("callbacks_acknowledged"):
                schedule_callback(out_refund_no, callback_delay_seconds)
        yield
        for task in list(callbacks):
            task.cancel()

    app = FastAPI(title="Sandbox payment gateway", lifespan=lifespan)
    app.state.ledger = ledger

    async def verified_body(request: Request) -> bytes:
        body = await request.body()
        try:
            verify_signed(secret, dict(request.headers), body)
        except CallbackRejected as exc:
            raise HTTPException(401, {"code": "SIGN_ERROR", "message": str(exc)}) from exc
        return body

    @app.post("/v3/refund/domestic/refunds")
    async def create_refund(request: Request) -> dict[str, Any]:
        try:
            payload = json.loads(await verified_body(request))
            out_refund_no = str(payload["out_refund_no"])
            refund_fen = int(payload["amount"]["refund"])
            total_fen = int(payload["amount"]["total"])
            notify_url = str(payload["notify_url"])
            transaction_id = str(payload["transaction_id"])
        except (KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            raise HTTPException(400, {"code": "PARAM_ERROR", "message": f"missing or bad {exc}"}) from exc
        if not 0 < refund_fen <= total_fen:
            raise HTTPException(
                400, {"code": "INVALID_REQUEST", "message": "refund must be 0 < refund <= total"}
            )
        ledger.requests_seen[out_refund_no] = ledger.requests_seen.get(out_refund_no, 0) + 1
        existing = ledger.refunds.get(out_refund_no)
        if existing is not None:
            if existing["amount"]["refund"] != refund_fen:
                raise HTTPException(409, {"code": "INVALID_REQUEST", "message": "out_refund_no reused"})
            ledger.save()
            return existing  # same key, same refund: money moves once
        record = {
            "refund_id": f"SB{secrets.token_hex(10).upper()}",
            "out_refund_no": out_refund_no,
            "transaction_id": transaction_id,
            "out_trade_no": payload.get("out_trade_no"),
            "status": "PROCESSING",
            "create_time": datetime.now(UTC).isoformat(),
            "success_time": None,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            "notify_url": notify_url,
        }
        ledger.refunds[out_refund_no] = record
        ledger.save()
        schedule_callback(out_refund_no, callback_delay_seconds)
        return record

    @app.get("/v3/refund/domestic/refunds/{out_refund_no}")
    async def query_refund(out_refund_no: str, request: Request) -> dict[str, Any]:
        await verified_body(request)
        record = ledger.refunds.get(out_refund_no)
        if record is None:
            raise HTTPException(404, {"code": "RESOURCE_NOT_EXISTS", "message": "no such refund"})
        return record

    @app.get("/sandbox/refunds")
    async def list_refunds() -> dict[str, Any]:
        """Inspection for developers and tests: every record and how often each was requested."""
        return {"refunds": list(ledger.refunds.values()), "requests_seen": ledger.requests_seen}

    return app


def main() -> None:
    import uvicorn

    from settings import get_settings

    settings = get_settings()
    app = create_app(
        secret=settings.sandbox_gateway_secret.get_secret_value(),
        callback_delay_seconds=settings.sandbox_callback_delay_seconds,
        state_file=settings.data_dir / "sandbox-gateway.json",
    )
    uvicorn.run(app, host="127.0.0.1", port=settings.sandbox_gateway_port, log_level="warning")


if __name__ == "__main__":
    main()
