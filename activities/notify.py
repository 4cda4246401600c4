"""Sends notices: the in-app inbox (a DB row), email over SMTP, SMS, WeChat (the mini-program's
subscribe messages, the Official Account's customer-service messages), and the team's staff chat.
Each notice has a deterministic id, so retries and replays deliver it once and the stored row is the proof."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate

from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.audit_log import record_event
from db.engine import SessionFactory
from db.models import AuditEvent, Notification
from domain.audit_trail import NOTICE_FAILED, NOTICE_SENT
from domain.notifications import Channel, NotificationStatus, NotifyInput, NotifyResult
from domain.timeutil import utcnow
from integrations.delivery import PermanentDeliveryError
from integrations.mail import SmtpMailer
from integrations.notice_renderer import NoticeRenderer, RenderedNotice
from integrations.sms import SmsMessage, SmsSender, template_params
from integrations.staff_chat import StaffChat
from integrations.wechat_message import WeChatMessage, WeChatSender, message_values
from integrations.wechat_official_messages import OfficialAccountMessage, OfficialAccountSender, message_text


def message_id_for(notification_id: str, domain: str = "aftercare.local") -> str:
    """The same notice always gets the same Message-ID, so a resend after a lost reply is
    recognisable as the same message by the receiving side."""
    digest = hashlib.sha256(notification_id.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class NotifyActivities:
    def __init__(
        self,
        session_factory: SessionFactory,
        renderer: NoticeRenderer,
        mailer: SmtpMailer,
        mail_from: str,
        sms: SmsSender | None,
        staff_chat: StaffChat | None = None,
        wechat: WeChatSender | None = None,
        complaint_reply_to: str | None = None,
        wechat_official: OfficialAccountSender | None = None,
    ) -> None:
        self.sessions = session_factory
        self.renderer = renderer
        self.mailer = mailer
        self.mail_from = mail_from
        self.sms = sms
        self.staff_chat = staff_chat
        # Where a student's answer to a complaint email goes: the complaints inbox, which adds it
        # to the complaint its subject names.
        self.complaint_reply_to = complaint_reply_to
        self.wechat = wechat
        self.wechat_official = wechat_official

    @activity.defn(name="send_notice")
    async def send_notice(self, notice: NotifyInput) -> NotifyResult:
        # Off the event loop: an admin's edited template is read from the database.
        rendered = await asyncio.to_thread(
            self.renderer.render, notice.event, notice.channel, notice.recipient.locale, notice.context
        )
        if notice.channel is Channel.INBOX:
            return await asyncio.to_thread(self._deliver_to_inbox, notice, rendered)
        if notice.channel is Channel.EMAIL:
            address = notice.recipient.email
            return await self._deliver_once(
                notice,
                rendered,
                address,
                lambda: self.mailer.send(self._email(notice, rendered, address or "")),
            )
        if notice.channel is Channel.SMS:
            sms = self.sms
            if sms is None:
                raise await self._not_configured(notice, rendered, "no SMS provider is configured")
            message = SmsMessage(
                phone=notice.recipient.phone or "",
                text=rendered.text,
                message_id=notice.notification_id,
                event=notice.event.value,
                params=template_params(notice.context, self.renderer.support.phone),
            )
            return await self._deliver_once(
                notice, rendered, notice.recipient.phone, lambda: sms.send(message)
            )
        if notice.channel is Channel.WECHAT:
            wechat = self.wechat
            if wechat is None:
                raise await self._not_configured(notice, rendered, "no WeChat app is configured")
            openid = notice.recipient.wechat_openid
            wechat_message = WeChatMessage(
                openid=openid or "",
                event=notice.event.value,
                text=rendered.text,
                message_id=notice.notification_id,
                values=message_values(notice.context),
            )
            return await self._deliver_once(notice, rendered, openid, lambda: wechat.send(wechat_message))
        if notice.channel is Channel.WECHAT_OA:
            official = self.wechat_official
            if official is None:
                raise await self._not_configured(notice, rendered, "no WeChat Official Account is configured")
            openid = notice.recipient.wechat_oa_openid
            chat_message = OfficialAccountMessage(
                openid=openid or "",
                text=message_text(rendered.subject, rendered.text),
                message_id=notice.notification_id,
            )
            return await self._deliver_once(notice, rendered, openid, lambda: official.send(chat_message))
        if notice.channel is Channel.STAFF_CHAT:
            staff_chat = self.staff_chat
            if staff_chat is None:
                raise await self._not_configured(
                    notice, rendered, "no staff chat room is configured (AFTERCARE_STAFF_CHAT_URLS)"
                )
            return await self._deliver_once(
                notice,
                rendered,
                f"{staff_chat.room_count} chat room(s)",
                lambda: staff_chat.send(rendered.subject, rendered.text),
            )
        raise ApplicationError(
            f"no sender for channel {notice.channel}", type="UnknownChannel", non_retryable=True
        )

    def _email(self, notice: NotifyInput, rendered: RenderedNotice, address: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = address
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id_for(notice.notification_id)
        message["X-Aftercare-Notification"] = notice.notification_id
        if notice.case_type == "complaint" and self.complaint_reply_to:
            message["Reply-To"] = self.complaint_reply_to
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    def _stored_or_new(
        self, notice: NotifyInput, rendered: RenderedNotice, address: str | None
    ) -> Notification:
        with self.sessions() as session:
            row = session.get(Notification, notice.notification_id)
            if row is None:
                row = Notification(
                    id=notice.notification_id,
                    case_type=notice.case_type,
                    case_id=notice.case_id,
                    event=notice.event.value,
                    channel=notice.channel.value,
                    recipient_user_id=notice.recipient.user_id,
                    recipient_address=address,
                    locale=notice.recipient.locale,
                    subject=rendered.subject,
                    body_text=rendered.text,
                    body_html=rendered.html if notice.channel in (Channel.INBOX, Channel.EMAIL) else None,
                    status=NotificationStatus.QUEUED.value,
                    fallback_of=notice.fallback_of,
                    template=rendered.template,
                    template_version=rendered.version,
                )
            return row

    async def _not_configured(
        self, notice: NotifyInput, rendered: RenderedNotice, why: str
    ) -> ApplicationError:
        """Recorded as failed for good (so a student's notice falls back to another channel)."""
        row = await asyncio.to_thread(self._stored_or_new, notice, rendered, None)
        row.status = NotificationStatus.FAILED.value
        row.provider_response = why
        await asyncio.to_thread(self._save, row)
        return ApplicationError(why, type="PermanentDeliveryError", non_retryable=True)

    def _mark_replaced(self, notification_id: str) -> None:
        with self.sessions() as session:
            refused = session.get(Notification, notification_id)
            if refused is not None and refused.status == NotificationStatus.FAILED.value:
                refused.status = NotificationStatus.FALLBACK.value
                session.add(refused)
                session.commit()

    def _save(self, row: Notification) -> None:
        """Store the row; once it is sent or refused for good, its rendered copy joins the case's
        audit trail in the same transaction (once: the event key is the notice's and its outcome)."""
        if row.status not in (NotificationStatus.SENT.value, NotificationStatus.FAILED.value):
            with self.sessions() as session:
                session.merge(row)
                session.commit()
            return
        sent = row.status == NotificationStatus.SENT.value
        record_event(
            self.sessions,
            AuditEvent(
                event_key=f"notice:{row.id}:{row.status}",
                case_type=row.case_type,
                case_id=row.case_id,
                event=NOTICE_SENT if sent else NOTICE_FAILED,
                actor="system",
                note=f"{row.channel} to {row.recipient_address or row.recipient_user_id}: {row.subject}"[
                    :2000
                ],
                detail={
                    "notification_id": row.id,
                    "notice": row.event,
                    "channel": row.channel,
                    "recipient_user_id": row.recipient_user_id,
                    "recipient_address": row.recipient_address,
                    "locale": row.locale,
                    "template": row.template,
                    "template_version": row.template_version,
                    "subject": row.subject,
                    "text": row.body_text,
                    "attempts": row.attempts,
                    "provider_response": row.provider_response,
                },
                at=utcnow(),
            ),
            with_it=lambda session: session.merge(row),
        )

    def _deliver_to_inbox(self, notice: NotifyInput, rendered: RenderedNotice) -> NotifyResult:
        row = self._stored_or_new(notice, rendered, address=None)
        if row.status != NotificationStatus.SENT.value:
            row.status = NotificationStatus.SENT.value
            row.attempts += 1
            row.sent_at = utcnow()
            self._save(row)
        return NotifyResult(notification_id=row.id, status=NotificationStatus.SENT)

    async def _deliver_once(
        self,
        notice: NotifyInput,
        rendered: RenderedNotice,
        address: str | None,
        send: Callable[[], Awaitable[str]],
    ) -> NotifyResult:
        """Send through an outside provider unless this notice was sent already; keep the row current."""
        row = await asyncio.to_thread(self._stored_or_new, notice, rendered, address)
        if row.status == NotificationStatus.SENT.value:
            return NotifyResult(
                notification_id=row.id,
                status=NotificationStatus.SENT,
                provider_response=row.provider_response,
            )
        if not address:
            row.status = NotificationStatus.FAILED.value
            row.provider_response = f"the student has no {notice.channel.value} address"
            await asyncio.to_thread(self._save, row)
            raise ApplicationError(row.provider_response, type="NoRecipientAddress", non_retryable=True)

        row.attempts += 1
        try:
            reply = await send()
        except PermanentDeliveryError as exc:
            row.status = NotificationStatus.FAILED.value
            row.provider_response = str(exc)[:1000]
            await asyncio.to_thread(self._save, row)
            raise ApplicationError(
                f"{notice.channel.value} to {address} refused: {exc}",
                type="PermanentDeliveryError",
                non_retryable=True,
            ) from exc
        except Exception as exc:
            row.status = NotificationStatus.RETRIED.value
            row.provider_response = f"attempt {row.attempts}: {exc}"[:1000]
            await asyncio.to_thread(self._save, row)
            raise  # transient: the retry policy tries again
        row.status = NotificationStatus.SENT.value
        row.provider_response = str(reply)[:1000]
        row.sent_at = utcnow()
        await asyncio.to_thread(self._save, row)
        if notice.fallback_of:
            await asyncio.to_thread(self._mark_replaced, notice.fallback_of)
        return NotifyResult(
            notification_id=row.id, status=NotificationStatus.SENT, provider_response=row.provider_response
        )
