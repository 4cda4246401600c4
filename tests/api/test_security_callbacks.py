"""Gateway notifications an attacker could send — forged, unsigned, stale, tampered, encrypted
under another key, meant for another merchant or app, replayed — each answered in the gateway's
own terms and changing nothing: the refund row, its audit trail, and no signal to its workflow.
Their rate limits: refusals from one address are cut off (429) while a gateway's burst of good
notifications is never refused.

Covered elsewhere and not repeated here: a WeChat Pay notification signed by another key, with an
unknown key serial, an hour old, unsigned, or altered after signing (test_refunds.py:
test_forged_and_stale_wechatpay_notifications_are_refused_and_change_nothing), and an Alipay one
signed by another key (test_a_forged_alipay_notification_gets_failure). A notification signed by
the gateway itself but for the wrong amount is accepted here and passed on as read; the workflow is
where it is refused (tests/workflows/test_refund_workflow.py:
test_a_callback_that_does_not_match_is_recorded_and_not_applied, which records
gateway.mismatch_ignored and leaves the refund refunding)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.services.gateway_callbacks import AnsweredCallbacks
from db.engine import SessionFactory
from db.models import AuditEvent, Order, Refund
from devstack.dev_keys import DevKeys, ensure_dev_keys
from devstack.processes import free_port
from domain.courses import Gateway
from domain.roles import Role
from integrations import signed_post, wechat_official
from settings import DEV_INTAKE_SECRET, DEV_WECHAT_OFFICIAL_TOKEN, Settings
from tests.api.signed_callbacks import (
    FORM,
    RecordingTemporal,
    alipay_notification,
    alipay_params,
    alipay_signed,
    stale,
    wechatpay_notification,
)
from tests.factories import make_order, make_refund, make_user

WECHATPAY = "/api/payments/wechatpay/notify"
ALIPAY = "/api/payments/alipay/notify"
WECHAT = "/api/intake/wechat"
INTAKE_EMAIL = "/api/intake/email"
FORGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _settings(database_url: str, data_dir: Any, **limits: Any) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret="api-test-secret-0123456789abcdef0123456789",
        sandbox_gateway_port=free_port(),
        client_ip_header="X-Forwarded-For",  # each test calls from its own address
        **limits,
    )


@pytest.fixture(scope="module")
def temporal() -> RecordingTemporal:
    return RecordingTemporal()


@pytest.fixture(scope="module")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default limits: what a deployment gets."""
    return _settings(database_url, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def keys(settings: Settings) -> DevKeys:
    return ensure_dev_keys(settings.data_dir)


@pytest.fixture(scope="module")
def gateway_api(settings: Settings, keys: DevKeys, temporal: RecordingTemporal) -> Iterator[TestClient]:
    with TestClient(create_app(settings, temporal_client=temporal)) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture(scope="module")
def sessions(gateway_api: TestClient) -> SessionFactory:
    return gateway_api.app.state.sessions


def _from(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), "X-Forwarded-For": address}


def _refund(sessions: SessionFactory, gateway: Gateway = Gateway.WECHATPAY) -> Refund:
    order = make_order(sessions, make_user(sessions, Role.STUDENT))
    if gateway is not Gateway.WECHATPAY:
        with sessions() as session:
            row = session.get(Order, order.id)
            assert row is not None
            row.gateway = gateway.value
            session.add(row)
            session.commit()
            session.refresh(row)
            order = row
    return make_refund(sessions, order, status="refunding")


def _state(sessions: SessionFactory, temporal: RecordingTemporal, refund: Refund) -> tuple:
    """What a notification could change: the row, the audit trail, what the workflow was told."""
    with sessions() as session:
        row = session.get(Refund, refund.id)
        assert row is not None
        events = session.exec(select(AuditEvent.event_key).where(AuditEvent.case_id == refund.id)).all()
        return row.model_dump(), sorted(events), len(temporal.of(refund))


def _refused(metrics_text: str, gateway: str, reason: str) -> float:
    prefix = f'aftercare_gateway_callbacks_refused_total{{gateway="{gateway}",reason="{reason}"}} '
    return next(float(line.split()[-1]) for line in metrics_text.splitlines() if line.startswith(prefix))


def test_a_good_notification_reaches_the_workflow_once_and_its_replay_changes_nothing(
    gateway_api: TestClient, sessions: SessionFactory, temporal: RecordingTemporal, keys: DevKeys
) -> None:
    for gateway, url, build, ok in [
        (Gateway.WECHATPAY, WECHATPAY, wechatpay_notification, (204, b"")),
        (Gateway.ALIPAY, ALIPAY, alipay_notification, (200, b"success")),
    ]:
        refund = _refund(sessions, gateway)
        body, headers = build(keys, refund)
        first = gateway_api.post(url, content=body, headers=_from("198.51.100.10", headers))
        assert (first.status_code, first.content) == ok, first.text
        [signalled] = temporal.of(refund)
        assert signalled.signal == "gateway_result" and signalled.argument.refund_id == refund.id
        after_first = _state(sessions, temporal, refund)
        assert len(after_first[1]) == 1  # the notification kept as evidence

        # The same signed bytes again, from anywhere, at once or later: acknowledged (so a gateway
        # that lost our answer stops resending), and nothing more happens.
        for address in ("198.51.100.10", "203.0.113.66"):
            replay = gateway_api.post(url, content=body, headers=_from(address, headers))
            assert (replay.status_code, replay.content) == ok, gateway
        assert _state(sessions, temporal, refund) == after_first, gateway


def test_wechatpay_notifications_that_do_not_verify_change_nothing(
    gateway_api: TestClient, sessions: SessionFactory, temporal: RecordingTemporal, keys: DevKeys
) -> None:
    refund = _refund(sessions)
    before = _state(sessions, temporal, refund)
    body, headers = wechatpay_notification(keys, refund)
    attempts = {
        # Signed by WeChat Pay's key, but the resource does not open under our APIv3 key.
        "undecryptable": wechatpay_notification(keys, refund, apiv3_key=b"k" * 32),
        "not_for_us": wechatpay_notification(keys, refund, mchid="1900000999"),
        "malformed": wechatpay_notification(keys, refund, event_type="TRANSACTION.SUCCESS"),
        "stale": wechatpay_notification(keys, refund, timestamp=stale(hours=-1)),  # from the future
        "bad_signature": (body.replace(b'"REFUND.SUCCESS"', b'"REFUND.ABNORMAL"'), headers),
    }
    metrics_before = gateway_api.get("/metrics").text
    for reason, (spoiled, spoiled_headers) in attempts.items():
        answer = gateway_api.post(WECHATPAY, content=spoiled, headers=_from("198.51.100.20", spoiled_headers))
        assert answer.status_code == 401 and answer.json()["code"] == "FAIL", reason
    metrics_after = gateway_api.get("/metrics").text
    for reason in attempts:
        assert (
            _refused(metrics_after, "wechatpay", reason) == _refused(metrics_before, "wechatpay", reason) + 1
        )
    assert _state(sessions, temporal, refund) == before


def test_alipay_notifications_that_do_not_verify_change_nothing(
    gateway_api: TestClient, sessions: SessionFactory, temporal: RecordingTemporal, keys: DevKeys
) -> None:
    refund = _refund(sessions, Gateway.ALIPAY)
    before = _state(sessions, temporal, refund)
    good = alipay_params(refund)
    signed = alipay_signed(good, keys.alipay_platform)
    attempts = {
        "unsigned": str(httpx.QueryParams(good)).encode(),
        "forged": alipay_signed(good, FORGER),
        "amount changed after signing": signed.replace(
            f"refund_fee={good['refund_fee']}".encode(), b"refund_fee=0.01"
        ),
        "another app's": alipay_notification(keys, refund, app_id="2021000000000999")[0],
        "signed with our own app key, not Alipay's": alipay_signed(good, keys.alipay_app),
    }
    for attempt, body in attempts.items():
        assert body != signed
        answer = gateway_api.post(ALIPAY, content=body, headers=_from("198.51.100.30", FORM))
        assert (answer.status_code, answer.text) == (401, "failure"), attempt
    assert _state(sessions, temporal, refund) == before


def test_a_signed_notification_for_the_wrong_amount_is_passed_on_as_read_for_the_workflow_to_refuse(
    gateway_api: TestClient, sessions: SessionFactory, temporal: RecordingTemporal, keys: DevKeys
) -> None:
    refund = _refund(sessions)
    body, headers = wechatpay_notification(keys, refund, refund_fen=refund.refund_amount_fen + 100_00)
    assert (
        gateway_api.post(WECHATPAY, content=body, headers=_from("198.51.100.40", headers)).status_code == 204
    )
    [signalled] = temporal.of(refund)
    # As read, so the workflow compares it with the refund it asked for (and ignores it).
    assert signalled.argument.refund_fen == refund.refund_amount_fen + 100_00
    with sessions() as session:
        row = session.get(Refund, refund.id)
        assert row is not None and row.status == "refunding"  # the API applies nothing itself


def test_a_notification_about_no_refund_of_ours_is_refused_and_reaches_no_workflow(
    gateway_api: TestClient, sessions: SessionFactory, temporal: RecordingTemporal, keys: DevKeys
) -> None:
    ghost = Refund(id="RFNOSUCHREFUND000000", order_id="O-NONE", refund_amount_fen=100, amount_paid_fen=100)
    signals = len(temporal.signals)
    body, headers = wechatpay_notification(keys, ghost)
    answer = gateway_api.post(WECHATPAY, content=body, headers=_from("198.51.100.50", headers))
    assert answer.status_code == 404
    assert len(temporal.signals) == signals
    with sessions() as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.case_id == ghost.id)).all() == []


def test_a_gateways_burst_of_good_notifications_is_never_throttled(
    gateway_api: TestClient, sessions: SessionFactory, temporal: RecordingTemporal, keys: DevKeys
) -> None:
    """With the default limits: 150 notifications at once from one address — more than seven
    times the refusals' burst — with a few forged ones among them, all good ones accepted."""
    refunds = [_refund(sessions) for _ in range(150)]
    started = time.monotonic()
    for number, refund in enumerate(refunds):
        body, headers = wechatpay_notification(keys, refund)
        answer = gateway_api.post(WECHATPAY, content=body, headers=_from("198.51.100.60", headers))
        assert answer.status_code == 204, (number, answer.text)
        if number % 15 == 0:  # a forger on the same address (or a stale resend) now and then
            forged = wechatpay_notification(keys, refund, signer=FORGER)
            refused = gateway_api.post(
                WECHATPAY, content=forged[0], headers=_from("198.51.100.60", forged[1])
            )
            assert refused.status_code == 401
    assert time.monotonic() - started < 60
    assert all(len(temporal.of(refund)) == 1 for refund in refunds)


# --- the limits, made small ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_api(database_url: str, tmp_path_factory: pytest.TempPathFactory, temporal: RecordingTemporal):
    settings = _settings(
        database_url,
        tmp_path_factory.mktemp("strict"),
        rate_limit_webhook_refusals_per_ip="4/1h",
        rate_limit_webhooks_per_ip="12/1h",
    )
    ensure_dev_keys(settings.data_dir)
    with TestClient(create_app(settings, temporal_client=temporal)) as client:  # type: ignore[arg-type]
        yield client


def _throttled(metrics_text: str, limit: str) -> float:
    prefix = f'aftercare_requests_throttled_total{{limit="{limit}"}} '
    return next(float(line.split()[-1]) for line in metrics_text.splitlines() if line.startswith(prefix))


def test_an_address_that_keeps_failing_verification_is_cut_off_in_the_gateways_terms(
    strict_api: TestClient, temporal: RecordingTemporal
) -> None:
    sessions = strict_api.app.state.sessions
    keys = ensure_dev_keys(strict_api.app.state.settings.data_dir)
    refund = _refund(sessions)
    forged = wechatpay_notification(keys, refund, signer=FORGER)
    for _ in range(4):
        assert (
            strict_api.post(WECHATPAY, content=forged[0], headers=_from("192.0.2.10", forged[1])).status_code
            == 401
        )
    before = _state(sessions, temporal, refund)
    for body, headers in (forged, wechatpay_notification(keys, refund)):  # even a good one now waits
        answer = strict_api.post(WECHATPAY, content=body, headers=_from("192.0.2.10", headers))
        assert answer.status_code == 429 and answer.json()["code"] == "FAIL"
        assert 0 < int(answer.headers["Retry-After"]) <= 900  # a token comes back every 15 minutes
    assert _state(sessions, temporal, refund) == before
    alipay = _refund(sessions, Gateway.ALIPAY)
    throttled = strict_api.post(
        ALIPAY, content=alipay_notification(keys, alipay)[0], headers=_from("192.0.2.10", FORM)
    )
    assert (throttled.status_code, throttled.text) == (429, "failure")  # one address, every gateway
    # Another address is not held back by this one.
    good = wechatpay_notification(keys, refund)
    assert (
        strict_api.post(WECHATPAY, content=good[0], headers=_from("192.0.2.11", good[1])).status_code == 204
    )
    assert _throttled(strict_api.get("/metrics").text, "webhook_refusals_per_ip") == 3


def test_every_webhook_has_a_ceiling_per_address(strict_api: TestClient, temporal: RecordingTemporal) -> None:
    sessions = strict_api.app.state.sessions
    keys = ensure_dev_keys(strict_api.app.state.settings.data_dir)
    refund = _refund(sessions)
    for number in range(12):
        body, headers = wechatpay_notification(keys, refund)
        answer = strict_api.post(WECHATPAY, content=body, headers=_from("192.0.2.20", headers))
        assert answer.status_code == 204, number
    body, headers = wechatpay_notification(keys, refund)
    answer = strict_api.post(WECHATPAY, content=body, headers=_from("192.0.2.20", headers))
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert len(temporal.of(refund)) == 12
    assert (
        strict_api.post(ALIPAY, content=b"", headers=_from("192.0.2.20", FORM)).status_code == 401
    )  # its own


def test_answered_notifications_are_forgotten_after_a_day_or_beyond_the_bound() -> None:
    clock = [0.0]
    answered = AnsweredCallbacks(keep_seconds=100, max_entries=2, clock=lambda: clock[0])
    answered.remember(Gateway.WECHATPAY, "a")
    assert answered.seen(Gateway.WECHATPAY, "a") and not answered.seen(Gateway.ALIPAY, "a")
    clock[0] = 100
    assert not answered.seen(Gateway.WECHATPAY, "a")  # a replay now reaches the workflow, which ignores it
    answered.remember(Gateway.WECHATPAY, "b")
    answered.remember(Gateway.WECHATPAY, "c")
    answered.remember(Gateway.WECHATPAY, "d")
    assert not answered.seen(Gateway.WECHATPAY, "b") and answered.seen(Gateway.WECHATPAY, "d")


def test_the_mail_relay_and_wechat_webhooks_cut_off_an_address_that_keeps_failing(
    strict_api: TestClient,
) -> None:
    """Their forged, stale and unsigned calls are refused by tests/api/test_intake_email.py and
    test_intake_wechat.py; here, an address that keeps sending them is cut off."""
    stamp = str(int(time.time()))
    signed = {
        "signature": wechat_official.signature(DEV_WECHAT_OFFICIAL_TOKEN, stamp, "n1"),
        "timestamp": stamp,
    }
    echo = {**signed, "nonce": "n1", "echostr": "hello"}
    assert strict_api.get(WECHAT, params=echo, headers=_from("192.0.2.30")).text == "hello"
    for number in range(4):
        forged = {**echo, "signature": "0" * 40}
        assert strict_api.get(WECHAT, params=forged, headers=_from("192.0.2.30")).status_code == 403, number
    cut_off = strict_api.get(WECHAT, params=echo, headers=_from("192.0.2.30"))
    assert cut_off.status_code == 429 and "Retry-After" in cut_off.headers
    assert (
        strict_api.post(WECHAT, params=echo, content=b"<xml/>", headers=_from("192.0.2.30")).status_code
        == 429
    )
    assert strict_api.get(WECHAT, params=echo, headers=_from("192.0.2.31")).text == "hello"

    mail = (
        b'{"from": "a@example.test", "to": ["complaints@aftercare.local"], "text": "x", "message_id": "m1"}'
    )
    for number in range(4):
        forged_mail = signed_post.signed_headers("not-our-secret", mail)
        answer = strict_api.post(INTAKE_EMAIL, content=mail, headers=_from("192.0.2.32", forged_mail))
        assert answer.status_code == 401, number
    good = signed_post.signed_headers(DEV_INTAKE_SECRET, mail)
    assert strict_api.post(INTAKE_EMAIL, content=mail, headers=_from("192.0.2.32", good)).status_code == 429


def test_a_body_larger_than_any_notification_is_not_read_further(
    gateway_api: TestClient, sessions: SessionFactory, temporal: RecordingTemporal
) -> None:
    signals = len(temporal.signals)
    huge = b"a=" + b"x" * (200 * 1024)

    def chunked():  # no Content-Length to go by
        for start in range(0, len(huge), 8192):
            yield huge[start : start + 8192]

    for content in (huge, chunked()):
        answer = gateway_api.post(ALIPAY, content=content, headers=_from("198.51.100.70", FORM))
        assert (answer.status_code, answer.text) == (401, "failure")
    assert _refused(gateway_api.get("/metrics").text, "alipay", "malformed") >= 2
    mail = gateway_api.post(INTAKE_EMAIL, content=chunked(), headers=_from("198.51.100.71"))
    assert mail.status_code == 401  # 200 KB is within an email's 2 MB: read, and its signature refused
    big_mail = gateway_api.post(
        INTAKE_EMAIL, content=(huge[:1024] for _ in range(3 * 1024)), headers=_from("198.51.100.71")
    )
    assert big_mail.status_code == 413
    assert len(temporal.signals) == signals
