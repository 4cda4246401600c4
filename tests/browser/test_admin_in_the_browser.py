"""In a real browser: an admin edits a notice template (a broken draft is explained, a preview shows
the sample, the save becomes a new version) and the next complaint's acknowledgement uses it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot, signed_in
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
TEMPLATE = "complaint_received.all.zh-CN.j2"


async def test_an_admin_edits_a_template_and_the_next_notice_uses_it(browser: Browser, stack: Stack) -> None:
    admin = await signed_in(browser, stack, "admin@demo")
    await admin.goto("/admin/templates")
    await (
        admin.get_by_role("row", name=re.compile("complaint_received.*all.*zh-CN"))
        .get_by_role("link")
        .click()
    )
    source = admin.get_by_label("模板内容")
    original = await source.input_value()
    assert "我们已收到您的反馈" in original

    await source.fill(original.replace("{% endblock %}", "{{ no_such_thing }}{% endblock %}", 1))
    await admin.get_by_role("button", name="预览").click()
    await expect(admin.locator("#source-error")).to_contain_text("no_such_thing")  # beside the field

    edited = original.replace("我们已收到您的反馈", "【网校售后】我们已收到您的反馈", 1)
    await source.fill(edited)
    await admin.get_by_role("button", name="预览").click()
    await expect(admin.get_by_test_id("preview-subject")).to_contain_text("【网校售后】我们已收到您的反馈")
    await admin.get_by_label("修改说明").fill("主题加上品牌前缀")
    await admin.get_by_role("button", name="保存为新版本").click()
    await expect(admin.get_by_role("status")).to_be_visible()
    await expect(admin.get_by_text("主题加上品牌前缀")).to_be_visible()  # in the version history
    await screenshot(admin, "admin-template")

    student = await signed_in(browser, stack, "student@demo")
    await student.goto("/my/complaints/new")
    await student.get_by_label("请描述您遇到的问题").fill("直播课一直卡顿，老师的声音断断续续")
    await student.get_by_role("button", name="提交反馈").click()
    await student.wait_for_url(re.compile(r"/my/complaints/CP\w+$"))
    complaint_id = student.url.rsplit("/", 1)[1]
    await screenshot(student, "student-complaint")
    for _ in range(50):
        await student.goto("/my/inbox")
        told = student.locator(f'article[data-case="{complaint_id}"][data-event="complaint_received"]')
        if await told.count():
            break
        await student.wait_for_timeout(200)
    await expect(told.get_by_role("heading")).to_contain_text("【网校售后】我们已收到您的反馈")
