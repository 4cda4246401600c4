"""The dev mailbox: an aiosmtpd SMTP server that keeps every message in a Maildir, and the reader
behind /dev/mail. Started by `make dev` unless AFTERCARE_SMTP_HOST points at a real server.

Mail to the complaints inbox (AFTERCARE_COMPLAINT_INBOX_ADDRESS) is also handed to the API's
/api/intake/email, signed with AFTERCARE_INTAKE_SECRET — what a mail provider's inbound relay does
in production — before the copy is kept. If the API cannot take it now, the sender is told to try
again later (451), as a real server would, and keeps the message; if the API refuses it for good,
the sender gets a bounce (550)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import html
import json
import logging
import mailbox
import re
import signal
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from integrations.delivery import PermanentDeliveryError
from integrations.signed_post import post_signed

log = logging.getLogger(__name__)
RELAY_TIMEOUT_SECONDS = 10.0


def _plain_text(message: EmailMessage) -> str:
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return str(plain.get_content())
    rich = message.get_body(preferencelist=("html",))
    if rich is None:
        return ""
    return html.unescape(re.sub(r"<[^>]+>", " ", str(rich.get_content())))


def relay_body(message: EmailMessage, recipients: list[str], raw: bytes) -> bytes:
    """The email as /api/intake/email takes it. A message without a Message-ID gets one from its
    bytes, so the same message sent twice is still one."""
    message_id = str(message.get("Message-ID", "")).strip() or (
        f"<{hashlib.sha256(raw).hexdigest()[:32]}@dev-mailbox>"
    )
    return json.dumps(
        {
            "from": str(message.get("From", "")),
            "to": recipients,
            "subject": str(message.get("Subject", "")),
            "text": _plain_text(message),
            "message_id": message_id,
        },
        ensure_ascii=False,
    ).encode(errors="replace")  # undecodable 8-bit header bytes must not stop the message


@dataclass(frozen=True)
class ComplaintInboxRelay:
    """Hands mail for the complaints inbox to the API, signed as integrations/signed_post.py says."""

    inbox_address: str
    url: str
    secret: str

    def wants(self, recipients: list[str]) -> bool:
        return self.inbox_address.lower() in {address.lower() for _, address in getaddresses(recipients)}

    async def relay(self, message: EmailMessage, recipients: list[str], raw: bytes) -> None:
        await post_signed(
            self.url,
            self.secret,
            relay_body(message, recipients, raw),
            extra_headers={},
            timeout_seconds=RELAY_TIMEOUT_SECONDS,
        )


class MaildirHandler:
    """Stores each accepted message, with the envelope recipients, in a Maildir (after handing mail
    for the complaints inbox to the API, when given a relay)."""

    def __init__(self, directory: Path, relay: ComplaintInboxRelay | None = None) -> None:
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips these if the folder exists
            (directory / sub).mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(directory, create=False)
        self.relay = relay

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else (content or "").encode()
        message: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
        if self.relay is not None and self.relay.wants(envelope.rcpt_tos):
            try:
                await self.relay.relay(message, envelope.rcpt_tos, raw)
            except PermanentDeliveryError as exc:
                log.warning("complaint intake refused a message: %s", exc)
                reason = " ".join(str(exc).split())[:200]  # one line: it goes back over SMTP
                return f"550 5.7.1 complaint intake refused it: {reason}"
            except (httpx.HTTPError, OSError) as exc:
                log.warning("complaint intake unavailable: %s", exc)
                return "451 4.3.0 complaint intake unavailable, try again later"
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.maildir.add(message)
        return "250 Message accepted for delivery"


def start_mailbox(
    directory: Path, host: str = "127.0.0.1", port: int = 1025, relay: ComplaintInboxRelay | None = None
) -> Controller:
    controller = Controller(MaildirHandler(directory, relay), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True)
class StoredMail:
    key: str
    message_id: str
    sender: str
    to: str
    subject: str
    date: datetime | None
    reply_to: str | None
    text: str
    html: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "message_id": self.message_id,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "date": self.date.isoformat() if self.date else None,
            "reply_to": self.reply_to,
            "text": self.text,
            "html": self.html,
        }


def _read(key: str, message: EmailMessage) -> StoredMail:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    date = message.get("Date")
    return StoredMail(
        key=key,
        message_id=str(message.get("Message-ID", "")),
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=parsedate_to_datetime(date) if date else None,
        reply_to=str(message["Reply-To"]) if message["Reply-To"] else None,
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else None,
    )


def read_mailbox(directory: Path) -> list[StoredMail]:
    """Every stored message, newest first."""
    if not (directory / "cur").exists():
        return []
    box = mailbox.Maildir(directory, factory=None, create=False)
    mails = []
    for key in box.keys():
        with box.get_file(key) as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
        mails.append(_read(key, message))  # type: ignore[arg-type]
    return sorted(mails, key=lambda mail: (mail.date is not None, mail.date, mail.key), reverse=True)


async def _serve_until_stopped(directory: Path, port: int, relay: ComplaintInboxRelay | None) -> None:
    controller = start_mailbox(directory, port=port, relay=relay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"dev mailbox listening on 127.0.0.1:{port}, storing in {directory}", flush=True)
    if relay is not None:
        print(f"dev mailbox hands mail for {relay.inbox_address} to {relay.url}", flush=True)
    await stop.wait()
    controller.stop()


def main() -> None:
    from settings import get_settings

    settings = get_settings()
    secret = settings.intake_secret_in_force
    relay = (
        ComplaintInboxRelay(settings.complaint_inbox_address, settings.intake_email_url, secret)
        if secret
        else None
    )
    asyncio.run(_serve_until_stopped(settings.mailbox_dir, settings.dev_mailbox_port, relay))


if __name__ == "__main__":
    main()
