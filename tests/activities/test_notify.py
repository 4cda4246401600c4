from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities, message_id_for
from db.engine import SessionFactory
from db.models import AuditEvent, NoticeTemplateVersion, Notification
from db.template_store import TemplateStore
from devstack.processes import free_port
from devstack.sandbox_wechat import DEV_OFFICIAL_APP_ID, DEV_OFFICIAL_APP_SECRET, sandbox_wechat_router
from devstack.school_systems import STAFF_CHAT_PATH, school_systems_router
from domain.notice_variables import sample_context
from domain.notifications import TEAM, Channel, NoticeEvent, NotifyInput, Recipient, notification_id_for
from domain.roles import Role
from integrations.delivery import PermanentDeliveryError
from integrations.mail import SmtpConfig, SmtpMailer
from integrations.notice_renderer import NoticeRenderer, SupportContact
from integrations.sms import DevSmsOutbox, SmsMessage, SmsSender
from integrations.staff_chat import StaffChat
from integrations.wechat_official_messages import WeChatCustomerServiceMessages
from tests.factories import make_user
from tests.http_server import serving
from tests.integrations.test_notice_renderer import CONTEXT, blocks
from tests.mail_server import running_mailbox

SUPPORT = SupportContact(phone="400-000-0000", email="help@school.test", hours="09:00-21:00")


def _activities(
    sessions: SessionFactory, host: str, port: int, sms: SmsSender | None = None
) -> NotifyActivities:
    mailer = SmtpMailer(SmtpConfig(host=host, port=port, timeout_seconds=2))
    outbox = sms or DevSmsOutbox(Path(tempfile.mkdtemp()) / "sms.jsonl")
    return NotifyActivities(
        sessions, NoticeRenderer(SUPPORT), mailer, "Aftercare <service@aftercare.local>", outbox
    )


def _evidence(sessions: SessionFactory, case_id: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.case_id == case_id)))


def _notice(
    user_id: str, channel: Channel, email: str | None, workflow_id: str, phone: str | None = None
) -> NotifyInput:
    return NotifyInput(
        notification_id=notification_id_for(workflow_id, NoticeEvent.REFUND_RECEIVED, channel),
        case_type="refund",
        case_id=workflow_id.removeprefix("refund-"),
        event=NoticeEvent.REFUND_RECEIVED,
        channel=channel,
        recipient=Recipient(user_id=user_id, name="林小雨", email=email, phone=phone, locale="zh-CN"),
        context=CONTEXT,
    )


async def test_an_inbox_notice_is_stored_once_however_often_it_is_sent(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    notify = _activities(sessions, "127.0.0.1", free_port())
    notice = _notice(student.id, Channel.INBOX, None, "refund-RFINBOX1")
    env = ActivityEnvironment()
    for _ in range(3):  # the activity retried after a crash, and again
        await env.run(notify.send_notice, notice)
    with sessions() as session:
        rows = session.exec(select(Notification).where(Notification.recipient_user_id == student.id)).all()
    assert len(rows) == 1
    assert rows[0].status == "sent" and rows[0].read_at is None
    assert "O-778899" in rows[0].subject and "林小雨" in rows[0].body_text
    # Its rendered copy is on the refund's audit trail, once.
    [kept] = _evidence(sessions, "RFINBOX1")
    assert (kept.event, kept.seq) == ("notice.sent", 1)
    assert kept.detail["text"] == rows[0].body_text and kept.detail["subject"] == rows[0].subject
    assert kept.detail["channel"] == "inbox" and kept.detail["template"] == rows[0].template


async def test_an_email_is_sent_once_with_a_message_id_derived_from_the_notice(
    sessions: SessionFactory, tmp_path
) -> None:
    student = make_user(sessions, Role.STUDENT)
    with running_mailbox(tmp_path / "mail") as mailbox:
        notify = _activities(sessions, mailbox.host, mailbox.port)
        notice = _notice(student.id, Channel.EMAIL, student.email, "refund-RFMAIL1")
        env = ActivityEnvironment()
        await env.run(notify.send_notice, notice)
        await env.run(notify.send_notice, notice)  # a retry after success sends nothing more
        [mail] = mailbox.messages()
    assert mail.to == student.email
    assert mail.message_id == message_id_for(notice.notification_id)
    assert mail.reply_to is None  # a refund's notices are not answered to the complaints inbox
    assert "O-778899" in mail.subject
    assert mail.html is not None and "&lt;script&gt;" in mail.html
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert (
        row is not None
        and row.status == "sent"
        and row.attempts == 1
        and row.recipient_address == student.email
    )


async def test_a_refused_address_fails_for_good_and_is_recorded(sessions: SessionFactory, tmp_path) -> None:
    student = make_user(sessions, Role.STUDENT)
    with running_mailbox(tmp_path / "mail") as mailbox:
        notify = _activities(sessions, mailbox.host, mailbox.port)
        notice = _notice(student.id, Channel.EMAIL, "bounce@example.test", "refund-RFBOUNCE")
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(notify.send_notice, notice)
    assert raised.value.non_retryable and raised.value.type == "PermanentDeliveryError"
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None and row.status == "failed" and "550" in (row.provider_response or "")
    [kept] = _evidence(sessions, "RFBOUNCE")
    assert kept.event == "notice.failed" and kept.detail["recipient_address"] == "bounce@example.test"
    assert "550" in kept.detail["provider_response"] and kept.detail["text"] == row.body_text

    # The workflow sends it by SMS instead: the new row says what it replaces, the old one that it was.
    outbox = DevSmsOutbox(tmp_path / "sms.jsonl")
    by_sms = notice.model_copy(
        update={
            "notification_id": f"{notice.notification_id}:fallback:sms",
            "channel": Channel.SMS,
            "recipient": notice.recipient.model_copy(update={"phone": "13800138000"}),
            "fallback_of": notice.notification_id,
        }
    )
    await ActivityEnvironment().run(
        _activities(sessions, "127.0.0.1", free_port(), sms=outbox).send_notice, by_sms
    )
    with sessions() as session:
        replaced = session.get(Notification, notice.notification_id)
        replacement = session.get(Notification, by_sms.notification_id)
    assert replaced is not None and replaced.status == "fallback"
    assert replacement is not None and (replacement.status, replacement.fallback_of) == (
        "sent",
        notice.notification_id,
    )
    assert [m["to"] for m in outbox.messages()] == ["13800138000"]


async def test_a_down_mail_server_is_retried_and_the_attempt_recorded(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    notify = _activities(sessions, "127.0.0.1", free_port())
    notice = _notice(student.id, Channel.EMAIL, student.email, "refund-RFDOWN")
    with pytest.raises(Exception) as raised:
        await ActivityEnvironment().run(notify.send_notice, notice)
    assert not isinstance(raised.value, ApplicationError)  # plain error: the retry policy applies
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None and row.status == "retried" and row.attempts == 1
    assert "attempt 1" in (row.provider_response or "")


async def test_an_sms_is_sent_once_and_its_text_stored(sessions: SessionFactory, tmp_path) -> None:
    student = make_user(sessions, Role.STUDENT)
    outbox = DevSmsOutbox(tmp_path / "sms.jsonl")
    notify = _activities(sessions, "127.0.0.1", free_port(), sms=outbox)
    notice = _notice(student.id, Channel.SMS, None, "refund-RFSMS1", phone="13800138000")
    env = ActivityEnvironment()
    await env.run(notify.send_notice, notice)
    await env.run(notify.send_notice, notice)
    [message] = outbox.messages()
    assert message["to"] == "13800138000" and message["message_id"] == notice.notification_id
    assert "O-778899" in message["text"] and message["text"].startswith("【网校】林小雨同学")
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert (
        row is not None
        and row.status == "sent"
        and row.body_text == message["text"]
        and row.body_html is None
    )


class RefusingSms:
    async def send(self, message: SmsMessage) -> str:
        raise PermanentDeliveryError(f"isv.MOBILE_NUMBER_ILLEGAL {message.phone}")


async def test_a_number_the_provider_refuses_fails_for_good(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    notify = _activities(sessions, "127.0.0.1", free_port(), sms=RefusingSms())
    notice = _notice(student.id, Channel.SMS, None, "refund-RFSMSBAD", phone="123")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(notify.send_notice, notice)
    assert raised.value.non_retryable and raised.value.type == "PermanentDeliveryError"
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert (
        row is not None
        and row.status == "failed"
        and "MOBILE_NUMBER_ILLEGAL" in (row.provider_response or "")
    )


def _team_notice(workflow_id: str) -> NotifyInput:
    return NotifyInput(
        notification_id=notification_id_for(workflow_id, NoticeEvent.TEAM_REFUND_PAID, Channel.STAFF_CHAT),
        case_type="refund",
        case_id=workflow_id.removeprefix("refund-"),
        event=NoticeEvent.TEAM_REFUND_PAID,
        channel=Channel.STAFF_CHAT,
        recipient=TEAM,
        context=CONTEXT,
    )


async def test_a_staff_chat_message_is_posted_once_and_stored(sessions: SessionFactory) -> None:
    room = FastAPI()
    room.include_router(school_systems_router())
    port = free_port()
    async with serving(room, port) as url:
        notify = _activities(sessions, "127.0.0.1", free_port())
        notify.staff_chat = StaffChat([f"json://127.0.0.1:{port}{STAFF_CHAT_PATH}"])
        notice = _team_notice("refund-RFCHAT1")
        env = ActivityEnvironment()
        await env.run(notify.send_notice, notice)
        await env.run(notify.send_notice, notice)  # a retry after a lost acknowledgement
        async with httpx.AsyncClient(base_url=url) as client:
            [message] = (await client.get(STAFF_CHAT_PATH)).json()
    assert "RF20261123ABCDEF0123" in message["title"] and "林小雨" in message["message"]
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None
    assert (row.status, row.recipient_user_id, row.recipient_address, row.body_html) == (
        "sent",
        "team",
        "1 chat room(s)",
        None,
    )
    assert row.body_text == message["message"]


async def test_without_a_staff_chat_room_a_message_fails_for_good_on_record(
    sessions: SessionFactory,
) -> None:
    notify = _activities(sessions, "127.0.0.1", free_port())  # no staff chat configured
    notice = _team_notice("refund-RFCHAT2")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(notify.send_notice, notice)
    assert raised.value.non_retryable
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None and row.status == "failed"
    assert "AFTERCARE_STAFF_CHAT_URLS" in (row.provider_response or "")


async def test_the_next_notice_uses_the_template_an_admin_saved_and_says_which_version(
    sessions: SessionFactory,
) -> None:
    student = make_user(sessions, Role.STUDENT)
    notify = _activities(sessions, "127.0.0.1", free_port())
    notify.renderer = NoticeRenderer(SUPPORT, overrides=TemplateStore(sessions))
    env = ActivityEnvironment()
    first = _notice(student.id, Channel.INBOX, None, "refund-RFTPL1")
    await env.run(notify.send_notice, first)
    with sessions() as session:
        session.add(
            NoticeTemplateVersion(
                name="refund_received.all.zh-CN.j2",
                version=1,
                source=blocks("已收到（{{ order_id }}）", "{{ student_name }}，已收到您的申请。"),
                created_by="U-ADMIN",
            )
        )
        session.commit()
    second = _notice(student.id, Channel.INBOX, None, "refund-RFTPL2")
    await env.run(notify.send_notice, second)
    with sessions() as session:
        before = session.get(Notification, first.notification_id)
        after = session.get(Notification, second.notification_id)
    assert before is not None and after is not None
    assert (before.template, before.template_version) == ("refund_received.all.zh-CN.j2", 0)
    assert (after.template_version, after.subject, after.body_text) == (
        1,
        "已收到（O-778899）",
        "林小雨，已收到您的申请。",
    )


async def test_without_an_sms_provider_an_sms_fails_for_good_on_record(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    notify = _activities(sessions, "127.0.0.1", free_port())
    notify.sms = None  # production with no provider configured
    notice = _notice(student.id, Channel.SMS, None, "refund-RFNOSMS", phone="13800138000")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(notify.send_notice, notice)
    assert raised.value.non_retryable and raised.value.type == "PermanentDeliveryError"  # → email instead
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None and (row.status, row.provider_response) == (
        "failed",
        "no SMS provider is configured",
    )


async def test_a_complaint_email_is_answered_to_the_complaints_inbox(
    sessions: SessionFactory, tmp_path
) -> None:
    student = make_user(sessions, Role.STUDENT)
    with running_mailbox(tmp_path / "mail") as mailbox:
        mailer = SmtpMailer(SmtpConfig(host=mailbox.host, port=mailbox.port, timeout_seconds=2))
        notify = NotifyActivities(
            sessions,
            NoticeRenderer(SUPPORT),
            mailer,
            "Aftercare <service@aftercare.local>",
            None,
            complaint_reply_to="complaints@aftercare.local",
        )
        notice = _notice(student.id, Channel.EMAIL, student.email, "complaint-CPMAIL1").model_copy(
            update={"case_type": "complaint", "case_id": "CPMAIL1"}
        )
        await ActivityEnvironment().run(notify.send_notice, notice)
        [mail] = mailbox.messages()
    assert mail.reply_to == "complaints@aftercare.local"


# --- WeChat Official Account customer-service messages -------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def wechat_server() -> AsyncIterator[str]:
    app = FastAPI()
    app.include_router(sandbox_wechat_router())
    async with serving(app, free_port()) as url:
        yield url


def _official(sessions: SessionFactory, wechat_url: str) -> NotifyActivities:
    notify = _activities(sessions, "127.0.0.1", free_port())
    notify.wechat_official = WeChatCustomerServiceMessages(
        DEV_OFFICIAL_APP_ID, DEV_OFFICIAL_APP_SECRET, base_url=f"{wechat_url}/wechat", timeout_seconds=5
    )
    return notify


def _wechat_reply(user_id: str, openid: str | None, complaint_id: str) -> NotifyInput:
    """An agent's reply to a customer who only ever wrote to the Official Account."""
    event = NoticeEvent.COMPLAINT_FIRST_RESPONSE
    return NotifyInput(
        notification_id=notification_id_for(f"complaint-{complaint_id}", event, Channel.WECHAT_OA),
        case_type="complaint",
        case_id=complaint_id,
        event=event,
        channel=Channel.WECHAT_OA,
        recipient=Recipient(user_id=user_id, name="微信用户 a1b2c3", wechat_oa_openid=openid),
        context={**sample_context(event), "complaint_id": complaint_id},
    )


async def _official_messages_to(wechat_url: str, openid: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=wechat_url) as client:
        messages = (await client.get("/sandbox/wechat-oa/messages")).json()
    return [m for m in messages if m["touser"] == openid]


def _openid() -> str:
    return "oAbC" + secrets.token_hex(12)


async def test_a_wechat_notice_reaches_the_openid_once_and_the_row_keeps_address_and_answer(
    sessions: SessionFactory, wechat_server: str
) -> None:
    student = make_user(sessions, Role.STUDENT)
    openid = _openid()
    notify = _official(sessions, wechat_server)
    notice = _wechat_reply(student.id, openid, "CPWXOA1")
    env = ActivityEnvironment()
    await env.run(notify.send_notice, notice)
    await env.run(notify.send_notice, notice)  # a retry after success sends nothing more
    [sent] = await _official_messages_to(wechat_server, openid)
    content = sent["text"]["content"]
    assert content.startswith("陈客服回复了您的反馈（编号 CPWXOA1）\n\n")
    assert "切换到备用线路" in content  # the agent's words themselves, not "see your inbox"
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None
    assert (row.status, row.attempts, row.channel, row.recipient_address, row.body_html) == (
        "sent",
        1,
        "wechat_oa",
        openid,
        None,
    )
    assert row.provider_response == "WeChat Official Account: 0 ok"
    assert row.template == "complaint_first_response.wechat_oa.zh-CN.j2"
    assert content == f"{row.subject}\n\n{row.body_text}"


async def test_past_the_48_hour_window_the_refusal_is_recorded_and_final(
    sessions: SessionFactory, wechat_server: str
) -> None:
    student = make_user(sessions, Role.STUDENT)
    openid = _openid()
    async with httpx.AsyncClient(base_url=wechat_server) as client:
        await client.put(f"/sandbox/wechat-oa/windows/{openid}", json={"open": False})
    notice = _wechat_reply(student.id, openid, "CPWXOA2")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(_official(sessions, wechat_server).send_notice, notice)
    assert raised.value.non_retryable and raised.value.type == "PermanentDeliveryError"
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None and (row.status, row.attempts, row.recipient_address) == ("failed", 1, openid)
    assert "45015" in (row.provider_response or "") and "48 hours" in (row.provider_response or "")
    assert await _official_messages_to(wechat_server, openid) == []


async def test_a_busy_wechat_is_retried_and_the_attempt_recorded(
    sessions: SessionFactory, wechat_server: str
) -> None:
    student = make_user(sessions, Role.STUDENT)
    openid = _openid()
    async with httpx.AsyncClient(base_url=wechat_server) as client:
        await client.post("/sandbox/wechat-oa/faults", json={"errcode": -1, "openid": openid})
    notify = _official(sessions, wechat_server)
    notice = _wechat_reply(student.id, openid, "CPWXOA3")
    env = ActivityEnvironment()
    with pytest.raises(Exception) as raised:
        await env.run(notify.send_notice, notice)
    assert not isinstance(raised.value, ApplicationError)  # plain error: the retry policy applies
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None and (row.status, row.attempts) == ("retried", 1)
    assert "-1" in (row.provider_response or "")
    await env.run(notify.send_notice, notice)  # Temporal's retry
    with sessions() as session:
        row = session.get(Notification, notice.notification_id)
    assert row is not None and (row.status, row.attempts) == ("sent", 2)
    assert len(await _official_messages_to(wechat_server, openid)) == 1


async def test_without_an_official_account_or_an_openid_a_wechat_notice_fails_for_good_on_record(
    sessions: SessionFactory, wechat_server: str
) -> None:
    student = make_user(sessions, Role.STUDENT)
    unconfigured = _activities(sessions, "127.0.0.1", free_port())  # production without the account
    notice = _wechat_reply(student.id, _openid(), "CPWXOA4")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(unconfigured.send_notice, notice)
    assert raised.value.non_retryable and raised.value.type == "PermanentDeliveryError"
    nobody = _wechat_reply(student.id, None, "CPWXOA5")
    with pytest.raises(ApplicationError) as no_address:
        await ActivityEnvironment().run(_official(sessions, wechat_server).send_notice, nobody)
    assert no_address.value.non_retryable and no_address.value.type == "NoRecipientAddress"
    with sessions() as session:
        rows = [session.get(Notification, n.notification_id) for n in (notice, nobody)]
    assert [(row.status, row.provider_response) for row in rows if row is not None] == [
        ("failed", "no WeChat Official Account is configured"),
        ("failed", "the student has no wechat_oa address"),
    ]
