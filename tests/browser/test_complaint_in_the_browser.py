"""In a real browser: a student reports a problem on the web form; the agent opens it from the
queue, replies, gives a coupon within their quota (the quota left drops, the coupon is issued on the
timeline) and offers one beyond it, which the lead approves on their desk; the agent resolves it,
and the student sees it resolved with the notices in the inbox. The staff pages fit a phone too."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import screenshot, signed_in
from tests.browser.test_refund_in_the_browser import fits_the_screen
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


async def reload_until(page: Page, selector: str, what: str, tries: int = 100) -> None:
    """The workflow works beside the page: look again until it shows."""
    for _ in range(tries):
        if await page.locator(selector).count():
            return
        await page.wait_for_timeout(200)
        await page.reload()
    raise AssertionError(f"timed out waiting for {what}")


async def open_action(page: Page, title: str) -> None:
    """Each action's form is folded away under its title (the reply's is open)."""
    await page.locator("summary", has_text=title).click()


async def test_a_complaint_from_the_form_to_resolved_in_the_browser(browser: Browser, stack: Stack) -> None:
    student = await signed_in(browser, stack, "student@demo", width=375)
    await student.goto("/my/complaints/new")
    await student.get_by_label("请描述您遇到的问题").fill("今晚的直播课一直卡顿，老师的声音断断续续")
    await student.get_by_role("button", name="提交反馈").click()
    await student.wait_for_url(re.compile(r"/my/complaints/CP\w+$"))
    complaint_id = student.url.rsplit("/", 1)[1]

    agent = await signed_in(browser, stack, "agent@demo")
    assert agent.url.endswith("/complaints")
    await reload_until(agent, f'tr[data-complaint="{complaint_id}"] [data-countdown]', "triage and routing")
    row = agent.locator(f'tr[data-complaint="{complaint_id}"]')
    await expect(row).to_contain_text("技术支持")  # routed to tech support
    await expect(row).to_contain_text("首次响应")  # counting down to the first response
    await expect(row.locator("time[data-countdown]")).to_have_text(re.compile(r"\d+m 剩余"))
    await screenshot(agent, "agent-queue")

    await row.get_by_role("link", name=complaint_id).click()
    await expect(agent.locator("blockquote.words")).to_have_text("今晚的直播课一直卡顿，老师的声音断断续续")
    await expect(agent.get_by_test_id("temporal-link")).to_have_attribute(
        "href", re.compile(rf"/namespaces/aftercare/workflows/complaint-{complaint_id}$")
    )
    await agent.get_by_label("回复内容（学员可见）").fill("您好，已为您切换到备用线路，请刷新页面后重试。")
    await agent.get_by_role("button", name="发送回复").click()
    await expect(agent.locator('[data-status="in_progress"]')).to_be_visible()
    await expect(agent.locator('li[data-event="agent.replied"]')).to_contain_text("已为您切换到备用线路")

    quota = agent.get_by_test_id("quota")
    await expect(quota).to_contain_text("优惠券 ¥50.00")
    await open_action(agent, "补偿学员")
    await agent.get_by_label("优惠券金额（元）").fill("30")
    await agent.get_by_label("补偿原因（学员可见）").fill("直播卡顿影响上课")
    await agent.get_by_role("button", name="提交补偿").click()
    await expect(quota).to_contain_text("优惠券 ¥20.00")  # within the quota: given at once
    await reload_until(agent, 'li[data-event="compensation.issued"]', "the coupon issued")
    await expect(agent.locator('[data-compensation] [data-status="issued"]')).to_have_count(1)
    await screenshot(agent, "agent-complaint")

    # Beyond what is left today: it waits for a lead, and the quota stays as it was.
    await open_action(agent, "补偿学员")
    await agent.get_by_label("优惠券金额（元）").fill("40")
    await agent.get_by_label("补偿原因（学员可见）").fill("多次卡顿，补足一节课的费用")
    await agent.get_by_role("button", name="提交补偿").click()
    await expect(agent.locator('[data-compensation] [data-status="awaiting_approval"]')).to_have_count(1)
    await expect(quota).to_contain_text("优惠券 ¥20.00")

    lead = await signed_in(browser, stack, "lead@demo")
    assert lead.url.endswith("/lead")
    offer = lead.locator("article[data-compensation]", has_text=complaint_id)
    await expect(offer).to_contain_text("¥40.00")
    await expect(lead.locator('tr[data-department="tech_support"] [data-count="open"]')).not_to_have_text("0")
    await screenshot(lead, "lead-approvals")
    await offer.get_by_role("button", name="拒绝").click()  # a decline must say why
    offer = lead.locator("article[data-compensation]", has_text=complaint_id)
    await expect(offer.locator(".field-error")).to_contain_text("say why the offer is declined")
    await offer.get_by_label("审批意见（拒绝时必填）").fill("多次卡顿属实，同意")
    await offer.get_by_role("button", name="批准").click()
    await expect(lead.get_by_text("没有待审批的补偿")).to_be_visible()

    await agent.reload()
    await reload_until(
        agent, '[data-compensation] [data-status="issued"] >> nth=1', "the approved coupon issued"
    )
    await open_action(agent, "解决投诉")
    await agent.get_by_label("解决方式").select_option(label="已修复")
    await agent.get_by_label("处理结果（学员可见）").fill("已切换备用线路，并补发两张优惠券")
    await agent.get_by_role("button", name="标记为已解决").click()
    await expect(agent.locator('h1 [data-status="resolved"]')).to_be_visible()
    # What a resolved complaint takes: reopening.
    await expect(agent.locator("summary", has_text="重新打开投诉")).to_be_visible()

    await student.goto(f"/my/complaints/{complaint_id}")
    await expect(student.locator('[data-status="resolved"]')).to_be_visible()
    await expect(student.get_by_text("已切换备用线路，并补发两张优惠券").first).to_be_visible()
    await student.get_by_role("link", name="站内信").click()
    told = student.locator(f'article[data-case="{complaint_id}"]')
    for event in (
        "complaint_received",
        "complaint_first_response",
        "compensation_given",
        "complaint_resolved",
    ):
        await expect(told.and_(student.locator(f'[data-event="{event}"]')).first).to_be_visible()
    assert await fits_the_screen(student)

    for page, path in ((agent, "/complaints"), (agent, f"/complaints/{complaint_id}"), (lead, "/lead")):
        await page.set_viewport_size({"width": 375, "height": 800})
        await page.goto(path)
        assert await fits_the_screen(page), path
