"""GET /metrics: the figures move when the database does (SQLite and PostgreSQL), refused gateway
callbacks are counted by gateway and reason, an optional bearer token guards it, and a database
that does not answer makes a scrape that says so — never a 500."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api.app import create_app
from db.audit_log import record_event
from db.engine import SessionFactory
from db.models import AuditEvent, Notification, Refund
from devstack.dev_keys import (
    ALIPAY_APP_ID,
    WECHATPAY_MCHID,
    WECHATPAY_PLATFORM_SERIAL,
    ensure_dev_keys,
    load_dev_keys,
)
from devstack.processes import free_port
from domain.refunds import RefundStatus
from domain.roles import Role
from domain.timeutil import utcnow
from integrations.payments.alipay import sign_params
from integrations.payments.wechatpay import encrypt_resource, platform_signed_headers
from settings import Settings
from tests.factories import make_order, make_refund, make_user

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(api: TestClient, **headers: str) -> Series:
    response = api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))]


def moved(before: Series, after: Series) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The aftercare_* series whose value changed, by how much."""
    return {
        key: after[key] - before.get(key, 0)
        for key in after
        if key[0].startswith("aftercare_")
        and key[0] != "aftercare_metrics_database_seconds"
        and after[key] != before.get(key, 0)
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


def test_refunds_by_status_are_counted_from_the_projection(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    before = scrape(api)
    assert value(before, "aftercare_metrics_database_up") == 1
    # Every status has its series, zeros included, so an alert on one never loses it.
    assert {status.value for status in RefundStatus} <= {
        dict(labels)["status"] for name, labels in before if name == "aftercare_refunds"
    }
    student = make_user(api_sessions, Role.STUDENT)
    waiting = [
        make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_review")
        for _ in range(2)
    ]
    make_refund(api_sessions, make_order(api_sessions, student), status="refunding")
    assert moved(before, scrape(api)) == {
        key("aftercare_refunds", status="awaiting_review"): 2,
        key("aftercare_refunds", status="refunding"): 1,
    }

    middle = scrape(api)
    with api_sessions() as session:  # the workflow's records activity moves one on
        row = session.get(Refund, waiting[0].id)
        assert row is not None
        row.status = "approved"
        session.add(row)
        session.commit()
    assert moved(middle, scrape(api)) == {
        key("aftercare_refunds", status="awaiting_review"): -1,
        key("aftercare_refunds", status="approved"): 1,
    }


def _notice(sessions: SessionFactory, channel: str, status: str) -> str:
    notice_id = f"refund-RFMETRICS:{channel}:{status}:{time.perf_counter_ns()}"
    with sessions() as session:
        session.add(
            Notification(
                id=notice_id,
                case_type="refund",
                case_id="RFMETRICS",
                event="refund_received",
                channel=channel,
                recipient_user_id="S-METRICS",
                locale="zh-CN",
                subject="我们已收到您的退款申请",
                body_text="…",
                status=status,
            )
        )
        session.commit()
    return notice_id


def test_notices_not_delivered_are_counted_by_channel_and_status(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    before = scrape(api)
    _notice(api_sessions, "email", "failed")
    _notice(api_sessions, "email", "failed")
    retrying = _notice(api_sessions, "sms", "retried")
    _notice(api_sessions, "sms", "fallback")
    _notice(api_sessions, "email", "sent")  # delivered: not counted
    _notice(api_sessions, "inbox", "queued")
    assert moved(before, scrape(api)) == {
        key("aftercare_notifications_failed", channel="email", status="failed"): 2,
        key("aftercare_notifications_failed", channel="sms", status="retried"): 1,
        key("aftercare_notifications_failed", channel="sms", status="fallback"): 1,
    }

    middle = scrape(api)
    with api_sessions() as session:  # the retry got through
        row = session.get(Notification, retrying)
        assert row is not None
        row.status = "sent"
        session.add(row)
        session.commit()
    assert moved(middle, scrape(api)) == {
        key("aftercare_notifications_failed", channel="sms", status="retried"): -1
    }


def _event(sessions: SessionFactory, case_type: str, case_id: str, event: str, actor: str = "system") -> None:
    record_event(
        sessions,
        AuditEvent(
            event_key=f"{case_type}-{case_id}:{event}:{time.perf_counter_ns()}",
            case_type=case_type,
            case_id=case_id,
            event=event,
            actor=actor,
            at=utcnow(),
        ),
    )


def test_sla_warnings_breaches_and_mismatched_gateway_results_are_counted_from_the_audit_trail(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    before = scrape(api)
    for event in ("sla.first_response.warning", "sla.first_response.breached", "sla.resolution.warning"):
        _event(api_sessions, "complaint", "CPMETRICS1", event)
    _event(api_sessions, "complaint", "CPMETRICS2", "sla.first_response.warning")
    _event(api_sessions, "complaint", "CPMETRICS2", "complaint.responded", actor="AGENT1")  # not SLA
    _event(api_sessions, "refund", "RFMETRICS1", "review.reminder")
    _event(api_sessions, "refund", "RFMETRICS1", "review.escalated")
    _event(api_sessions, "refund", "RFMETRICS2", "gateway.mismatch_ignored", actor="alipay")
    sla = "aftercare_sla_events_total"
    assert moved(before, scrape(api)) == {
        key(sla, case_type="complaint", clock="first_response", kind="warning"): 2,
        key(sla, case_type="complaint", clock="first_response", kind="breached"): 1,
        key(sla, case_type="complaint", clock="resolution", kind="warning"): 1,
        key(sla, case_type="refund", clock="review", kind="warning"): 1,
        key(sla, case_type="refund", clock="review", kind="breached"): 1,
        key("aftercare_gateway_results_mismatched_total", gateway="alipay"): 1,
    }
    assert value(scrape(api), sla, case_type="complaint", clock="resolution", kind="breached") == 0


def _wechatpay_notification(settings: Settings, refund_id: str) -> bytes:
    keys = load_dev_keys(settings.data_dir)
    resource = {
        "mchid": WECHATPAY_MCHID,
        "out_trade_no": "O-METRICS",
        "refund_id": "50300000077",
        "out_refund_no": refund_id,
        "refund_status": "SUCCESS",
        "success_time": "2026-11-23T13:00:00+08:00",
        "amount": {"refund": 100, "total": 100},
    }
    return json.dumps(
        {"event_type": "REFUND.SUCCESS", "resource": encrypt_resource(keys.wechatpay_apiv3_key, resource)}
    ).encode()


def test_refused_gateway_callbacks_are_counted_by_gateway_and_reason(
    api: TestClient, api_sessions: SessionFactory, settings: Settings
) -> None:
    keys = load_dev_keys(settings.data_dir)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    before = scrape(api)

    body = _wechatpay_notification(settings, "RF-NOBODY")
    wechat = "/api/payments/wechatpay/notify"
    refusals = {
        "forged": platform_signed_headers(forger, WECHATPAY_PLATFORM_SERIAL, body),
        "replayed an hour later": platform_signed_headers(
            keys.wechatpay_platform, WECHATPAY_PLATFORM_SERIAL, body, timestamp=int(time.time()) - 3600
        ),
        "unsigned": {"Content-Type": "application/json"},
    }
    for attempt, headers in refusals.items():
        assert api.post(wechat, content=body, headers=headers).status_code == 401, attempt
    signed = platform_signed_headers(keys.wechatpay_platform, WECHATPAY_PLATFORM_SERIAL, body)
    assert api.post(wechat, content=body, headers=signed).status_code == 404  # verified; no such refund

    params = {"app_id": ALIPAY_APP_ID, "out_biz_no": "RF1", "gmt_refund": "2026-11-23 13:00:00"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = str(httpx.QueryParams({**params, "sign": sign_params(forger, params)})).encode()
    assert api.post("/api/payments/alipay/notify", content=forged, headers=form).status_code == 401

    refused = "aftercare_gateway_callbacks_refused_total"
    assert moved(before, scrape(api)) == {
        key(refused, gateway="wechatpay", reason="bad_signature"): 1,
        key(refused, gateway="wechatpay", reason="stale"): 1,
        key(refused, gateway="wechatpay", reason="unsigned"): 1,
        key(refused, gateway="wechatpay", reason="unknown_refund"): 1,
        key(refused, gateway="alipay", reason="bad_signature"): 1,
    }

    # A verified notification of a refund we know is not refused (Temporal is down here: 503, and
    # the gateway sends it again later).
    refund = make_refund(
        api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)), status="refunding"
    )
    body = _wechatpay_notification(settings, refund.id)
    middle = scrape(api)
    signed = platform_signed_headers(keys.wechatpay_platform, WECHATPAY_PLATFORM_SERIAL, body)
    assert api.post(wechat, content=body, headers=signed).status_code == 503
    assert not [changed for changed in moved(middle, scrape(api)) if changed[0] == refused]


def test_metrics_are_not_part_of_the_api_clients_schema(api: TestClient) -> None:
    assert "/metrics" not in api.get("/openapi.json").json()["paths"]


@pytest.fixture(scope="module")
def guarded(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"metrics_token": SecretStr("scrape-me")}))
    ) as client:
        yield client


def test_with_a_token_set_only_its_bearer_may_scrape(guarded: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": "Basic c2NyYXBlLW1l"}):
        refused = guarded.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert "aftercare_" not in refused.text and refused.headers["www-authenticate"].startswith("Bearer")
    assert value(scrape(guarded, Authorization="Bearer scrape-me"), "aftercare_metrics_database_up") == 1


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(api: TestClient) -> None:
    response = api.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.text.endswith("# EOF\n") and "aftercare_sla_events_total{" in response.text


def test_a_database_that_does_not_answer_makes_a_scrape_that_says_so(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/aftercare",  # nothing listens
        data_dir=tmp_path,
        jwt_secret="api-test-secret-0123456789abcdef0123456789",
    )
    ensure_dev_keys(tmp_path)  # both gateways connected, as in the other tests
    with TestClient(create_app(settings)) as api:
        series = scrape(api)
    assert value(series, "aftercare_metrics_database_up") == 0
    assert not [name for name, _ in series if name.startswith("aftercare_refunds")]  # absent, not a false 0
    assert (
        value(series, "aftercare_gateway_callbacks_refused_total", gateway="wechatpay", reason="stale") == 0
    )
