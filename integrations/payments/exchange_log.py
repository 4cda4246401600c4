"""Records each HTTP exchange with a payment gateway while an activity asks it something, so the
activity can put request and answer into the refund's audit trail (secrets redacted there).

The gateways' httpx clients carry `exchange_hooks()`; an activity wraps its call in `recording()`.
Outside a recording the hooks do nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from domain.redaction import redacted

BODY_LIMIT = 4000  # characters kept of each body: enough for any refund call, bounded for the DB


@dataclass
class GatewayExchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_body: str | None = None
    error: str | None = None
    _request: httpx.Request | None = field(default=None, repr=False)

    def evidence(self) -> dict[str, Any]:
        """The exchange as the audit trail keeps it: secrets redacted, bodies parsed where readable."""
        return {
            "method": self.method,
            "url": self.url,
            "request_headers": redacted(self.request_headers),
            "request_body": _readable(self.request_body),
            "status": self.status,
            "response_body": _readable(self.response_body),
            "error": self.error,
        }


def _readable(body: str | None) -> Any:
    """JSON or a form as a (redacted) mapping; anything else as text, cut to BODY_LIMIT."""
    if not body:
        return body
    try:
        return redacted(json.loads(body))
    except ValueError:
        pass
    if "=" in body and " " not in body:
        return redacted(dict(parse_qsl(body, keep_blank_values=True)))
    return body[:BODY_LIMIT]


_recording: ContextVar[list[GatewayExchange] | None] = ContextVar("gateway_exchanges", default=None)


@contextmanager
def recording() -> Iterator[list[GatewayExchange]]:
    """Collect the exchanges made inside the block (in this task), in order."""
    exchanges: list[GatewayExchange] = []
    token = _recording.set(exchanges)
    try:
        yield exchanges
    finally:
        _recording.reset(token)


async def _on_request(request: httpx.Request) -> None:
    exchanges = _recording.get()
    if exchanges is not None:
        exchanges.append(
            GatewayExchange(
                method=request.method,
                url=str(request.url),
                request_headers=dict(request.headers),
                request_body=request.content.decode("utf-8", "replace")[:BODY_LIMIT],
                _request=request,
            )
        )


async def _on_response(response: httpx.Response) -> None:
    exchanges = _recording.get()
    if exchanges is None:
        return
    await response.aread()
    for exchange in reversed(exchanges):
        if exchange._request is response.request:
            exchange.status = response.status_code
            exchange.response_body = response.text[:BODY_LIMIT]
            return


def exchange_hooks() -> dict[str, list[Any]]:
    return {"request": [_on_request], "response": [_on_response]}
