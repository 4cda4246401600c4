from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import pytest

from integrations.mail import PermanentMailError, SmtpConfig, SmtpMailer
from tests.mail_server import running_mailbox
from tests.netutil import free_port


def _message(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Aftercare <service@aftercare.local>"
    message["To"] = to
    message["Subject"] = "退款通知 — test"
    message["Message-ID"] = "<abc123@aftercare.local>"
    message.set_content("纯文本正文")
    message.add_alternative("<p>HTML 正文</p>", subtype="html")
    return message


async def test_a_message_travels_through_a_real_smtp_server(tmp_path) -> None:
    with running_mailbox(tmp_path / "mail") as mailbox:
        mailer = SmtpMailer(SmtpConfig(host=mailbox.host, port=mailbox.port))
        reply = await mailer.send(_message("student@example.test"))
        [stored] = mailbox.messages()
    assert "250" in reply or "accepted" in reply.lower()
    assert stored.to == "student@example.test"
    assert stored.subject == "退款通知 — test"
    assert stored.message_id == "<abc123@aftercare.local>"
    assert stored.text.strip() == "纯文本正文"
    assert stored.html is not None and "HTML 正文" in stored.html


async def test_a_refused_recipient_is_a_permanent_error(tmp_path) -> None:
    with running_mailbox(tmp_path / "mail") as mailbox:
        mailer = SmtpMailer(SmtpConfig(host=mailbox.host, port=mailbox.port))
        with pytest.raises(PermanentMailError, match="mailbox unavailable"):
            await mailer.send(_message("bounce@example.test"))
        assert mailbox.messages() == []


async def test_an_unreachable_server_is_a_transient_error() -> None:
    mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=free_port(), timeout_seconds=2))
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await mailer.send(_message("student@example.test"))
