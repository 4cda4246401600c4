"""The Temporal UI screenshots of docs/operations.md, taken by the very code people run (`python -m
devstack.temporal_ui_screenshots`) against the integration stack with the dev server's Web UI on:
CI sees the script work, and `make test` keeps the pictures current."""

from __future__ import annotations

import struct
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser
from temporalio.testing import WorkflowEnvironment

from db.migrate import upgrade
from devstack.processes import free_port
from devstack.temporal_ui_screenshots import Target, take_screenshots
from domain.complaints import SlaTerms
from tests.browser.conftest import SCREENSHOTS
from tests.integration.conftest import Stack
from tests.integration.journey import login
from tests.temporal_env import start_local_dev_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ui_port() -> int:
    return free_port()


@pytest_asyncio.fixture(scope="module")
async def temporal_env(ui_port: int) -> AsyncIterator[WorkflowEnvironment]:
    """This module's dev server has its Web UI on; the stack fixture runs on it."""
    async with await start_local_dev_server(ui_port=ui_port) as env:
        yield env


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The pictures are of Temporal's UI, the same whichever database the API uses: one kind is
    enough here."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'aftercare.db'}"
    upgrade(url)
    yield url


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


async def sla_table(stack: Stack) -> dict[str, dict]:
    admin = await login(stack.api, "admin@demo")
    rows = (await stack.api.get("/api/complaints/sla", headers=admin)).json()
    return {row["category"]: {name: row[name] for name in SlaTerms.model_fields} for row in rows}


async def test_the_screenshot_script_shows_the_refund_and_the_breached_complaint(
    browser: Browser, stack: Stack, temporal_env: WorkflowEnvironment, ui_port: int
) -> None:
    terms_before = await sla_table(stack)
    started = time.time()
    # The script itself waits, in the UI, for the refund's RefundStatus to say awaiting_review,
    # the complaint's SlaBreached to be true and the summary, details and current details to show.
    target = Target(
        api_url=stack.api_url,
        ui_url=f"http://127.0.0.1:{ui_port}",
        namespace=temporal_env.client.namespace,
        out_dir=SCREENSHOTS,
    )
    shots = await take_screenshots(browser, target)

    assert [path.name for path in shots.paths] == [
        "temporal-ui-refunds-awaiting-review-list.png",
        "temporal-ui-refund-awaiting-review.png",
        "temporal-ui-complaint-sla-breached.png",
    ]
    for path in shots.paths:
        assert path.stat().st_mtime >= started, f"{path} was not written by this run"
        width, height = png_size(path)
        assert width >= 1000 and height >= 400, f"{path} is {width}×{height}"
    assert await sla_table(stack) == terms_before  # the one-minute SLA was put back
