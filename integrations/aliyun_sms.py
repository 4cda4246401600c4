"""Aliyun SMS (Dysmsapi 2017-05-25, SendSms) through Alibaba Cloud's own SDK.

Aliyun sends only pre-approved templates: each notice event maps to a template code
(AFTERCARE_ALIYUN_SMS_TEMPLATES, JSON), whose variables are integrations.sms.template_params. Our
rendered text stays the record of what the student was told. Refusals that retrying cannot mend (a
bad number, a rejected template or signature, wrong credentials) are PermanentDeliveryError, so the
notice falls back to email; throttling and Aliyun's own trouble are retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from Tea.exceptions import TeaException

from integrations.delivery import PermanentDeliveryError
from integrations.sms import SmsMessage

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
# Codes worth trying again later: rate limits and Aliyun's own trouble. Everything else is a
# refusal of this message (number, template, signature, content) or of our account's credentials.
TRANSIENT_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.OUT_OF_SERVICE",  # the account is in arrears until someone tops it up
        "isv.AMOUNT_NOT_ENOUGH",
        "isp.SYSTEM_ERROR",
        "isp.RAM_PERMISSION_DENY",
        "InternalError",
        "ServiceUnavailable",
    }
)


def _transient(code: str) -> bool:
    return code in TRANSIENT_CODES or code.startswith("Throttling")


@dataclass(frozen=True)
class AliyunSmsConfig:
    access_key_id: str
    access_key_secret: str
    sign_name: str  # the approved signature, e.g. 【某某网校】 without brackets
    templates: dict[str, str]  # notice event → template code (SMS_123456789)
    endpoint: str = DEFAULT_ENDPOINT
    protocol: str = "https"
    timeout_seconds: float = 10.0


class AliyunSms:
    def __init__(self, config: AliyunSmsConfig) -> None:
        self.config = config
        self.client = Client(
            open_api_models.Config(
                access_key_id=config.access_key_id,
                access_key_secret=config.access_key_secret,
                endpoint=config.endpoint,
                protocol=config.protocol,
            )
        )
        timeout_ms = int(config.timeout_seconds * 1000)
        # Temporal's retry policy does the retrying, with backoff and a record of each attempt.
        self.runtime = util_models.RuntimeOptions(
            autoretry=False, read_timeout=timeout_ms, connect_timeout=timeout_ms
        )

    async def send(self, message: SmsMessage) -> str:
        template_code = self.config.templates.get(message.event)
        if not template_code:
            raise PermanentDeliveryError(f"no Aliyun SMS template is configured for {message.event}")
        request = models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=self.config.sign_name,
            template_code=template_code,
            template_param=json.dumps(message.params, ensure_ascii=False),
            out_id=message.message_id,
        )
        try:
            response = await self.client.send_sms_with_options_async(request, self.runtime)
        except TeaException as exc:  # an error answer, or no answer at all (no code then)
            code = str(exc.code or "")
            if not code or _transient(code):
                raise ConnectionError(f"Aliyun SMS {code or 'unreachable'}: {exc.message}") from exc
            raise PermanentDeliveryError(f"Aliyun SMS refused: {code} {exc.message}") from exc
        body = response.body
        if body.code == "OK":
            return f"Aliyun BizId {body.biz_id} (RequestId {body.request_id})"
        if _transient(body.code or ""):
            raise ConnectionError(f"Aliyun SMS {body.code}: {body.message}")
        raise PermanentDeliveryError(f"Aliyun SMS refused: {body.code} {body.message}")
