"""Screenshots of the Temporal Web UI for docs/operations.md, as a support lead sees it.

Against a running system (`make dev`'s by default) it makes its cases through the API as the demo
accounts would (devstack/demo_cases.py): the school's commerce system pushes an order and the
student asks for its refund (left awaiting review); an admin shortens the technical category's
first response to one minute, the student reports a stuttering live class, and the admin puts the
terms back (a complaint keeps the terms it was filed under), so that complaint's SLA is breached a
minute later. Headless Chromium then saves what the Temporal UI shows of both, and the list of
refunds awaiting review filtered by README's query, to docs/screenshots/.

    .venv/bin/python -m devstack.temporal_ui_screenshots [--api-url …] [--ui-url …] [--out-dir …]

It takes a little over a minute, most of it waiting for the SLA to lapse. `make test` runs the same
code against the integration stack (tests/browser/test_temporal_ui_screenshots.py).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from devstack.demo_cases import complaint_about_to_breach, refund_awaiting_review, sla_breached
from devstack.temporal_queries import readme_list_commands
from integrations.temporal import connect_config, temporal_ui_base_url
from settings import PROJECT_ROOT, Settings, get_settings

CHROMIUM = Path("/usr/bin/chromium")
# Headless and quiet: no sandbox (containers), no GPU, nothing fetched from the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
REFUND_SHOT = "temporal-ui-refund-awaiting-review.png"
COMPLAINT_SHOT = "temporal-ui-complaint-sla-breached.png"
LIST_SHOT = "temporal-ui-refunds-awaiting-review-list.png"

# The list's columns: what tells refunds awaiting review apart, instead of run ids and end times.
HIDDEN_COLUMNS = ("Run ID", "Type", "Start", "End")
SHOWN_COLUMNS = ("RefundStatus", "AssignedTo", "SlaDueAt", "AmountFen", "StudentId")
NOT_BLANK = re.compile(r"\S")
# Wide enough that the workflow page's header and the list's columns are not cut short.
PAGE_VIEWPORT: ViewportSize = {"width": 1600, "height": 900}
LIST_VIEWPORT: ViewportSize = {"width": 1600, "height": 560}


@dataclass(frozen=True)
class Target:
    """Where the system runs and where the pictures go."""

    api_url: str
    ui_url: str  # the Temporal Web UI
    namespace: str
    out_dir: Path = SCREENSHOTS

    @classmethod
    def of(cls, settings: Settings) -> Target:
        """`make dev`'s system, or wherever the AFTERCARE_* settings point (the console's own links
        to the Temporal UI go to the same place)."""
        return cls(
            api_url=f"http://localhost:{settings.api_port}",
            ui_url=temporal_ui_base_url(settings),
            namespace=connect_config(settings)["namespace"],
        )


# --- the Temporal UI ------------------------------------------------------------------------------


async def reload_until_shown(page: Page, locator: Locator, text: str, tries: int = 30) -> None:
    """The UI shows what the server had when the page loaded: look again until it is there."""
    for _ in range(tries):
        if text in (await locator.text_content() or ""):
            return
        await page.wait_for_timeout(1000)
        await page.reload()
        await locator.wait_for()
    await expect(locator).to_contain_text(text)  # fails, saying what it found


async def list_of_refunds_awaiting_review(page: Page, target: Target, refund_id: str) -> bytes:
    """README's awaiting-review filter pasted into the list, with the columns a lead would pick."""
    query = readme_list_commands()[0].query
    await page.set_viewport_size(LIST_VIEWPORT)  # the table fills the window: no tall empty space
    await page.goto(f"{target.ui_url}/namespaces/{target.namespace}/workflows?query={quote(query)}")
    await page.get_by_role("button", name="Configure Columns").click()
    for column in HIDDEN_COLUMNS:
        await page.get_by_role("button", name=f"Remove {column} column").click()
    for column in SHOWN_COLUMNS:
        await page.get_by_role("button", name=f"Add {column} column").click()
    await page.get_by_role("button", name="Close Workflows Table configuration").click()
    await expect(page.get_by_role("heading", name="Configure Workflows Table")).to_be_hidden()
    await reload_until_shown(page, page.locator("table"), f"refund-{refund_id}")
    await page.mouse.move(0, 0)  # no row highlighted under the pointer
    return await page.locator("main").screenshot()


async def workflow_tabs(
    page: Page, target: Target, workflow_id: str, must_show: str
) -> list[tuple[str, bytes]]:
    """The workflow's page with its User Metadata tab (summary, details, current details), then
    what the Search Attributes and Memo tabs show. `must_show` is waited for among the search
    attributes, so the picture is of the state it is meant to show."""
    await page.set_viewport_size(PAGE_VIEWPORT)
    await page.goto(f"{target.ui_url}/namespaces/{target.namespace}/workflows/{workflow_id}")
    await page.get_by_role("tab", name="Search Attributes").click()
    attributes = _panel(page, "Search Attributes")
    await reload_until_shown(page, attributes, must_show)
    attributes_png = await attributes.screenshot()

    await page.get_by_role("tab", name="Memo").click()
    memo_png = await _panel(page, "Memo").screenshot()

    await page.get_by_role("tab", name="User Metadata").click()
    metadata = page.get_by_test_id("user-metadata")
    # Each of the three is markdown rendered in its own frame; current details come from a query
    # the worker answers.
    for part in ("summary", "details", "current-details"):
        await expect(page.frame_locator(f"#user-metadata-{part}").locator("body")).to_have_text(NOT_BLANK)
    main, bottom = await page.locator("main").bounding_box(), await metadata.bounding_box()
    assert main and bottom
    header_png = await page.screenshot(
        clip={
            "x": main["x"],
            "y": main["y"],
            "width": main["width"],
            "height": bottom["y"] + bottom["height"] - main["y"],
        }
    )
    return [
        ("The workflow's page, User Metadata tab", header_png),
        ("Search Attributes tab", attributes_png),
        ("Memo tab", memo_png),
    ]


def _panel(page: Page, heading: str) -> Locator:
    """A tab's content: the heading and the JSON under it."""
    return page.locator("main div").filter(has=page.get_by_role("heading", name=heading, exact=True)).last


async def one_picture(context: BrowserContext, parts: list[tuple[str, bytes]], path: Path) -> Path:
    """Stack captioned screenshots into one PNG (Chromium lays them out, so nothing else is needed)."""
    figures = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>"
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        for caption, png in parts
    )
    style = (
        "body{margin:0;padding:8px 16px;width:max-content;background:#fff;color:#333}"
        "figure{margin:0 0 12px}figcaption{margin:4px 0;font:600 15px sans-serif}"
        "img{display:block;border:1px solid #ccc}"
    )
    page = await context.new_page()
    try:
        await page.set_content(f"<!doctype html><style>{style}</style><body>{figures}</body>")
        path.parent.mkdir(parents=True, exist_ok=True)
        await page.locator("body").screenshot(path=str(path))
    finally:
        await page.close()
    return path


# --- all of it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shots:
    refund_id: str
    complaint_id: str
    paths: list[Path]


async def take_screenshots(browser: Browser, target: Target) -> Shots:
    async with httpx.AsyncClient(base_url=target.api_url, timeout=30) as api:
        complaint_id = await complaint_about_to_breach(api)  # its minute runs while the refund is made
        refund_id = await refund_awaiting_review(api)
        # Beijing time, as the staff read it (the current details say "Beijing" too).
        context = await browser.new_context(
            viewport=PAGE_VIEWPORT, timezone_id="Asia/Shanghai", locale="en-US"
        )
        out = target.out_dir
        out.mkdir(parents=True, exist_ok=True)
        try:
            page = await context.new_page()
            (out / LIST_SHOT).write_bytes(await list_of_refunds_awaiting_review(page, target, refund_id))
            refund_tabs = await workflow_tabs(
                page, target, f"refund-{refund_id}", '"RefundStatus": "awaiting_review"'
            )
            await one_picture(context, refund_tabs, out / REFUND_SHOT)
            await sla_breached(api, complaint_id)
            complaint_tabs = await workflow_tabs(
                page, target, f"complaint-{complaint_id}", '"SlaBreached": true'
            )
            await one_picture(context, complaint_tabs, out / COMPLAINT_SHOT)
        finally:
            await context.close()
    return Shots(refund_id, complaint_id, [out / LIST_SHOT, out / REFUND_SHOT, out / COMPLAINT_SHOT])


async def _main(target: Target, chromium: Path) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            shots = await take_screenshots(browser, target)
        finally:
            await browser.close()
    print(f"refund {shots.refund_id}, complaint {shots.complaint_id}")
    for path in shots.paths:
        print(f"saved {path}")


def main() -> None:
    defaults = Target.of(get_settings())
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--api-url", default=defaults.api_url, help="Aftercare's API")
    parser.add_argument("--ui-url", default=defaults.ui_url, help="the Temporal Web UI")
    parser.add_argument("--namespace", default=defaults.namespace, help="the Temporal namespace")
    parser.add_argument("--out-dir", type=Path, default=defaults.out_dir, help="where the PNGs go")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help="Chromium's executable")
    args = parser.parse_args()
    target = Target(args.api_url.rstrip("/"), args.ui_url.rstrip("/"), args.namespace, args.out_dir)
    asyncio.run(_main(target, args.chromium))


if __name__ == "__main__":
    main()
