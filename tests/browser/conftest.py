"""Debian's Chromium driven by Playwright against the whole running system (the integration stack).
Outside CI a machine without Chromium skips these; in CI (.ci/run installs it) they must run."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright
from temporalio.testing import WorkflowEnvironment

from tests.integration.conftest import Stack, running_stack, temporal_env  # noqa: F401 — fixtures

CHROMIUM = Path("/usr/bin/chromium")
HAS_CHROMIUM = CHROMIUM.exists()
# docs/screenshots only when asked (`make browser-screenshots`): a plain `make test` leaves the
# checkout as it found it.
SCREENSHOTS = Path(
    os.environ.get("AFTERCARE_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "aftercare-screenshots"
)
pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAS_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
        pytest.skip("no /usr/bin/chromium here (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest_asyncio.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment,  # noqa: F811
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    async with running_stack(temporal_env, database_url, tmp_path_factory.mktemp("data")) as running:
        yield running


async def signed_in(browser: Browser, stack: Stack, email: str, *, width: int = 1280) -> Page:
    """A fresh browser session of one person, signed in through the login form."""
    context = await browser.new_context(base_url=stack.api_url, viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("邮箱").fill(email)
    await page.get_by_label("密码").fill("demo")
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


async def screenshot(page: Page, name: str) -> None:
    """Saved for the README: one picture of each main page, as the tests saw it."""
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
