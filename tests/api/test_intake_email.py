"""Complaints by email: the inbound relay's signed POST opens a complaint for the sender (a new
customer record when nobody has that address), the same Message-ID twice is one complaint, a reply
naming an open complaint is added to it, and anything forged, misaddressed or malformed changes
nothing. The last test sends real SMTP through the dev mailbox, which relays to the API."""

from __future__ import annotations

import json
import time
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlmodel import select

from db.models import IntakeMessage
from devstack.mailbox import ComplaintInboxRelay, read_mailbox, start_mailbox
from devstack.processes import free_port
from domain.notifications import Channel, NoticeEvent
from domain.roles import Role
from integrations.signed_post import signed_headers
from tests.api.complaint_stack import ComplaintStack, eventually, login, stage_of
from tests.factories import make_user

INBOX = "complaints@aftercare.local"  # the setting's default


def email_from(sender: str, subject: str, text: str, message_id: str, to: str = INBOX) -> dict:
    return {"from": sender, "to": [to], "subject": subject, "text": text, "message_id": message_id}


async def deliver(
    stack: ComplaintStack, payload: dict, *, secret: str | None = None, now: float | None = None
):
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = signed_headers(secret or stack.settings.intake_secret.get_secret_value(), body, now=now)
    return await stack.api.post("/api/intake/email", content=body, headers=headers)


def unique(label: str) -> str:
    return f"{label}-{time.time_ns()}"


async def test_an_email_from_a_new_address_opens_a_complaint_for_a_new_customer(
    stack: ComplaintStack,
) -> None:
    address = f"{unique('lin')}@Example.CN"
    sender = f"=?utf-8?b?5p6X5bCP6Zuo?= <{address}>"  # 林小雨, as a mail client encodes it
    taken = await deliver(
        stack,
        email_from(
            sender,
            "直播课一直卡顿",
            "老师好，今晚七点的直播课一直卡顿，声音也断断续续。",
            f"<{unique('m')}@mail>",
        ),
    )
    assert taken.status_code == 202, taken.text
    answer = taken.json()
    assert (answer["outcome"], answer["duplicate"], answer["customer_created"]) == ("complaint", False, True)

    customer = stack.user(id=answer["customer_id"])
    assert customer is not None
    assert (customer.email, customer.display_name, customer.role) == (address.lower(), "林小雨", "student")
    assert customer.password_hash is None  # no usable password: a login is refused
    login_attempt = await stack.api.post("/api/auth/token", data={"username": address, "password": "guess"})
    assert login_attempt.status_code == 401

    [complaint] = stack.complaints_of(customer.id)
    assert (complaint.id, complaint.channel) == (answer["complaint_id"], "email")
    assert complaint.text == "直播课一直卡顿\n\n老师好，今晚七点的直播课一直卡顿，声音也断断续续。"
    await eventually(lambda: stage_of(stack, complaint.id) == "assigned", "triage and assignment")

    def told() -> list:
        return [
            n
            for n in stack.fakes.notices
            if n.case_id == complaint.id and n.event is NoticeEvent.COMPLAINT_RECEIVED
        ]

    notices = await eventually(lambda: len(told()) >= 2 and told(), "the acknowledgement")
    assert {n.channel for n in notices} == {Channel.INBOX, Channel.EMAIL}  # no phone, no WeChat
    assert {n.recipient.email for n in notices if n.channel is Channel.EMAIL} == {address.lower()}
    assert notices[0].context["first_response_due_at"]  # the SLA the student is promised


async def test_the_same_message_delivered_twice_is_one_complaint(stack: ComplaintStack) -> None:
    payload = email_from(
        f"{unique('dup')}@example.cn", "发票", "申请的发票两周了还没开出来", f"<{unique('d')}@mail>"
    )
    first = await deliver(stack, payload)
    again = await deliver(stack, payload)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["complaint_id"] == first.json()["complaint_id"]
    assert len(stack.complaints_of(first.json()["customer_id"])) == 1
    with stack.sessions() as session:
        rows = session.exec(
            select(IntakeMessage).where(IntakeMessage.complaint_id == first.json()["complaint_id"])
        )
        assert [row.outcome for row in rows] == ["complaint"]


async def test_a_reply_naming_an_open_complaint_is_added_to_it(stack: ComplaintStack) -> None:
    sender = f"{unique('reply')}@example.cn"
    opened = await deliver(
        stack, email_from(sender, "课程回放打不开", "回放一直加载", f"<{unique('o')}@mail>")
    )
    complaint_id = opened.json()["complaint_id"]
    await eventually(lambda: stage_of(stack, complaint_id) == "assigned", "assignment")

    reply = email_from(
        sender,
        f"Re: 我们已收到您的反馈（编号 {complaint_id}）",
        "补充：我用的是 Chrome 浏览器。\n\n"
        "在 2026年11月23日 20:00，Aftercare 写道：\n> 我们已收到您的反馈\n> 编号",
        f"<{unique('r')}@mail>",
    )
    added = await deliver(stack, reply)
    assert added.status_code == 202, added.text
    assert (added.json()["outcome"], added.json()["complaint_id"]) == ("message", complaint_id)
    assert (await deliver(stack, reply)).json()["duplicate"] is True  # the relay retried

    replies = [step for step in stack.steps_of(complaint_id) if step.event == "customer.replied"]
    assert [step.note for step in replies] == ["补充：我用的是 Chrome 浏览器。"]  # once, without the quote
    assert len(stack.complaints_of(opened.json()["customer_id"])) == 1

    # Someone else naming that complaint in a subject opens their own instead.
    stranger = await deliver(
        stack,
        email_from(
            f"{unique('x')}@example.cn", f"Re: {complaint_id}", "我也有这个问题", f"<{unique('s')}@m>"
        ),
    )
    assert stranger.json()["outcome"] == "complaint" and stranger.json()["complaint_id"] != complaint_id


async def test_forged_stale_or_tampered_deliveries_change_nothing(stack: ComplaintStack) -> None:
    payload = email_from(f"{unique('forged')}@example.cn", "退款", "我要退款", f"<{unique('f')}@mail>")
    before = stack.counts()
    assert (await deliver(stack, payload, secret="not-the-secret")).status_code == 401
    assert (await deliver(stack, payload, now=time.time() - 3600)).status_code == 401  # a replay
    body = json.dumps(payload).encode()
    headers = signed_headers(stack.settings.intake_secret.get_secret_value(), body)
    tampered = body.replace(b"forged", b"victim")
    assert (await stack.api.post("/api/intake/email", content=tampered, headers=headers)).status_code == 401
    unsigned = await stack.api.post(
        "/api/intake/email", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert stack.counts() == before
    assert stack.user(email=payload["from"]) is None


async def test_misaddressed_malformed_or_staff_mail_is_refused_with_the_field(stack: ComplaintStack) -> None:
    agent = make_user(stack.sessions, Role.AGENT)
    before = stack.counts()
    cases = [
        (email_from("a@example.cn", "退款", "我要退款", "<1@m>", to="sales@aftercare.local"), "to"),
        (email_from("not an address", "退款", "我要退款", "<2@m>"), "from"),
        (email_from(agent.email, "测试", "内部转发", "<3@m>"), "from"),  # staff, not a customer
        (email_from(INBOX, "Re: 退款", "自动回复", "<4@m>"), "from"),  # our own mail: no loops
        (email_from("b@example.cn", "", "  \n> 只有引用\n", "<5@m>"), "text"),
        (email_from("b@example.cn", "退款", "我要退款", " <> "), "message_id"),
        (
            {k: v for k, v in email_from("c@example.cn", "退款", "x", "<6@m>").items() if k != "message_id"},
            "message_id",
        ),
    ]
    for payload, field in cases:
        refused = await deliver(stack, payload)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["detail"][0]["loc"] == ["body", field], refused.text
    assert stack.counts() == before


async def test_mail_sent_to_the_dev_mailbox_reaches_the_api_and_keeps_a_copy(
    stack: ComplaintStack, tmp_path
) -> None:
    relay = ComplaintInboxRelay(
        INBOX, f"{stack.api.base_url}/api/intake/email", stack.settings.intake_secret.get_secret_value()
    )
    port = free_port()
    controller = start_mailbox(tmp_path / "mailbox", port=port, relay=relay)
    try:
        sender = f"{unique('smtp')}@example.cn"
        message = EmailMessage()
        message["From"] = f"王同学 <{sender}>"
        message["To"] = INBOX
        message["Subject"] = "作业批改有误"
        message["Message-ID"] = f"<{unique('smtp')}@example.cn>"
        message.set_content("第三章作业第二题的批改好像不对。")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
        other = EmailMessage()
        other["From"], other["To"], other["Subject"] = sender, "someone@aftercare.local", "not a complaint"
        other.set_content("hello")
        await aiosmtplib.send(other, hostname="127.0.0.1", port=port)
    finally:
        controller.stop()
    customer = stack.user(email=sender)
    assert customer is not None and customer.display_name == "王同学"
    [complaint] = stack.complaints_of(customer.id)
    assert complaint.text == "作业批改有误\n\n第三章作业第二题的批改好像不对。"
    assert sorted(mail.subject for mail in read_mailbox(tmp_path / "mailbox")) == [
        "not a complaint",
        "作业批改有误",
    ]


async def test_the_dev_mailbox_tells_the_sender_to_retry_while_the_api_is_down(tmp_path) -> None:
    relay = ComplaintInboxRelay(INBOX, f"http://127.0.0.1:{free_port()}/api/intake/email", "secret")
    port = free_port()
    controller = start_mailbox(tmp_path / "mailbox", port=port, relay=relay)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.cn", INBOX, "退款"
        message.set_content("我要退款")
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
        assert refused.value.code == 451  # the sender keeps it and tries again later
    finally:
        controller.stop()
    assert read_mailbox(tmp_path / "mailbox") == []


async def test_an_agent_sees_the_email_complaint_in_the_customers_history(stack: ComplaintStack) -> None:
    taken = await deliver(
        stack, email_from(f"{unique('h')}@example.cn", "退款", "请帮我退款", f"<{unique('h')}@m>")
    )
    customer_id, complaint_id = taken.json()["customer_id"], taken.json()["complaint_id"]
    await eventually(lambda: stage_of(stack, complaint_id) == "assigned", "assignment")
    agent = await login(stack.api, make_user(stack.sessions, Role.AGENT))
    history = (await stack.api.get(f"/api/customers/{customer_id}/history", headers=agent)).json()
    assert history["complaints"] == [complaint_id]
    assert [item["event"] for item in history["items"] if item["kind"] == "step"][:3] == [
        "complaint.received",
        "complaint.triaged",
        "complaint.assigned",
    ]
