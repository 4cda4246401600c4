"""In a real browser: a student asks for a refund from the quote page, a reviewer approves it from
the queue, and the student sees it refunded and the notices in the inbox — also on a phone-sized
screen, without sideways scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import screenshot, signed_in
from tests.integration.conftest import Stack
from tests.integration.journey import push_order

pytestmark = pytest.mark.integration


async def fits_the_screen(page: Page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_a_refund_from_request_to_refunded_in_the_browser(browser: Browser, stack: Stack) -> None:
    await push_order(stack, "O-WEB-1", 199_900)
    student = await signed_in(browser, stack, "student@demo", width=375)
    assert student.url.endswith("/my/orders")
    await expect(student.get_by_text("O-WEB-1")).to_be_visible()
    assert await fits_the_screen(student)
    await screenshot(student, "student-orders")

    await student.locator("tr", has_text="O-WEB-1").get_by_role("link", name="申请退款").click()
    await expect(student.get_by_test_id("refund-amount")).to_have_text(
        "¥1,799.10"
    )  # the quote, before asking
    await student.get_by_role("button", name="提交退款申请").click()  # no reason yet
    await expect(student.get_by_label("退款原因")).to_be_focused()  # the browser holds the empty field
    await student.get_by_label("部分退款金额（元，可不填）").fill("5000")  # more than was paid
    await student.get_by_label("退款原因").fill("工作调动，没有时间上课")
    await student.get_by_label("原因类别").select_option("时间冲突，没空上课")
    await student.get_by_role("button", name="提交退款申请").click()
    await expect(student.locator("#amount_fen-error")).to_be_visible()  # the error beside its field
    assert await fits_the_screen(student)
    await screenshot(student, "student-refund-quote")
    await student.get_by_label("部分退款金额（元，可不填）").fill("")
    await student.get_by_role("button", name="提交退款申请").click()
    await student.wait_for_url(re.compile(r"/my/refunds/RF\w+$"))
    refund_id = student.url.rsplit("/", 1)[1]

    reviewer = await signed_in(browser, stack, "reviewer@demo")
    assert reviewer.url.endswith("/review")
    for _ in range(50):  # the workflow routes it to the queue within moments
        if await reviewer.get_by_role("link", name=refund_id).count():
            break
        await reviewer.wait_for_timeout(200)
        await reviewer.reload()
    await screenshot(reviewer, "review-queue")
    await reviewer.get_by_role("link", name=refund_id).click()
    await reviewer.get_by_label("同意退款").check()
    await reviewer.get_by_label("常用理由").select_option("符合退款政策")
    await screenshot(reviewer, "review-refund")
    await reviewer.get_by_role("button", name="提交决定").click()
    await expect(reviewer.locator("[data-status]").first).not_to_have_attribute(
        "data-status", "awaiting_review"
    )

    for _ in range(100):  # the sandbox gateway pays and calls back
        await student.goto(f"/my/refunds/{refund_id}")
        if await student.locator('[data-status="refunded"]').count():
            break
        await student.wait_for_timeout(300)
    await expect(student.locator('[data-status="refunded"]')).to_be_visible()
    await expect(student.get_by_text("符合退款政策", exact=True)).to_be_visible()  # the reviewer's reason
    await expect(student.get_by_text("时间冲突，没空上课")).to_be_visible()  # the reason picked
    await screenshot(student, "student-refund")

    await student.get_by_role("link", name="站内信").click()
    told = student.locator(f'article[data-case="{refund_id}"]')
    await expect(told.and_(student.locator('[data-event="refund_succeeded"]'))).to_have_count(1)
    await expect(told).to_have_count(3)  # received, approved, refunded
    assert await fits_the_screen(student)
    await screenshot(student, "student-inbox")


async def test_pages_need_a_signed_in_person_of_the_right_role(browser: Browser, stack: Stack) -> None:
    context = await browser.new_context(base_url=stack.api_url)
    page = await context.new_page()
    await page.goto("/my/orders")
    assert "/login?next=/my/orders" in page.url
    await page.get_by_label("邮箱").fill("student@demo")
    await page.get_by_label("密码").fill("wrong")
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("alert")).to_have_text("邮箱或密码不正确")
    await page.goto("/login?lang=en")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    student = await signed_in(browser, stack, "student@demo")
    response = await student.goto("/review")
    assert response is not None and response.status == 403
