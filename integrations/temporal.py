"""Connecting to Temporal. Address, namespace, TLS and API key come from temporalio.envconfig
(TEMPORAL_* variables or a temporal.toml profile), so one worker binary runs against the dev server,
a self-hosted cluster or Temporal Cloud. The pydantic data converter is used by every client. The
worker connects through a runtime that serves the SDK's metrics; the API keeps the default one."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn
from urllib.parse import quote

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from devstack.temporal_dev_config import dev_config
from settings import Settings


def connect_config(settings: Settings) -> dict:
    profile = ClientConfigProfile.load(profile=settings.temporal_profile)
    config = dict(profile.to_client_connect_config())
    if "target_host" not in config or "namespace" not in config:
        dev = dev_config()
        config.setdefault("target_host", dev.address)
        config.setdefault("namespace", dev.namespace)
    return config


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """runtime: None for the SDK's default (no metrics endpoint)."""
    return await Client.connect(
        **connect_config(settings), data_converter=pydantic_data_converter, runtime=runtime
    )


def exit_skipping_teardown(code: int) -> NoReturn:
    """End a process that has used a Temporal client, without the interpreter's teardown.

    The SDK's Rust runtime keeps threads that can still call into Python while CPython
    finalizes; the process then aborts ("PyGILState_Release: thread state ... must be current
    when releasing", SIGABRT, temporalio/sdk-python#300), so a replay that printed "ok" would
    exit -6. Seen in CI about once in 60 runs of `python -m replay`. What the process printed or
    logged is flushed first; it has no other teardown to do."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def metrics_runtime(bind_address: str) -> Runtime | None:
    """A runtime that serves the SDK's metrics at http://<bind_address>/metrics, or None when the
    address is "" (metrics off). Build it once per process: its HTTP server holds the port. Raises
    ValueError when the address is malformed or taken."""
    if not bind_address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def temporal_ui_base_url(settings: Settings) -> str:
    """The Temporal Web UI staff use: the configured one, or the dev server's."""
    base = (
        settings.temporal_ui_url
        or f"http://localhost:{settings.temporal_dev_ui_port or dev_config().ui_port}"
    )
    return base.rstrip("/")


def workflow_ui_url(settings: Settings, workflow_id: str) -> str:
    """Where the Temporal Web UI shows a workflow, in the namespace the clients connect to."""
    namespace = connect_config(settings)["namespace"]
    return (
        f"{temporal_ui_base_url(settings)}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow_id, safe='')}"
    )
