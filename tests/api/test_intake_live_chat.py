"""Complaints from live chat: staff post a finished chat's transcript for a customer named by any
identifier, and it becomes a live_chat complaint whose text is the transcript."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from domain.roles import Role
from tests.api.complaint_stack import ComplaintStack, eventually, login, stage_of
from tests.factories import make_user

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 20:00 in Beijing


def line(minute: int, speaker: str, text: str) -> dict:
    return {"at": (START + timedelta(minutes=minute)).isoformat(), "speaker": speaker, "text": text}


def phone() -> str:
    return "139" + str(secrets.randbelow(10**8)).zfill(8)


async def test_a_transcript_becomes_a_complaint_for_the_customer_on_the_line(stack: ComplaintStack) -> None:
    agent = await login(stack.api, make_user(stack.sessions, Role.AGENT))
    number = phone()
    chat = {
        "customer": {"phone": f"+86 {number[:3]} {number[3:7]} {number[7:]}"},
        "name": "赵同学",
        "chat_id": f"chat-{secrets.token_hex(4)}",
        "transcript": [
            line(0, "student", "你好，退款申请提交一周了还没有人处理"),
            line(1, "agent", "您好，请问订单号是多少？"),
            line(3, "student", "O-2026-1123\n是数据分析那门课"),
        ],
    }
    taken = await stack.api.post("/api/intake/live-chat", headers=agent, json=chat)
    assert taken.status_code == 202, taken.text
    answer = taken.json()
    customer = stack.user(id=answer["customer_id"])
    assert customer is not None
    assert (customer.phone, customer.display_name, answer["customer_created"]) == (number, "赵同学", True)
    [complaint] = stack.complaints_of(customer.id)
    assert complaint.channel == "live_chat"
    assert complaint.text == (
        "在线客服对话记录（2026-11-23 20:00–20:03 北京时间，共 3 条）\n"
        "[20:00] 学员：你好，退款申请提交一周了还没有人处理\n"
        "[20:01] 客服：您好，请问订单号是多少？\n"
        "[20:03] 学员：O-2026-1123\n    是数据分析那门课"
    )
    await eventually(lambda: stage_of(stack, complaint.id) == "assigned", "assignment")
    assert complaint.logged_by != customer.id  # the agent posted it

    again = await stack.api.post("/api/intake/live-chat", headers=agent, json=chat)
    assert (again.status_code, again.json()["duplicate"], again.json()["complaint_id"]) == (
        200,
        True,
        complaint.id,
    )
    # The same customer by the same number, written another way: the same record.
    later = {**chat, "chat_id": f"chat-{secrets.token_hex(4)}", "customer": {"phone": number}}
    second = await stack.api.post("/api/intake/live-chat", headers=agent, json=later)
    assert second.json()["customer_id"] == customer.id and not second.json()["customer_created"]
    assert len(stack.complaints_of(customer.id)) == 2


async def test_a_long_chat_keeps_its_start_and_end_within_the_complaint_limit(stack: ComplaintStack) -> None:
    lead = await login(stack.api, make_user(stack.sessions, Role.LEAD))
    student = make_user(stack.sessions, Role.STUDENT)
    transcript = [
        line(minute, "student" if minute % 2 == 0 else "agent", f"第 {minute} 条消息：" + "视频加载很慢" * 20)
        for minute in range(120)
    ]
    taken = await stack.api.post(
        "/api/intake/live-chat",
        headers=lead,
        json={"customer": {"student_id": student.id}, "transcript": transcript},
    )
    assert taken.status_code == 202, taken.text
    [complaint] = stack.complaints_of(student.id)
    assert len(complaint.text) <= 4000
    assert "第 0 条消息" in complaint.text and "第 119 条消息" in complaint.text
    assert "中间省略" in complaint.text


async def test_who_may_post_and_what_is_refused(stack: ComplaintStack) -> None:
    good = {"customer": {"phone": phone()}, "transcript": [line(0, "student", "课程打不开")]}
    for role in (Role.STUDENT, Role.FINANCE, Role.REVIEWER):
        headers = await login(stack.api, make_user(stack.sessions, role))
        assert (await stack.api.post("/api/intake/live-chat", headers=headers, json=good)).status_code == 403
    agent = await login(stack.api, make_user(stack.sessions, Role.AGENT))
    staff = make_user(stack.sessions, Role.FINANCE)
    before = stack.counts()
    refusals = [
        ({**good, "transcript": [line(0, "agent", "您好")]}, 422),  # the student never spoke
        ({**good, "customer": {"phone": phone(), "email": "a@b.cn"}}, 422),  # two identifiers
        ({**good, "customer": {"phone": "call me"}}, 422),
        ({**good, "transcript": [{"at": "2026-11-23T20:00:00", "speaker": "student", "text": "x"}]}, 422),
        ({**good, "transcript": [line(0, "student", "含有控制字符\x00")]}, 422),
        ({**good, "transcript": []}, 422),
        ({**good, "customer": {"email": staff.email}}, 422),  # staff are not customers
        ({**good, "customer": {"student_id": "S-NOBODY"}}, 404),
    ]
    for body, expected in refusals:
        refused = await stack.api.post("/api/intake/live-chat", headers=agent, json=body)
        assert refused.status_code == expected, (body, refused.text)
    assert stack.counts() == before
