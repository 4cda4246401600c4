"""Complaints by WeChat: the Official Account's message server, spoken as WeChat speaks it —
signed query strings, XML messages, MsgId redeliveries, passive replies."""

from __future__ import annotations

import hashlib
import secrets
import time
from itertools import count
from xml.etree import ElementTree

from sqlmodel import select

from db.models import Complaint, IntakeMessage
from domain.roles import Role
from tests.api.complaint_stack import ComplaintStack, eventually, login, stage_of
from tests.factories import make_user

ACCOUNT = "gh_0123456789ab"
TOKEN = "devwechattoken"  # the setting's dev default
_msg_ids = count(24_000_000_000_000_000 + time.time_ns() % 10**12)


def signed_query(token: str = TOKEN, timestamp: int | None = None) -> dict[str, str]:
    """What WeChat puts on every call: sha1 over token, timestamp and nonce, sorted and joined."""
    stamp, nonce = str(timestamp or int(time.time())), secrets.token_hex(5)
    digest = hashlib.sha1("".join(sorted([token, stamp, nonce])).encode()).hexdigest()
    return {"signature": digest, "timestamp": stamp, "nonce": nonce, "openid": "ignored-by-us"}


def text_message(openid: str, content: str, msg_id: int) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def new_openid() -> str:
    return "oAbC" + secrets.token_hex(12)


async def push(stack: ComplaintStack, body: bytes, query: dict[str, str] | None = None):
    return await stack.api.post(
        "/api/intake/wechat",
        params=query or signed_query(),
        content=body,
        headers={"Content-Type": "text/xml"},
    )


def reply_of(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    root = ElementTree.fromstring(response.content)
    return {child.tag: child.text or "" for child in root}


async def test_wechat_checks_the_server_with_a_signed_echo(stack: ComplaintStack) -> None:
    good = await stack.api.get("/api/intake/wechat", params={**signed_query(), "echostr": "7413612739012"})
    assert (good.status_code, good.text) == (200, "7413612739012")
    forged = await stack.api.get(
        "/api/intake/wechat", params={**signed_query(token="someone-elses"), "echostr": "7413612739012"}
    )
    assert forged.status_code == 403 and "7413612739012" not in forged.text


async def test_a_message_opens_a_complaint_and_the_student_is_told_its_number_and_the_sla(
    stack: ComplaintStack,
) -> None:
    openid = new_openid()
    msg_id = next(_msg_ids)
    answered = reply_of(await push(stack, text_message(openid, "直播课一直卡顿，画面黑屏", msg_id)))
    customer = stack.user(wechat_oa_openid=openid)
    assert customer is not None and customer.email is None and customer.password_hash is None
    [complaint] = stack.complaints_of(customer.id)
    assert (complaint.channel, complaint.text) == ("wechat", "直播课一直卡顿，画面黑屏")
    assert (answered["ToUserName"], answered["FromUserName"], answered["MsgType"]) == (
        openid,
        ACCOUNT,
        "text",
    )
    assert complaint.id in answered["Content"]
    assert "10 分钟内" in answered["Content"]  # a technical problem: the first response within 10 minutes

    # WeChat had no answer in time and sends the same message again: one complaint, the same reply.
    again = reply_of(await push(stack, text_message(openid, "直播课一直卡顿，画面黑屏", msg_id)))
    assert again["Content"] == answered["Content"]
    assert len(stack.complaints_of(customer.id)) == 1
    await eventually(lambda: stage_of(stack, complaint.id) == "assigned", "assignment")


async def test_a_second_message_is_added_to_the_open_wechat_complaint(stack: ComplaintStack) -> None:
    openid = new_openid()
    reply_of(await push(stack, text_message(openid, "老师，第三章的作业批改看不明白", next(_msg_ids))))
    customer = stack.user(wechat_oa_openid=openid)
    assert customer is not None
    [complaint] = stack.complaints_of(customer.id)
    # Sent at once, possibly while the first is still being triaged: it is added all the same.
    follow_up_id = next(_msg_ids)
    follow_up = reply_of(await push(stack, text_message(openid, "是第二题", follow_up_id)))
    assert complaint.id in follow_up["Content"] and "补充" in follow_up["Content"]
    assert len(stack.complaints_of(customer.id)) == 1
    reply_of(await push(stack, text_message(openid, "是第二题", follow_up_id)))  # redelivered
    await eventually(lambda: stage_of(stack, complaint.id) == "assigned", "assignment")
    notes = [step.note for step in stack.steps_of(complaint.id) if step.event == "customer.replied"]
    assert notes == ["是第二题"]

    # Once resolved, the next message is a new complaint.
    agent = await login(stack.api, make_user(stack.sessions, Role.AGENT))
    resolved = await stack.api.post(
        f"/api/complaints/{complaint.id}/resolution",
        headers=agent,
        json={"code": "explained", "summary": "已讲解"},
    )
    assert resolved.status_code == 200, resolved.text
    await eventually(lambda: stage_of(stack, complaint.id) == "resolved", "the resolution")
    later = reply_of(await push(stack, text_message(openid, "第四章的视频也放不出来", next(_msg_ids))))
    complaints = stack.complaints_of(customer.id)
    assert len(complaints) == 2
    [new] = [c for c in complaints if c.id != complaint.id]
    assert new.id in later["Content"] and "收到" in later["Content"]


async def test_a_forged_or_stale_push_is_refused_and_writes_nothing(stack: ComplaintStack) -> None:
    openid = new_openid()
    before = stack.counts()
    forged = await push(stack, text_message(openid, "退款", next(_msg_ids)), signed_query(token="guessed"))
    assert forged.status_code == 403
    stale = await push(
        stack, text_message(openid, "退款", next(_msg_ids)), signed_query(timestamp=int(time.time()) - 3600)
    )
    assert stale.status_code == 403
    query = signed_query()
    unsigned = await push(
        stack, text_message(openid, "退款", next(_msg_ids)), {**query, "signature": "0" * 40}
    )
    assert unsigned.status_code == 403
    assert stack.counts() == before and stack.user(wechat_oa_openid=openid) is None


async def test_pictures_and_events_get_a_polite_answer_and_change_nothing(stack: ComplaintStack) -> None:
    openid = new_openid()
    before = stack.counts()
    image = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        f"<PicUrl><![CDATA[http://mmbiz.example/pic]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>"
        f"<MsgId>{next(_msg_ids)}</MsgId></xml>"
    ).encode()
    answered = reply_of(await push(stack, image))
    assert "文字" in answered["Content"] and answered["ToUserName"] == openid
    subscribe = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe]]></Event></xml>"
    ).encode()
    event = await push(stack, subscribe)
    assert (event.status_code, event.text) == (200, "success")
    assert stack.counts() == before


async def test_malformed_bodies_are_refused_and_write_nothing(stack: ComplaintStack) -> None:
    before = stack.counts()
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'
    no_msg_id = text_message(new_openid(), "退款", 1).replace(b"<MsgId>1</MsgId>", b"")
    for body in (b"not xml", bomb, no_msg_id, b"<other/>"):
        refused = await push(stack, body)
        assert refused.status_code == 422, refused.text
    assert stack.counts() == before
    with stack.sessions() as session:
        assert session.exec(select(IntakeMessage).where(IntakeMessage.channel == "email")).all() == []
        assert session.exec(select(Complaint).where(Complaint.text == "退款")).all() == []
