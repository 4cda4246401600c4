"""Our Aliyun SMS adapter (on Alibaba Cloud's SDK) against a peer that checks the request signature
as Aliyun documents it and answers with Aliyun's recorded responses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from devstack.processes import free_port
from integrations.aliyun_sms import AliyunSms, AliyunSmsConfig
from integrations.delivery import PermanentDeliveryError
from integrations.sms import DevSmsOutbox, SmsMessage, build_sms_sender, template_params
from settings import Settings
from tests.http_server import serving
from tests.integrations.aliyun_sms_peer import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    RECORDED_BAD_NUMBER,
    RECORDED_THROTTLED,
    AliyunSmsPeer,
)

TEMPLATES = {"refund_approved": "SMS_465380001", "refund_received": "SMS_465380002"}


@pytest_asyncio.fixture(scope="module")
async def peer() -> AsyncIterator[tuple[AliyunSmsPeer, int]]:
    peer = AliyunSmsPeer()
    port = free_port()
    async with serving(peer.app, port):
        yield peer, port


def _sms(port: int, secret: str = ACCESS_KEY_SECRET) -> AliyunSms:
    return AliyunSms(
        AliyunSmsConfig(
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=secret,
            sign_name="阳光网校",
            templates=TEMPLATES,
            endpoint=f"127.0.0.1:{port}",
            protocol="http",
            timeout_seconds=5,
        )
    )


def _message(event: str = "refund_approved", phone: str = "13800138000") -> SmsMessage:
    context = {
        "student_name": "林小雨",
        "order_id": "O-20261120-0042",
        "refund_amount_fen": 269_910,
        "expected_arrival": "2026-11-26",
    }
    return SmsMessage(
        phone=phone,
        text="【阳光网校】林小雨同学，您的退款已通过审核……",
        message_id="refund-RF1:refund_approved:sms",
        event=event,
        params=template_params(context, "400-820-1234"),
    )


async def test_a_signed_request_sends_the_events_template_with_its_variables(peer) -> None:
    aliyun_peer, port = peer
    answer = await _sms(port).send(_message())
    assert "900619746936498440^0" in answer
    sent = aliyun_peer.received[-1]
    assert (sent["PhoneNumbers"], sent["SignName"], sent["TemplateCode"], sent["OutId"]) == (
        "13800138000",
        "阳光网校",
        "SMS_465380001",
        "refund-RF1:refund_approved:sms",
    )
    assert json.loads(sent["TemplateParam"]) == {
        "name": "林小雨",
        "order": "O-20261120-0042",
        "amount": "¥2,699.10",
        "date": "2026-11-26",
        "phone": "400-820-1234",
    }


async def test_a_bad_number_is_refused_for_good_and_throttling_is_retried(peer) -> None:
    aliyun_peer, port = peer
    aliyun_peer.answers = [RECORDED_BAD_NUMBER]
    with pytest.raises(PermanentDeliveryError, match=r"isv\.MOBILE_NUMBER_ILLEGAL"):
        await _sms(port).send(_message(phone="123"))
    aliyun_peer.answers = [RECORDED_THROTTLED]
    with pytest.raises(ConnectionError, match="BUSINESS_LIMIT_CONTROL"):  # transient: retried
        await _sms(port).send(_message())


async def test_wrong_credentials_are_refused_for_good(peer) -> None:
    aliyun_peer, port = peer
    seen = len(aliyun_peer.received)
    with pytest.raises(PermanentDeliveryError, match="SignatureDoesNotMatch"):
        await _sms(port, secret="not-the-secret").send(_message())
    assert len(aliyun_peer.received) == seen


async def test_an_event_without_a_template_is_refused_before_anything_is_sent(peer) -> None:
    aliyun_peer, port = peer
    seen = len(aliyun_peer.received)
    with pytest.raises(PermanentDeliveryError, match="no Aliyun SMS template"):
        await _sms(port).send(_message(event="refund_delayed"))
    assert len(aliyun_peer.received) == seen


async def test_aliyun_out_of_reach_is_transient() -> None:
    with pytest.raises(ConnectionError, match="unreachable"):
        await _sms(free_port()).send(_message())


def test_the_sms_provider_follows_the_settings(tmp_path) -> None:
    aliyun = Settings(
        data_dir=tmp_path,
        aliyun_sms_access_key_id=ACCESS_KEY_ID,
        aliyun_sms_access_key_secret=ACCESS_KEY_SECRET,
        aliyun_sms_sign_name="阳光网校",
        aliyun_sms_templates=TEMPLATES,
    )
    sender = build_sms_sender(aliyun)
    assert isinstance(sender, AliyunSms) and sender.config.templates == TEMPLATES
    with pytest.raises(ValueError, match="SIGN_NAME"):
        build_sms_sender(aliyun.model_copy(update={"aliyun_sms_sign_name": None}))
    assert isinstance(build_sms_sender(Settings(data_dir=tmp_path)), DevSmsOutbox)
    production = Settings(
        data_dir=tmp_path, dev_mode=False, jwt_secret="a-real-secret-0123456789abcdef0123456789"
    )
    assert build_sms_sender(production) is None
