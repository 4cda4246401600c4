"""A real SMTP server for tests: the dev mailbox (aiosmtpd + Maildir) on a free port, which refuses
recipients whose address starts with `bounce` the way a real server does (550)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.mailbox import MaildirHandler, StoredMail, read_mailbox
from devstack.processes import free_port


class RefusingMaildirHandler(MaildirHandler):
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class MailboxUnderTest:
    host: str
    port: int
    directory: Path

    def messages(self) -> list[StoredMail]:
        return read_mailbox(self.directory)


@contextmanager
def running_mailbox(directory: Path) -> Iterator[MailboxUnderTest]:
    port = free_port()
    controller = Controller(RefusingMaildirHandler(directory), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailboxUnderTest("127.0.0.1", port, directory)
    finally:
        controller.stop()
