"""Sending email over SMTP with aiosmtplib."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from integrations.delivery import PermanentDeliveryError


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    timeout_seconds: float = 15.0
    # A CA bundle to trust besides the system's, for a relay with a private certificate.
    ca_file: str | None = None


class PermanentMailError(PermanentDeliveryError):
    """The server refused the message for good (5xx): retrying cannot help."""


class SmtpMailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: EmailMessage) -> str:
        """Deliver one message; return the server's reply. Raises PermanentMailError on a 5xx
        refusal; connection trouble and 4xx replies raise other errors and are worth retrying."""
        config = self.config
        try:
            errors, reply = await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                start_tls=config.starttls,
                use_tls=config.use_tls,
                cert_bundle=config.ca_file,
                timeout=config.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(error.code >= 500 for error in exc.recipients):
                raise PermanentMailError(str(exc)) from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentMailError(f"{exc.code} {exc.message}") from exc
            raise
        if errors:
            # Some recipients refused: each notice has one recipient, so this is a refusal.
            raise PermanentMailError("; ".join(f"{addr}: {resp}" for addr, resp in errors.items()))
        return reply
