"""What every outward channel (email, SMS, ...) reports when a message can never be delivered."""

from __future__ import annotations


class PermanentDeliveryError(Exception):
    """The provider refused the message for good (unknown address, blocked number...): retrying
    cannot help. Any other exception from a sender is taken as transient and retried."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code  # the HTTP answer, for providers spoken to over HTTP
