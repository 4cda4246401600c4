"""Sending SMS. Providers implement SmsSender: Aliyun SMS (integrations/aliyun_sms.py) in
production; the dev outbox stands in on a developer's machine and in tests, keeping every message
in a JSON-lines file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.money import format_yuan
from integrations.dev_outbox import DevOutbox
from settings import Settings


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str  # our rendered copy: what the dev outbox sends and the notification row keeps
    message_id: str  # the notification id: the provider's out id, so its reports can be matched
    event: str  # picks the provider's pre-approved template where the provider needs one
    params: dict[str, str] = field(default_factory=dict)  # that template's variables


# Aliyun's limit on one template variable (non-verification templates).
PARAM_LIMIT = 35


def template_params(context: dict[str, Any], support_phone: str) -> dict[str, str]:
    """The variables a provider's pre-approved SMS templates may use: ${name}, ${order},
    ${amount}, ${date} (expected arrival, once approved) and ${phone} (the support line)."""
    params = {
        "name": str(context.get("student_name", "")),
        "order": str(context.get("order_id", "")),
        "amount": format_yuan(int(context.get("refund_amount_fen", 0))),
        "phone": support_phone,
    }
    if context.get("expected_arrival"):
        params["date"] = str(context["expected_arrival"])
    return {key: value[:PARAM_LIMIT] for key, value in params.items()}


class SmsSender(Protocol):
    async def send(self, message: SmsMessage) -> str:
        """Send one message; return the provider's answer. Raise PermanentDeliveryError when the
        provider refuses it for good; anything else is retried."""
        ...


class DevSmsOutbox(DevOutbox):
    async def send(self, message: SmsMessage) -> str:
        return await self.keep(
            {
                "message_id": message.message_id,
                "to": message.phone,
                "text": message.text,
                "event": message.event,
            }
        )


def build_sms_sender(settings: Settings) -> SmsSender | None:
    """Aliyun when its key is configured; else the dev outbox in dev mode; else none (an SMS
    notice then fails on record and falls back to email)."""
    if settings.aliyun_sms_access_key_id:
        from integrations.aliyun_sms import AliyunSms, AliyunSmsConfig  # it imports this module

        secret = settings.aliyun_sms_access_key_secret
        if secret is None or not settings.aliyun_sms_sign_name:
            raise ValueError("Aliyun SMS needs AFTERCARE_ALIYUN_SMS_ACCESS_KEY_SECRET and _SIGN_NAME too")
        return AliyunSms(
            AliyunSmsConfig(
                access_key_id=settings.aliyun_sms_access_key_id,
                access_key_secret=secret.get_secret_value(),
                sign_name=settings.aliyun_sms_sign_name,
                templates=settings.aliyun_sms_templates,
                endpoint=settings.aliyun_sms_endpoint,
            )
        )
    return DevSmsOutbox(settings.sms_outbox_file) if settings.dev_mode else None
