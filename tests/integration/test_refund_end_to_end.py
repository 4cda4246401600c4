"""A refund's whole journey through the HTTP API, as the README's curl walk-through takes it."""

from __future__ import annotations

import pytest

from activities.notify import message_id_for
from domain import search_attributes
from domain.policy import PolicyTerms
from tests.integration.conftest import Stack
from tests.integration.journey import (
    eventually,
    login,
    mails_about,
    now,
    push_order,
    refund_status,
    status_is,
)

pytestmark = pytest.mark.integration


TOLD = ("refund_received", "refund_approved", "refund_succeeded")


async def test_a_refund_travels_from_request_to_refunded(stack: Stack) -> None:
    await push_order(stack, "O-E2E-APPROVE", 199_900)
    student = await login(stack.api, "student@demo")
    reviewer = await login(stack.api, "reviewer@demo")
    # Muting email and SMS does not mute notices about one's money: all three still arrive below.
    muted = {"locale": "zh-CN", "muted_channels": ["email", "sms"]}
    assert (await stack.api.put("/api/me/preferences", json=muted, headers=student)).status_code == 200

    requested = await stack.api.post(
        "/api/refunds",
        headers=student,
        json={
            "order_id": "O-E2E-APPROVE",
            "reason": "工作调动，没有时间上课",
            "reason_code": "schedule_conflict",
        },
    )
    assert requested.status_code == 202, requested.text
    accepted = requested.json()
    refund_id = accepted["refund_id"]
    assert accepted["workflow_id"] == f"refund-{refund_id}"
    assert accepted["status"] == "requested"

    again = await stack.api.post(
        "/api/refunds", headers=student, json={"order_id": "O-E2E-APPROVE", "reason": "再提交"}
    )
    assert again.status_code == 409 and again.json()["detail"]["refund_id"] == refund_id

    # At once: the acknowledgement in the inbox and by email.
    async def acknowledged():
        inbox = (await stack.api.get("/api/me/inbox", headers=student)).json()
        return [m for m in inbox["messages"] if m["case_id"] == refund_id and m["event"] == "refund_received"]

    [ack] = await eventually(acknowledged, "the inbox acknowledgement")
    assert "O-E2E-APPROVE" in ack["subject"] and "林小雨" in ack["body_text"]
    [ack_mail] = await eventually(
        lambda: now(mails_about(stack, "O-E2E-APPROVE")), "the acknowledgement email"
    )
    assert ack_mail.to == "student@demo"
    assert ack_mail.message_id == message_id_for(f"refund-{refund_id}:refund_received:email")
    assert "¥1,799.10" in ack_mail.text and ack_mail.html and "¥1,799.10" in ack_mail.html

    # Only a reviewer decides, and only while the refund awaits review.
    await eventually(
        lambda: status_is(stack, refund_id, student, "awaiting_review"), "the refund to await review"
    )
    routed = await refund_status(stack, refund_id, reviewer)
    assert (routed["review_group"], routed["assigned_reviewer_id"]) == ("regular-courses", "U2001")
    assert routed["reason_code"] == "schedule_conflict"
    queue = (
        await stack.api.get("/api/refunds", headers=reviewer, params={"status": "awaiting_review"})
    ).json()
    assert refund_id in [r["refund_id"] for r in queue]
    # The workflow itself says who holds it and until when (its `status` and `timeline` queries).
    live = await stack.api.get(f"/api/refunds/{refund_id}/live", headers=reviewer)
    assert live.status_code == 200, live.text
    progress = live.json()["progress"]
    assert (progress["status"], progress["assigned_to"]) == ("awaiting_review", "U2001")
    assert (
        progress["details"].startswith("Awaiting review by ")
        and "(group 系统正价课), due" in progress["details"]
    )
    assert [step["event"] for step in live.json()["timeline"]] == ["refund.requested", "review.awaiting"]
    assert (await stack.api.get(f"/api/refunds/{refund_id}/live", headers=student)).status_code == 403

    # An admin edits the policy meanwhile: this refund keeps the version it was judged by.
    admin = await login(stack.api, "admin@demo")
    edited = await stack.api.put(
        "/api/policies/regular",
        headers=admin,
        json={"window": "days_after_start", "window_days": 7, "fee_bp": 0, "notice_channels": ["inbox"]},
    )
    assert edited.status_code == 201 and edited.json()["version"] == 2
    agent = await login(stack.api, "agent@demo")
    denied = await stack.api.post(
        f"/api/refunds/{refund_id}/decision", headers=agent, json={"decision": "approve"}
    )
    assert denied.status_code == 403
    approved = await stack.api.post(
        f"/api/refunds/{refund_id}/decision",
        headers=reviewer,
        json={"decision": "approve", "reason": "符合七天退款政策"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json() == {"refund_id": refund_id, "status": "approved", "being_recorded": False}

    # The sandbox gateway calls back; only that verified callback makes it refunded.
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the refund to be refunded")
    detail = await refund_status(stack, refund_id, student)
    assert (detail["amount_paid_fen"], detail["fee_fen"], detail["refund_amount_fen"]) == (
        199_900,
        19_990,
        179_910,
    )
    assert detail["decision_reason"] == "符合七天退款政策" and detail["decided_by"] == "U2001"
    assert detail["refunded_at"] is not None
    assert detail["policy_version"] == 1 and detail["policy"]["fee_bp"] == 1_000
    assert [step["event"] for step in detail["timeline"]][:5] == [
        "refund.requested",
        "review.awaiting",
        "review.approved",
        "gateway.requested",
        "gateway.succeeded",
    ]  # then enrollment.revoked, beside the notices

    late = await stack.api.post(
        f"/api/refunds/{refund_id}/decision",
        headers=reviewer,
        json={"decision": "reject", "reason": "改主意"},
    )
    assert late.status_code == 409

    mails = await eventually(
        lambda: now(len(mails_about(stack, "O-E2E-APPROVE")) == 3 and mails_about(stack, "O-E2E-APPROVE")),
        "three emails",
    )
    subjects = sorted(mail.subject for mail in mails)
    assert subjects == sorted(
        [
            "我们已收到您的退款申请（订单 O-E2E-APPROVE）",
            "您的退款申请已通过审核（订单 O-E2E-APPROVE）",
            "退款已到账（订单 O-E2E-APPROVE）",
        ]
    )
    assert len({mail.message_id for mail in mails}) == 3
    inbox = (await stack.api.get("/api/me/inbox", headers=student)).json()
    assert sorted(m["event"] for m in inbox["messages"] if m["case_id"] == refund_id) == [
        "refund_approved",
        "refund_received",
        "refund_succeeded",
    ]

    # The school's commerce system was told to revoke the course, once.
    async def revoked() -> list:
        revocations = (await stack.gateway.get("/sandbox/commerce/revocations")).json()
        return [r for r in revocations if r["refund_id"] == refund_id]

    [revocation] = await eventually(revoked, "the enrollment revocation")
    assert (revocation["order_id"], revocation["student_id"], revocation["requests"]) == (
        "O-E2E-APPROVE",
        "S1001",
        1,
    )

    # The CRM subscribed in the seed heard each step and tagged the student; the team saw it paid.
    async def crm_heard_refunded() -> list | None:
        events = (await stack.gateway.get("/sandbox/crm/events")).json()
        mine = [e for e in events if e["data"]["refund_id"] == refund_id]
        return mine if any(e["type"] == "refund.refunded" for e in mine) else None

    events = await eventually(crm_heard_refunded, "the refund.refunded webhook")
    assert sorted(e["type"] for e in events) == ["refund.approved", "refund.refunded", "refund.requested"]
    assert all(e["deliveries"] == 1 for e in events)
    assert "refunded" in (await stack.gateway.get("/sandbox/crm/tags/S1001")).json()

    async def paid_in_chat() -> list | None:
        room = (await stack.gateway.get("/sandbox/staff-chat")).json()
        return [m for m in room if refund_id in m["title"]] or None

    [chat] = await eventually(paid_in_chat, "the staff-chat message")
    assert "退款到账" in chat["title"] and "O-E2E-APPROVE" in chat["message"]

    # The refund's detail is the proof of what was sent: all of it for staff, their own for the student.
    reviewer_view = await refund_status(stack, refund_id, reviewer)
    sent = {(n["event"], n["channel"]): n for n in reviewer_view["notices"]}
    assert set(sent) == {
        *((event, channel) for event in TOLD for channel in ("inbox", "email", "sms")),
        ("team_refund_paid", "staff_chat"),
    }
    assert all(n["status"] == "sent" and n["attempts"] == 1 for n in sent.values())
    assert sent[("refund_succeeded", "email")]["recipient_address"] == "student@demo"
    assert sent[("refund_succeeded", "email")]["provider_response"]  # the SMTP server's answer
    student_view = (await refund_status(stack, refund_id, student))["notices"]
    assert {n["channel"] for n in student_view} == {"inbox", "email", "sms"}
    assert all(n["provider_response"] is None for n in student_view)

    sms = [m for m in (await stack.api.get("/dev/sms.json")).json() if "O-E2E-APPROVE" in m["text"]]
    assert len(sms) == 3 and {m["to"] for m in sms} == {"13800138000"}  # regular courses notify by SMS too
    outbox_page = (await stack.api.get("/dev/sms")).text  # the same outbox, as a page
    assert outbox_page.count("O-E2E-APPROVE") >= 3 and "13800138000" in outbox_page
    unmuted = {"locale": "zh-CN", "muted_channels": []}
    assert (await stack.api.put("/api/me/preferences", json=unmuted, headers=student)).status_code == 200

    ledger = (await stack.gateway.get("/sandbox/refunds")).json()
    assert ledger["requests_seen"][refund_id] == 1  # money moved once
    [gateway_record] = [r for r in ledger["refunds"] if r["out_refund_no"] == refund_id]
    assert gateway_record["amount"] == {"refund": 179_910, "total": 199_900, "currency": "CNY"}

    # All of it is back with the student: a second request has nothing left to refund.
    again = await stack.api.post(
        "/api/refunds", headers=student, json={"order_id": "O-E2E-APPROVE", "reason": "再退一次"}
    )
    assert again.status_code == 409 and "refunded in full" in again.text
    quote = (
        await stack.api.post("/api/refunds/quote", headers=student, json={"order_id": "O-E2E-APPROVE"})
    ).json()
    assert (quote["eligibility"], quote["refundable_fen"]) == ("ineligible", 0)

    handle = stack.client.get_workflow_handle(f"refund-{refund_id}")
    description = await handle.describe()
    assert description.typed_search_attributes.get(search_attributes.REFUND_STATUS) == "refunded"
    assert description.typed_search_attributes.get(search_attributes.ORDER_ID) == "O-E2E-APPROVE"
    # Nobody holds a refunded refund and no clock runs on it: both attributes are gone, not blank.
    assert description.typed_search_attributes.get(search_attributes.ASSIGNED_TO) is None
    assert description.typed_search_attributes.get(search_attributes.SLA_DUE_AT) is None
    # What a support lead reads in the Temporal UI: summary, details, memo and current details.
    assert await description.static_summary() == "Refund ¥1,799.10 of 机器学习系统正价课 for 林小雨"
    assert (await description.static_details()).startswith("Order O-E2E-APPROVE (regular course)")
    assert await description.memo_value("student_name") == "林小雨"
    assert await description.memo_value("course_name") == "机器学习系统正价课"
    metadata = await handle.query("__temporal_workflow_metadata")
    assert metadata.current_details.startswith("Refunded ¥1,799.10 via WeChat Pay at ")

    dev_mail = await stack.api.get("/dev/mail.json")
    assert any(m["subject"] == "退款已到账（订单 O-E2E-APPROVE）" for m in dev_mail.json())
    page = await stack.api.get("/dev/mail")
    assert page.status_code == 200 and "退款已到账（订单 O-E2E-APPROVE）" in page.text


async def test_a_rejected_refund_says_why_and_frees_the_order(stack: Stack) -> None:
    await push_order(stack, "O-E2E-REJECT", 9_900, course_type="trial")
    student = await login(stack.api, "student@demo")
    reviewer = await login(stack.api, "reviewer@demo")
    refund_id = (
        await stack.api.post(
            "/api/refunds", headers=student, json={"order_id": "O-E2E-REJECT", "reason": "不想学了"}
        )
    ).json()["refund_id"]
    await eventually(lambda: status_is(stack, refund_id, student, "awaiting_review"), "awaiting review")

    no_reason = await stack.api.post(
        f"/api/refunds/{refund_id}/decision", headers=reviewer, json={"decision": "reject"}
    )
    assert no_reason.status_code == 422
    rejected = await stack.api.post(
        f"/api/refunds/{refund_id}/decision",
        headers=reviewer,
        json={"decision": "reject", "reason": "体验课已结束，不在退款期内"},
    )
    assert rejected.json()["status"] == "rejected"
    detail = await refund_status(stack, refund_id, student)
    assert detail["status"] == "rejected" and detail["decision_reason"] == "体验课已结束，不在退款期内"

    rejection = await eventually(
        lambda: now([m for m in mails_about(stack, "O-E2E-REJECT") if m.subject.startswith("关于")]),
        "the rejection email",
    )
    assert "体验课已结束，不在退款期内" in rejection[0].text
    ledger = (await stack.gateway.get("/sandbox/refunds")).json()
    assert refund_id not in ledger["requests_seen"]

    # The order is free again: the student may ask once more.
    retry = await stack.api.post(
        "/api/refunds", headers=student, json={"order_id": "O-E2E-REJECT", "reason": "补充说明"}
    )
    assert retry.status_code == 202, retry.text


async def test_a_request_after_the_window_is_rejected_at_once_with_the_reason(stack: Stack) -> None:
    await push_order(
        stack,
        "O-E2E-LATE",
        990,
        course={
            "id": "C-LATE",
            "name": "Python 体验课",
            "type": "trial",
            "starts_at": "2026-01-05T19:00:00+08:00",
        },
        paid_at="2026-01-01T09:30:00+08:00",
    )
    student = await login(stack.api, "student@demo")
    quote = (
        await stack.api.post("/api/refunds/quote", headers=student, json={"order_id": "O-E2E-LATE"})
    ).json()
    assert quote["eligibility"] == "ineligible"
    assert quote["reason_text"] == "很抱歉，本课程的退款期限已于 2026-01-05 19:00 结束"

    refund_id = (
        await stack.api.post(
            "/api/refunds", headers=student, json={"order_id": "O-E2E-LATE", "reason": "没时间"}
        )
    ).json()["refund_id"]
    await eventually(lambda: status_is(stack, refund_id, student, "rejected"), "the automatic rejection")
    detail = await refund_status(stack, refund_id, student)
    assert (detail["decided_by"], detail["decision_reason"]) == ("policy", quote["reason_text"])
    [mail] = await eventually(lambda: now(mails_about(stack, "O-E2E-LATE")), "the rejection email")
    assert mail.subject == "关于您的退款申请（订单 O-E2E-LATE）" and quote["reason_text"] in mail.text


async def test_an_alipay_order_is_refunded_through_alipays_protocol(stack: Stack) -> None:
    trade = "2026112022001499990001"
    (await stack.gateway.put(f"/sandbox/trades/{trade}", params={"total_fen": 59_900})).raise_for_status()
    await push_order(
        stack,
        "O-E2E-ALIPAY",
        59_900,
        course={"id": "C-ALIPAY", "name": "英语口语体验课", "type": "trial"},
        gateway="alipay",
        trade_no=trade,
    )
    student = await login(stack.api, "student@demo")
    reviewer = await login(stack.api, "reviewer@demo")
    refund_id = (
        await stack.api.post(
            "/api/refunds", headers=student, json={"order_id": "O-E2E-ALIPAY", "reason": "时间冲突"}
        )
    ).json()["refund_id"]
    await eventually(lambda: status_is(stack, refund_id, student, "awaiting_review"), "awaiting review")
    approved = await stack.api.post(
        f"/api/refunds/{refund_id}/decision", headers=reviewer, json={"decision": "approve", "reason": "同意"}
    )
    assert approved.status_code == 200
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the Alipay refund")
    ledger = (await stack.gateway.get("/sandbox/refunds")).json()
    [record] = [r for r in ledger["refunds"] if r["out_refund_no"] == refund_id]
    assert (record["gateway"], record["amount"]["refund"], ledger["requests_seen"][refund_id]) == (
        "alipay",
        59_900,
        1,
    )

    # Alipay's notification comes after the refund is already settled; it is acknowledged all the same.
    async def notification_acknowledged() -> bool:
        records = (await stack.gateway.get("/sandbox/refunds")).json()["refunds"]
        return any(r["out_refund_no"] == refund_id and r.get("notifications_acknowledged") for r in records)

    await eventually(notification_acknowledged, "Alipay's notification to be answered `success`")


async def test_a_premium_refund_is_paid_only_after_the_managers_call(stack: Stack) -> None:
    await push_order(
        stack,
        "O-E2E-PREMIUM",
        1_980_000,
        course={"id": "C-PREMIUM-E2E", "name": "AI 工程师高端定制课", "type": "premium"},
        trade_no="4200000000000000099",
        contract={"refund_deadline": "2099-12-31T23:59:59+08:00", "fee_bp": 2_000},
    )
    student = await login(stack.api, "student@demo")
    quote = (
        await stack.api.post("/api/refunds/quote", headers=student, json={"order_id": "O-E2E-PREMIUM"})
    ).json()
    assert (quote["fee_fen"], quote["refund_amount_fen"], quote["needs_manager_confirmation"]) == (
        396_000,
        1_584_000,
        True,
    )
    refund_id = (
        await stack.api.post(
            "/api/refunds", headers=student, json={"order_id": "O-E2E-PREMIUM", "reason": "工作变动"}
        )
    ).json()["refund_id"]
    await eventually(lambda: status_is(stack, refund_id, student, "awaiting_review"), "awaiting review")
    reviewer = await login(stack.api, "reviewer@demo")
    await stack.api.post(f"/api/refunds/{refund_id}/decision", headers=reviewer, json={"decision": "approve"})
    await eventually(
        lambda: status_is(stack, refund_id, student, "awaiting_confirmation"), "the manager's call"
    )
    [call_mail] = await eventually(
        lambda: now([m for m in mails_about(stack, "O-E2E-PREMIUM") if "客户经理将致电" in m.subject]),
        "the call notice",
    )
    assert "视频回拨" in call_mail.text
    assert refund_id not in (await stack.gateway.get("/sandbox/refunds")).json()["requests_seen"]

    lead = await login(stack.api, "lead@demo")
    confirmed = await stack.api.post(
        f"/api/refunds/{refund_id}/confirmation",
        headers=lead,
        json={"outcome": "confirmed", "note": "已电话确认"},
    )
    assert confirmed.status_code == 200, confirmed.text
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the refund after the call")
    timeline = [step["event"] for step in (await refund_status(stack, refund_id, student))["timeline"]]
    assert timeline.index("confirmation.confirmed") < timeline.index("gateway.requested")


async def test_a_student_bound_to_wechat_hears_by_subscribe_message_when_the_policy_says_so(
    stack: Stack,
) -> None:
    admin = await login(stack.api, "admin@demo")
    student = await login(stack.api, "student@demo")
    reviewer = await login(stack.api, "reviewer@demo")
    trial = (await stack.api.get("/api/policies/trial", headers=admin)).json()
    terms = {name: trial[name] for name in PolicyTerms.model_fields}

    async def publish(channels: list[str]) -> None:
        answer = await stack.api.put(
            "/api/policies/trial", headers=admin, json={**terms, "notice_channels": channels}
        )
        assert answer.status_code == 201, answer.text

    await publish(["inbox", "email", "wechat"])
    bound = await stack.api.put("/api/me/wechat", headers=student, json={"code": "e2e-wx-login-code"})
    assert bound.json() == {"bound": True}
    try:
        await push_order(stack, "O-E2E-WECHAT", 9_900, course_type="trial")
        refund_id = (
            await stack.api.post(
                "/api/refunds", headers=student, json={"order_id": "O-E2E-WECHAT", "reason": "时间冲突"}
            )
        ).json()["refund_id"]
        await eventually(lambda: status_is(stack, refund_id, student, "awaiting_review"), "awaiting review")
        await stack.api.post(
            f"/api/refunds/{refund_id}/decision",
            headers=reviewer,
            json={"decision": "reject", "reason": "体验课已结束"},
        )

        async def wechat_messages() -> list | None:
            sent = (await stack.gateway.get("/sandbox/wechat/messages")).json()
            mine = [m for m in sent if m["data"]["character_string2"]["value"] == "O-E2E-WECHAT"]
            return mine if len(mine) == 2 else None

        messages = await eventually(wechat_messages, "two subscribe messages")
        assert sorted(m["template_id"] for m in messages) == [
            "dev-tmpl-refund_received",
            "dev-tmpl-refund_rejected",
        ]
        notices = (await refund_status(stack, refund_id, reviewer))["notices"]
        wechat = [n for n in notices if n["channel"] == "wechat"]
        assert len(wechat) == 2 and all(n["status"] == "sent" for n in wechat)
        assert all(n["provider_response"].startswith("WeChat msgid") for n in wechat)
    finally:
        await publish(terms["notice_channels"])
        await stack.api.delete("/api/me/wechat", headers=student)
