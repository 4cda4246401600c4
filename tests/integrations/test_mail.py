from __future__ import annotations

import ssl
from contextlib import contextmanager
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from devstack.mailbox import MaildirHandler, read_mailbox
from devstack.processes import free_port
from integrations.mail import PermanentMailError, SmtpConfig, SmtpMailer
from tests.mail_server import running_mailbox
from tests.tls_certs import TlsFiles, make_certificates


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


class Accounts:
    """aiosmtpd's authenticator: one mailbox account."""

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data.login == b"aftercare" and auth_data.password == b"relay-password"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers the 535 itself


@contextmanager
def secured_mailbox(directory: Path, certificates: TlsFiles, *, implicit_tls: bool):
    """A relay that demands TLS (STARTTLS, or TLS from the first byte) and a login."""
    port = free_port()
    options: dict = {
        "authenticator": Accounts(),
        "auth_require_tls": True,
        "auth_required": True,
        "auth_exclude_mechanism": ["LOGIN"],  # PLAIN only: a refused login is one clear 535
    }
    if implicit_tls:
        options["ssl_context"] = certificates.server_context()
        options["server_hostname"] = "127.0.0.1"
        # The whole connection is TLS; aiosmtpd's "TLS before AUTH" check only knows STARTTLS.
        options["auth_require_tls"] = False
    else:
        options["tls_context"] = certificates.server_context()
        options["require_starttls"] = True
    controller = Controller(MaildirHandler(directory), hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


# aiosmtpd warns about AUTH without STARTTLS; with implicit TLS the whole connection is encrypted.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "ssl"])
async def test_mail_goes_through_a_relay_that_demands_tls_and_a_login(tmp_path, implicit_tls: bool) -> None:
    certificates = make_certificates(tmp_path / "tls")
    with secured_mailbox(tmp_path / "mail", certificates, implicit_tls=implicit_tls) as port:
        secure = SmtpConfig(
            host="127.0.0.1",
            port=port,
            username="aftercare",
            password="relay-password",
            starttls=not implicit_tls,
            use_tls=implicit_tls,
            ca_file=str(certificates.ca_file),
            timeout_seconds=5,
        )
        await SmtpMailer(secure).send(_message("student@example.test"))
        [stored] = read_mailbox(tmp_path / "mail")
        assert stored.subject == "退款通知 — test"

        wrong_password = replace(secure, password="guess")
        with pytest.raises(PermanentMailError, match="535"):
            await SmtpMailer(wrong_password).send(_message("student@example.test"))
        untrusted = replace(secure, ca_file=None)  # the relay's certificate is not one we trust
        with pytest.raises((aiosmtplib.SMTPException, ssl.SSLError)):  # not trusted: nothing sent
            await SmtpMailer(untrusted).send(_message("student@example.test"))
    assert len(read_mailbox(tmp_path / "mail")) == 1
