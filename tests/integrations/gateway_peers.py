"""The sandbox gateway and a notification receiver, served on loopback for the protocol tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request, Response

from devstack import dev_keys, sandbox_gateway
from devstack.processes import free_port
from tests.http_server import serving


@dataclass
class Receiver:
    """Stands where our notify URL would be and keeps what it is sent."""

    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{gateway}/notify")
        async def notify(gateway: str, request: Request) -> Response:
            self.received.append((gateway, dict(request.headers), await request.body()))
            return Response(
                "success" if gateway == "alipay" else b"", status_code=200 if gateway == "alipay" else 204
            )

        return app


@dataclass
class Peers:
    sandbox_url: str
    receiver_url: str
    receiver: Receiver
    keys: dev_keys.DevKeys


@asynccontextmanager
async def gateway_peers(data_dir: Path) -> AsyncIterator[Peers]:
    keys = dev_keys.ensure_dev_keys(data_dir)
    receiver = Receiver()
    receiver_port, sandbox_port = free_port(), free_port()
    sandbox = sandbox_gateway.create_app(
        keys=keys,
        alipay_notify_url=f"http://127.0.0.1:{receiver_port}/alipay/notify",
        callback_delay_seconds=0.1,
        state_file=data_dir / "sandbox.json",
    )
    async with (
        serving(receiver.app(), receiver_port) as receiver_url,
        serving(sandbox, sandbox_port) as sandbox_url,
    ):
        yield Peers(sandbox_url, receiver_url, receiver, keys)
