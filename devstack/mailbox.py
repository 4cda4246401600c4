"""The dev mailbox: an aiosmtpd SMTP server that keeps every message in a Maildir, and the reader
behind /dev/mail. Started by `make dev` unless AFTERCARE_SMTP_HOST points at a real server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import signal
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    """Stores each accepted message, with the envelope recipients, in a Maildir."""

    def __init__(self, directory: Path) -> None:
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips these if the folder exists
            (directory / sub).mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(directory, create=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(
            raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default
        )
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.maildir.add(message)
        return "250 Message accepted for delivery"


def start_mailbox(directory: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
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


async def _serve_until_stopped(directory: Path, port: int) -> None:
    controller = start_mailbox(directory, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"dev mailbox listening on 127.0.0.1:{port}, storing in {directory}", flush=True)
    await stop.wait()
    controller.stop()


def main() -> None:
    from settings import get_settings

    settings = get_settings()
    asyncio.run(_serve_until_stopped(settings.mailbox_dir, settings.dev_mailbox_port))


if __name__ == "__main__":
    main()
