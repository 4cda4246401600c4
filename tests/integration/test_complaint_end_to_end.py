"""A complaint through the HTTP API with everything real: the student's form, triage and routing to
the tech-support queue, an agent's note, reply and resolution, the follow-up survey, the archive;
the notices, the timeline and the CRM's webhook events on the way."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from itertools import count
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.api.test_intake_wechat import new_openid, signed_query, text_message
from tests.integration.conftest import Stack, running_stack
from tests.integration.journey import eventually, login, now, push_order, refund_status, status_is

pytestmark = pytest.mark.integration

WECHAT_MSG_IDS = count(25_000_000_000_000_000 + time.time_ns() % 10**12)


@pytest_asyncio.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    # The follow-up survey goes out as soon as a complaint is resolved, so the test can answer it.
    async with running_stack(
        temporal_env, database_url, tmp_path_factory.mktemp("data"), complaint_follow_up_after_minutes=0
    ) as running:
        yield running


async def detail(stack: Stack, complaint_id: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = await stack.api.get(f"/api/complaints/{complaint_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def stage_is(stack: Stack, complaint_id: str, headers: dict[str, str], stage: str) -> dict | None:
    found = await detail(stack, complaint_id, headers)
    return found if found["stage"] == stage else None


async def test_a_complaint_goes_from_the_web_form_to_the_archive(stack: Stack) -> None:
    student = await login(stack.api, "student@demo")
    agent = await login(stack.api, "agent@demo")
    filed = await stack.api.post(
        "/api/complaints", headers=student, json={"text": "今晚的直播课一直卡顿，老师的声音断断续续"}
    )
    assert filed.status_code == 202, filed.text
    complaint_id = filed.json()["complaint_id"]
    assigned = await eventually(
        lambda: stage_is(stack, complaint_id, student, "assigned"), "triage and routing"
    )
    assert (assigned["category"], assigned["department"], assigned["assigned_to"]) == (
        "technical",
        "tech_support",
        "U2002",
    )
    assert assigned["severity"] == "high"  # "一直"

    # Told at once, with the promised response time.
    async def acknowledged() -> list | None:
        inbox = (await stack.api.get("/api/me/inbox", headers=student)).json()["messages"]
        return [m for m in inbox if m["case_id"] == complaint_id] or None

    [ack] = await eventually(acknowledged, "the acknowledgement")
    assert ack["event"] == "complaint_received" and complaint_id in ack["subject"]

    queue = (await stack.api.get("/api/complaints?stage=assigned", headers=agent)).json()
    assert complaint_id in [c["complaint_id"] for c in queue]
    reviewer = await login(stack.api, "reviewer@demo")
    assert (await stack.api.get("/api/complaints", headers=reviewer)).status_code == 403

    url = f"/api/complaints/{complaint_id}"
    note = await stack.api.post(f"{url}/notes", headers=agent, json={"text": "华东线路抖动，已报运维"})
    assert note.status_code == 200
    assert (await stack.api.post(f"{url}/responses", headers=student, json={"text": "x"})).status_code == 403
    replied = await stack.api.post(
        f"{url}/responses", headers=agent, json={"text": "您好，已为您切换到备用线路，请刷新页面后重试。"}
    )
    assert replied.json()["stage"] == "in_progress"
    early = await stack.api.post(f"{url}/survey", headers=student, json={"satisfied": True})
    assert early.status_code == 409  # nobody asked yet
    resolved = await stack.api.post(
        f"{url}/resolution", headers=agent, json={"code": "fixed", "summary": "已切换备用线路并补发回放"}
    )
    assert resolved.json()["stage"] == "resolved"

    await eventually(lambda: stage_is(stack, complaint_id, student, "follow_up"), "the follow-up visit")
    answered = await stack.api.post(
        f"{url}/survey", headers=student, json={"satisfied": True, "comment": "处理很及时"}
    )
    assert answered.status_code == 200 and answered.json()["stage"] == "archived"

    mine = await detail(stack, complaint_id, student)
    assert mine["satisfied"] is True and mine["resolution_code"] == "fixed" and not mine["sla_breached"]
    assert "agent.note" not in [step["event"] for step in mine["timeline"]]  # internal
    staff_view = await detail(stack, complaint_id, agent)
    assert [step["event"] for step in staff_view["timeline"]] == [
        "complaint.received",
        "complaint.triaged",
        "complaint.assigned",
        "agent.note",
        "agent.replied",
        "complaint.resolved",
        "complaint.follow_up",
        "survey.answered",
        "complaint.archived",
    ]
    told = {(n["event"], n["channel"]) for n in staff_view["notices"]}
    assert {
        ("complaint_received", "email"),
        ("complaint_first_response", "inbox"),
        ("complaint_resolved", "email"),
        ("complaint_follow_up", "sms"),
    } <= told
    mails = await eventually(
        lambda: now([m for m in stack.mailbox.messages() if complaint_id in m.subject]), "the emails"
    )
    assert any(m.subject.startswith("我们已收到您的反馈") for m in mails)

    async def crm_heard() -> list | None:
        events = (await stack.gateway.get("/sandbox/crm/events")).json()
        types = [e["type"] for e in events if e["data"].get("complaint_id") == complaint_id]
        return types if "complaint.archived" in types else None

    assert set(await eventually(crm_heard, "complaint events at the CRM")) == {
        "complaint.received",
        "complaint.assigned",
        "complaint.first_response",
        "complaint.resolved",
        "complaint.archived",
    }


async def test_an_agent_logs_a_phone_call_for_a_student_and_bad_input_changes_nothing(stack: Stack) -> None:
    agent = await login(stack.api, "agent@demo")
    student = await login(stack.api, "student@demo")
    call = await stack.api.post(
        "/api/complaints",
        headers=agent,
        json={"text": "学员来电：申请的发票两周了还没开出来", "student_id": "S1001", "channel": "phone"},
    )
    assert call.status_code == 202, call.text
    complaint_id = call.json()["complaint_id"]
    logged = await eventually(lambda: stage_is(stack, complaint_id, agent, "assigned"), "routing")
    assert (logged["category"], logged["department"], logged["severity"], logged["channel"]) == (
        "service_fees",
        "customer_service",
        "high",  # a phone call is more pressing than a form
        "phone",
    )
    url = f"/api/complaints/{complaint_id}"
    asked = await stack.api.post(f"{url}/questions", headers=agent, json={"text": "请问是哪个订单的发票？"})
    assert asked.json()["stage"] == "awaiting_customer"
    answered = await stack.api.post(f"{url}/messages", headers=student, json={"text": "O-DEMO-1002 的发票"})
    assert answered.json()["stage"] == "in_progress"
    steps = [step["event"] for step in (await detail(stack, complaint_id, student))["timeline"]]
    assert steps[-2:] == ["agent.asked_customer", "customer.replied"]

    moved = await stack.api.post(
        f"{url}/transfer", headers=agent, json={"department": "academic", "reason": "教材发票归教务开具"}
    )
    assert moved.status_code == 200
    again = await stack.api.post(
        f"{url}/transfer", headers=agent, json={"department": "academic", "reason": "x"}
    )
    assert again.status_code == 409  # it is there already
    await stack.api.post(f"{url}/escalation", headers=agent, json={"reason": "学员第三次来电，要求主管处理"})
    escalated = await detail(stack, complaint_id, agent)
    assert (escalated["department"], escalated["assigned_to"], escalated["severity"]) == (
        "academic",
        "U2003",
        "urgent",
    )

    async def lead_told() -> list | None:
        room = (await stack.gateway.get("/sandbox/staff-chat")).json()
        return [m for m in room if complaint_id in m["title"]] or None

    [chat] = await eventually(lead_told, "the escalation on staff chat")
    assert "升级" in chat["title"] and "第三次来电" in chat["message"]

    before = (await stack.api.get("/api/complaints", headers=student)).json()
    for who, body in [
        (student, {"text": "帮别人提交", "student_id": "S1001", "channel": "phone"}),
        (agent, {"text": "没有说是谁的投诉"}),
        (student, {"text": "短"}),
        (student, {"text": "含有控制字符\x00的内容"}),
        (student, {"text": "订单不是我的订单", "order_id": "O-NOT-MINE"}),
    ]:
        refused = await stack.api.post("/api/complaints", headers=who, json=body)
        assert refused.status_code in (404, 422), (body, refused.text)
    assert (await stack.api.get("/api/complaints", headers=student)).json() == before


async def test_an_agent_compensates_within_the_quota_and_a_lead_approves_beyond_it(stack: Stack) -> None:
    student = await login(stack.api, "student@demo")
    agent = await login(stack.api, "agent@demo")
    lead = await login(stack.api, "lead@demo")
    filed = await stack.api.post(
        "/api/complaints",
        headers=student,
        json={"text": "数据分析课的回放一直放不出来，耽误了复习", "order_id": "O-DEMO-1002"},
    )
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_is(stack, complaint_id, student, "assigned"), "routing")
    url = f"/api/complaints/{complaint_id}/compensations"
    left_before = (await stack.api.get("/api/compensations/quota", headers=agent)).json()["coupon_fen_left"]

    coupon = await stack.api.post(
        url, headers=agent, json={"kind": "coupon", "amount_fen": 3_000, "reason": "回放故障影响复习"}
    )
    assert coupon.status_code == 200, coupon.text
    assert coupon.json()["status"] == "issuing"
    assert coupon.json()["quota"]["coupon_fen_left"] == left_before - 3_000
    reset = await stack.api.post(url, headers=agent, json={"kind": "progress_reset", "reason": "从头再学"})
    assert reset.json()["status"] == "issuing"
    big = await stack.api.post(
        url, headers=agent, json={"kind": "coupon", "amount_fen": 20_000, "reason": "学员要求全额补偿课时"}
    )
    assert big.json()["status"] == "awaiting_approval"
    big_id = big.json()["compensation_id"]
    own = await stack.api.post(f"{url}/{big_id}/decision", headers=agent, json={"approve": True})
    assert own.status_code == 403

    async def lead_asked() -> list | None:
        room = (await stack.gateway.get("/sandbox/staff-chat")).json()
        return [m for m in room if big_id in m["message"]] or None

    [asked] = await eventually(lead_asked, "the approval request on staff chat")
    assert "待审批" in asked["title"]
    approved = await stack.api.post(
        f"{url}/{big_id}/decision", headers=lead, json={"approve": True, "note": "同意，学员已等两周"}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "issuing"

    async def all_issued() -> dict | None:
        offers = (await stack.api.get("/api/compensations", headers=lead)).json()
        mine = {o["compensation_id"]: o for o in offers if o["complaint_id"] == complaint_id}
        return mine if len(mine) == 3 and {o["status"] for o in mine.values()} == {"issued"} else None

    offers = await eventually(all_issued, "the commerce system giving all three")
    by_id = {o["compensation_id"]: o for o in offers.values()}
    assert by_id[coupon.json()["compensation_id"]]["external_ref"].startswith("CPN-")
    assert by_id[reset.json()["compensation_id"]]["external_ref"].startswith("RST-")
    assert (by_id[big_id]["authority"], by_id[big_id]["decided_by"]) == ("lead", "U2003")
    given = [
        c
        for c in (await stack.gateway.get("/sandbox/commerce/compensations")).json()
        if c["compensation_id"] in by_id
    ]
    assert sorted(str(c.get("amount_fen") or c.get("order_id")) for c in given) == [
        "20000",
        "3000",
        "O-DEMO-1002",
    ]
    assert [c["requests"] for c in given] == [1, 1, 1]
    steps = [s["event"] for s in (await detail(stack, complaint_id, agent))["timeline"]]
    assert [s for s in steps if s.startswith("compensation.")].count("compensation.issued") == 3
    assert "compensation.awaiting_approval" in steps and "compensation.approved" in steps

    async def student_told() -> list | None:
        inbox = (await stack.api.get("/api/me/inbox", headers=student)).json()["messages"]
        told = [m for m in inbox if m["case_id"] == complaint_id and m["event"] == "compensation_given"]
        return told if len(told) == 3 else None

    told = await eventually(student_told, "the student told of each compensation")
    assert any("¥30.00" in m["body_text"] for m in told)


async def test_a_complaint_that_is_a_refund_request_follows_its_refund_to_the_money(stack: Stack) -> None:
    await push_order(stack, "O-E2E-COMPLAINT-REFUND", 199_900)
    student = await login(stack.api, "student@demo")
    agent = await login(stack.api, "agent@demo")
    reviewer = await login(stack.api, "reviewer@demo")
    filed = await stack.api.post(
        "/api/complaints",
        headers=student,
        json={"text": "课程内容和宣传完全不一样，我要退款", "order_id": "O-E2E-COMPLAINT-REFUND"},
    )
    complaint_id = filed.json()["complaint_id"]
    assigned = await eventually(lambda: stage_is(stack, complaint_id, agent, "assigned"), "routing")
    assert assigned["category"] == "service_fees"
    url = f"/api/complaints/{complaint_id}/refund"
    too_much = await stack.api.post(
        url, headers=agent, json={"reason": "课程与宣传不符", "amount_fen": 999_999}
    )
    assert too_much.status_code == 422
    not_theirs = await stack.api.post(url, headers=agent, json={"reason": "x", "order_id": "O-NOBODY"})
    assert not_theirs.status_code == 404
    assert (await stack.api.post(url, headers=student, json={"reason": "我自己来"})).status_code == 403

    asked = await stack.api.post(url, headers=agent, json={"reason": "课程与宣传不符，学员要求退款"})
    assert asked.status_code == 200, asked.text
    refund_id = asked.json()["refund_id"]
    again = await stack.api.post(url, headers=agent, json={"reason": "再来一次"})
    assert again.status_code == 409
    # The student's own request for the same order meets the refund already under way.
    own = await stack.api.post(
        "/api/refunds", headers=student, json={"order_id": "O-E2E-COMPLAINT-REFUND", "reason": "退款"}
    )
    assert own.status_code == 409 and own.json()["detail"]["refund_id"] == refund_id

    await eventually(lambda: status_is(stack, refund_id, student, "awaiting_review"), "the review")
    decided = await stack.api.post(
        f"/api/refunds/{refund_id}/decision",
        headers=reviewer,
        json={"decision": "approve", "reason": "课程与宣传不符，同意全额退款"},
    )
    assert decided.status_code == 200, decided.text

    # The sandbox settles and calls back; the verified callback pays the refund, which resolves the complaint.
    async def settled() -> dict | None:
        found = await detail(stack, complaint_id, student)
        return found if found["resolution_code"] == "refunded" else None

    # (The follow-up comes at once in this stack, so the stage may be past "resolved" already.)
    resolved = await eventually(settled, "the money back")
    assert resolved["resolution_code"] == "refunded" and refund_id in resolved["resolution_summary"]
    assert (await refund_status(stack, refund_id, student))["status"] == "refunded"
    steps = [s["event"] for s in resolved["timeline"]]
    assert steps[3:6] == ["refund.requested", "refund.refunded", "complaint.resolved"]
    described = await stack.client.get_workflow_handle(f"refund-{refund_id}").describe()
    assert (
        described.raw_description.workflow_execution_info.parent_execution.workflow_id
        == f"complaint-{complaint_id}"
    )


async def test_an_agent_invites_the_student_into_a_video_room(stack: Stack) -> None:
    student = await login(stack.api, "student@demo")
    agent = await login(stack.api, "agent@demo")
    filed = await stack.api.post(
        "/api/complaints", headers=student, json={"text": "电脑上视频一直黑屏，放不出来"}
    )
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_is(stack, complaint_id, student, "assigned"), "routing")
    url = f"/api/complaints/{complaint_id}/video-room"
    assert (await stack.api.post(url, headers=student, json={})).status_code == 403
    naive = await stack.api.post(url, headers=agent, json={"starts_at": "2026-11-24T20:00:00"})
    assert naive.status_code == 422  # a time without its zone is ambiguous

    invited = await stack.api.post(
        url, headers=agent, json={"starts_at": "2026-11-24T20:00:00+08:00", "note": "请用出问题的那台电脑"}
    )
    assert invited.status_code == 200, invited.text
    room_url = invited.json()["room_url"]
    assert room_url.startswith(f"{stack.settings.sandbox_base_url}/sandbox/video/aftercare-")
    page = await stack.gateway.get(room_url.removeprefix(stack.settings.sandbox_base_url))
    assert page.status_code == 200 and "aftercare-" in page.text

    async def invitation() -> list | None:
        inbox = (await stack.api.get("/api/me/inbox", headers=student)).json()["messages"]
        return [m for m in inbox if m["case_id"] == complaint_id and m["event"] == "video_invitation"] or None

    [message] = await eventually(invitation, "the invitation in the student's inbox")
    assert room_url in message["body_text"] and "2026-11-24 20:00" in message["body_text"]


async def test_a_customer_who_only_writes_on_wechat_gets_the_agents_reply_there(stack: Stack) -> None:
    """Nothing but an openid is known of them: the reply goes to the Official Account's chat (the
    sandbox's WeChat, with the account's token); once their 48 hours are over WeChat refuses, and
    that refusal is on record and not tried again."""
    agent = await login(stack.api, "agent@demo")
    openid = new_openid()
    pushed = await stack.api.post(
        "/api/intake/wechat",
        params=signed_query(),
        content=text_message(openid, "直播课一直卡顿，画面黑屏", next(WECHAT_MSG_IDS)),
        headers={"Content-Type": "text/xml"},
    )
    assert pushed.status_code == 200, pushed.text
    [complaint_id] = re.findall(
        r"CP[0-9A-F]+", ElementTree.fromstring(pushed.content).findtext("Content", "")
    )
    await eventually(lambda: stage_is(stack, complaint_id, agent, "assigned"), "routing")
    url = f"/api/complaints/{complaint_id}"
    replied = await stack.api.post(
        f"{url}/responses", headers=agent, json={"text": "您好，已为您切换到备用线路，请刷新页面后重试。"}
    )
    assert replied.status_code == 200, replied.text

    async def on_wechat() -> list | None:
        sent = (await stack.gateway.get("/sandbox/wechat-oa/messages")).json()
        return [m for m in sent if m["touser"] == openid] or None

    [message] = await eventually(on_wechat, "the reply in the customer's WeChat chat")
    content = message["text"]["content"]
    assert message["msgtype"] == "text" and complaint_id in content and "切换到备用线路" in content

    async def wechat_notices() -> list | None:
        notices = (await detail(stack, complaint_id, agent))["notices"]
        return [n for n in notices if n["channel"] == "wechat_oa" and n["status"] in ("sent", "failed")]

    [sent] = await eventually(wechat_notices, "the notice on record")
    assert (sent["event"], sent["status"], sent["recipient_address"], sent["provider_response"]) == (
        "complaint_first_response",
        "sent",
        openid,
        "WeChat Official Account: 0 ok",
    )

    # Two days later the customer has not written again: WeChat refuses the agent's question.
    window = await stack.gateway.put(f"/sandbox/wechat-oa/windows/{openid}", json={"open": False})
    assert window.status_code == 200
    asked = await stack.api.post(f"{url}/questions", headers=agent, json={"text": "请问是手机还是电脑上课？"})
    assert asked.status_code == 200, asked.text

    async def refused() -> list | None:
        notices = await wechat_notices()
        return [n for n in notices or [] if n["status"] == "failed"] or None

    [failed] = await eventually(refused, "the refusal on record")
    assert failed["attempts"] == 1 and "45015" in failed["provider_response"]
    assert len(await on_wechat() or []) == 1
    asked_in_inbox = [
        n
        for n in (await detail(stack, complaint_id, agent))["notices"]
        if n["channel"] == "inbox" and n["event"] == "complaint_first_response"
    ]
    assert len(asked_in_inbox) == 2  # the reply and the question, both kept in the inbox


async def test_the_survey_link_is_answered_without_signing_in(stack: Stack) -> None:
    student = await login(stack.api, "student@demo")
    agent = await login(stack.api, "agent@demo")
    filed = await stack.api.post("/api/complaints", headers=student, json={"text": "作业批改结果一直看不到"})
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_is(stack, complaint_id, student, "assigned"), "routing")
    url = f"/api/complaints/{complaint_id}"
    await stack.api.post(
        f"{url}/resolution", headers=agent, json={"code": "fixed", "summary": "已修复批改显示"}
    )
    await eventually(lambda: stage_is(stack, complaint_id, student, "follow_up"), "the follow-up")

    async def survey_notice() -> list | None:
        inbox = (await stack.api.get("/api/me/inbox", headers=student)).json()["messages"]
        return [
            m for m in inbox if m["case_id"] == complaint_id and m["event"] == "complaint_follow_up"
        ] or None

    [notice] = await eventually(survey_notice, "the follow-up notice")
    [link] = re.findall(r"https?://\S+/survey/\S+", notice["body_text"])
    path = link.split("://", 1)[1].split("/", 1)[1]
    async with httpx.AsyncClient(base_url=stack.api_url) as browser:  # nobody signed in
        page = await browser.get(f"/{path}")
        assert page.status_code == 200 and 'name="satisfied"' in page.text
        forged = await browser.get(f"/survey/{complaint_id}?t=0000")
        assert forged.status_code == 404
        token = path.split("t=", 1)[1]
        elsewhere = await browser.post(
            f"/survey/{complaint_id}",
            data={"t": token, "satisfied": "no"},
            headers={"origin": "http://evil.example"},
        )
        assert elsewhere.status_code == 403
        answered = await browser.post(
            f"/survey/{complaint_id}",
            data={"t": token, "satisfied": "no", "comment": "还是看不到"},
            headers={"origin": stack.api_url},
        )
        assert answered.status_code == 200 and 'role="status"' in answered.text
    reopened = await detail(stack, complaint_id, agent)
    assert reopened["stage"] == "in_progress" and reopened["timeline"][-1]["event"] == "complaint.reopened"


async def test_an_action_sent_again_with_its_idempotency_key_is_taken_once(stack: Stack) -> None:
    """After a 503 the action may have been taken all the same; sent again with the same key, it is
    taken once (the key names the Temporal update), while a new key is a new action."""
    student = await login(stack.api, "student@demo")
    agent = await login(stack.api, "agent@demo")
    filed = await stack.api.post(
        "/api/complaints", headers=student, json={"text": "直播课的画面一直卡住不动"}
    )
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_is(stack, complaint_id, student, "assigned"), "routing")
    url = f"/api/complaints/{complaint_id}/responses"
    reply = {"text": "您好，请刷新页面后重试。"}
    once = {**agent, "Idempotency-Key": "reply-1-of-agent-console"}
    first = await stack.api.post(url, headers=once, json=reply)
    again = await stack.api.post(url, headers=once, json=reply)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json() == first.json()
    steps = [step["event"] for step in (await detail(stack, complaint_id, agent))["timeline"]]
    assert steps.count("agent.replied") == 1
    other = await stack.api.post(
        url, headers={**agent, "Idempotency-Key": "reply-2-of-agent-console"}, json=reply
    )
    assert other.status_code == 200
    steps = [step["event"] for step in (await detail(stack, complaint_id, agent))["timeline"]]
    assert steps.count("agent.replied") == 2
    short = await stack.api.post(url, headers={**agent, "Idempotency-Key": "x"}, json=reply)
    assert short.status_code == 422
