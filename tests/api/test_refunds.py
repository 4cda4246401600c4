"""Refund routes' refusals. Temporal is unreachable in this module, so each answer here was decided
before the workflow service was involved — and the 503 case shows nothing is left half-written."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlmodel import select

from db.engine import SessionFactory
from db.models import AuditEvent, Order, Refund
from devstack.dev_keys import ALIPAY_APP_ID, WECHATPAY_MCHID, WECHATPAY_PLATFORM_SERIAL, load_dev_keys
from domain.courses import Gateway
from domain.roles import Role
from domain.timeutil import utcnow
from integrations.payments.alipay import sign_params
from integrations.payments.wechatpay import encrypt_resource, platform_signed_headers
from settings import Settings
from tests.api.helpers import auth
from tests.factories import join_group, make_order, make_refund, make_user


def test_when_temporal_is_down_a_request_is_refused_and_leaves_nothing(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    response = api.post(
        "/api/refunds", json={"order_id": order.id, "reason": "时间冲突"}, headers=auth(api, student)
    )
    assert response.status_code == 503
    with api_sessions() as session:
        assert session.exec(select(Refund).where(Refund.order_id == order.id)).all() == []


def test_a_refund_is_requested_by_the_student_who_owns_the_order(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    owner = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, owner)
    other_student = make_user(api_sessions, Role.STUDENT)
    reviewer = make_user(api_sessions, Role.REVIEWER)
    body = {"order_id": order.id, "reason": "时间冲突"}
    assert api.post("/api/refunds", json=body, headers=auth(api, other_student)).status_code == 404
    assert api.post("/api/refunds", json=body, headers=auth(api, reviewer)).status_code == 403
    missing_reason = api.post("/api/refunds", json={"order_id": order.id}, headers=auth(api, owner))
    assert missing_reason.status_code == 422
    assert missing_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    unknown_code = api.post("/api/refunds", json={**body, "reason_code": "boredom"}, headers=auth(api, owner))
    assert unknown_code.status_code == 422
    assert unknown_code.json()["detail"][0]["loc"] == ["body", "reason_code"]


def test_an_order_with_a_refund_in_progress_gets_409_naming_it(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    running = make_refund(api_sessions, order, status="awaiting_review")
    response = api.post(
        "/api/refunds", json={"order_id": order.id, "reason": "再试一次"}, headers=auth(api, student)
    )
    assert response.status_code == 409
    assert response.json()["detail"]["refund_id"] == running.id


def test_students_see_only_their_own_refunds(api: TestClient, api_sessions: SessionFactory) -> None:
    owner = make_user(api_sessions, Role.STUDENT)
    refund = make_refund(api_sessions, make_order(api_sessions, owner))
    stranger = make_user(api_sessions, Role.STUDENT)
    agent = make_user(api_sessions, Role.AGENT)
    assert api.get(f"/api/refunds/{refund.id}", headers=auth(api, stranger)).status_code == 404
    assert (
        api.get(f"/api/refunds/{refund.id}", headers=auth(api, owner)).json()["order_id"] == refund.order_id
    )
    assert api.get(f"/api/refunds/{refund.id}", headers=auth(api, agent)).status_code == 200
    assert refund.id not in [
        r["refund_id"] for r in api.get("/api/refunds", headers=auth(api, stranger)).json()
    ]
    assert [r["refund_id"] for r in api.get("/api/refunds", headers=auth(api, owner)).json()] == [refund.id]


def test_decisions_are_refused_for_the_wrong_role_state_or_input(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    member = make_user(api_sessions, Role.REVIEWER)
    join_group(api_sessions, member)
    reviewer = auth(api, member)
    refund = make_refund(api_sessions, make_order(api_sessions, student), status="refunded")
    url = f"/api/refunds/{refund.id}/decision"
    approve = {"decision": "approve", "reason": "ok"}
    assert api.post(url, json=approve, headers=auth(api, student)).status_code == 403
    assert (
        api.post(url, json=approve, headers=auth(api, make_user(api_sessions, Role.AGENT))).status_code == 403
    )
    wrong_state = api.post(url, json=approve, headers=reviewer)
    assert wrong_state.status_code == 409 and "refunded" in wrong_state.json()["detail"]
    no_reason = api.post(url, json={"decision": "reject", "reason": " "}, headers=reviewer)
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    assert api.post(url, json={"decision": "maybe"}, headers=reviewer).status_code == 422
    assert api.post("/api/refunds/RF-NOPE/decision", json=approve, headers=reviewer).status_code == 404


def test_forged_and_stale_wechatpay_notifications_are_refused_and_change_nothing(
    api: TestClient, api_sessions: SessionFactory, settings: Settings
) -> None:
    refund = make_refund(
        api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)), status="refunding"
    )
    keys = load_dev_keys(settings.data_dir)
    resource = {
        "mchid": WECHATPAY_MCHID,
        "transaction_id": "4200000001",
        "out_trade_no": refund.order_id,
        "refund_id": "50300000001",
        "out_refund_no": refund.id,
        "refund_status": "SUCCESS",
        "success_time": "2026-11-23T13:00:00+08:00",
        "amount": {"refund": refund.refund_amount_fen, "total": refund.amount_paid_fen},
    }
    body = json.dumps(
        {"event_type": "REFUND.SUCCESS", "resource": encrypt_resource(keys.wechatpay_apiv3_key, resource)}
    ).encode()
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attempts = {
        "signed by another key": platform_signed_headers(forger, WECHATPAY_PLATFORM_SERIAL, body),
        "unknown key serial": platform_signed_headers(keys.wechatpay_platform, "SOMEONE-ELSE", body),
        "replayed an hour later": platform_signed_headers(
            keys.wechatpay_platform, WECHATPAY_PLATFORM_SERIAL, body, timestamp=int(time.time()) - 3600
        ),
        "unsigned": {"Content-Type": "application/json"},
    }
    for attempt, headers in attempts.items():
        response = api.post("/api/payments/wechatpay/notify", content=body, headers=headers)
        assert response.status_code == 401, attempt
        assert response.json()["code"] == "FAIL", attempt
    tampered = body.replace(b"REFUND.SUCCESS", b"REFUND.CLOSED")
    signed_then_tampered = platform_signed_headers(keys.wechatpay_platform, WECHATPAY_PLATFORM_SERIAL, body)
    assert (
        api.post("/api/payments/wechatpay/notify", content=tampered, headers=signed_then_tampered).status_code
        == 401
    )
    with api_sessions() as session:
        stored = session.get(Refund, refund.id)
        assert stored is not None and stored.status == "refunding"
        assert session.exec(select(AuditEvent).where(AuditEvent.case_id == refund.id)).all() == []
    assert api.post("/api/payments/paypal/notify", content=body).status_code == 422


def test_a_forged_alipay_notification_gets_failure(api: TestClient, settings: Settings) -> None:
    params = {
        "app_id": ALIPAY_APP_ID,
        "out_biz_no": "RF1",
        "gmt_refund": "2026-11-23 13:00:00",
        "refund_fee": "1.00",
    }
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    params["sign"] = sign_params(forger, params)
    response = api.post(
        "/api/payments/alipay/notify",
        content=str(httpx.QueryParams(params)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (response.status_code, response.text) == (401, "failure")


def test_control_characters_are_refused_where_text_comes_in(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    nul = api.post(
        "/api/refunds", json={"order_id": order.id, "reason": "时间\u0000冲突"}, headers=auth(api, student)
    )
    assert nul.status_code == 422 and "control character (U+0000)" in nul.text
    refund = make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_review")
    reviewer = auth(api, make_user(api_sessions, Role.REVIEWER))
    decision = {"decision": "reject", "reason": "不\u0007符合"}
    assert api.post(f"/api/refunds/{refund.id}/decision", json=decision, headers=reviewer).status_code == 422
    multiline = api.post(
        "/api/refunds",
        json={"order_id": "O-none", "reason": "第一行\n第二行\t缩进"},
        headers=auth(api, student),
    )
    assert multiline.status_code == 404  # new lines and tabs are fine; that order just is not theirs


def test_only_refund_readers_list_refunds(api: TestClient, api_sessions: SessionFactory) -> None:
    make_refund(api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)))
    for role, expected in [(Role.INTEGRATION, 403), (Role.FINANCE, 200), (Role.REVIEWER, 200)]:
        response = api.get("/api/refunds", headers=auth(api, make_user(api_sessions, role)))
        assert response.status_code == expected, role


def test_an_order_paid_through_a_gateway_not_connected_here_is_refused_before_anything_starts(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    with api_sessions() as session:
        stored = session.get(Order, order.id)
        assert stored is not None
        stored.gateway = "alipay"
        session.add(stored)
        session.commit()
    connected = api.app.state.gateways
    api.app.state.gateways = {g: c for g, c in connected.items() if g is not Gateway.ALIPAY}
    try:
        response = api.post(
            "/api/refunds", json={"order_id": order.id, "reason": "不想学了"}, headers=auth(api, student)
        )
    finally:
        api.app.state.gateways = connected
    assert response.status_code == 409 and "not connected here" in response.text
    with api_sessions() as session:
        assert session.exec(select(Refund).where(Refund.order_id == order.id)).all() == []


def test_manager_confirmations_are_refused_for_the_wrong_role_state_or_input(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    refund = make_refund(
        api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)), status="approved"
    )
    url = f"/api/refunds/{refund.id}/confirmation"
    confirmed = {"outcome": "confirmed", "note": "已电话确认"}
    assert (
        api.post(url, json=confirmed, headers=auth(api, make_user(api_sessions, Role.REVIEWER))).status_code
        == 403
    )
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    wrong_state = api.post(url, json=confirmed, headers=lead)
    assert wrong_state.status_code == 409 and "not awaiting a manager's call" in wrong_state.text
    assert api.post(url, json={"outcome": "confirmed", "note": ""}, headers=lead).status_code == 422
    assert api.post(url, json={"outcome": "maybe", "note": "x"}, headers=lead).status_code == 422


def test_a_reviewer_outside_the_refunds_group_may_not_decide_it(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    refund = make_refund(
        api_sessions,
        make_order(api_sessions, make_user(api_sessions, Role.STUDENT)),
        status="awaiting_review",
        review_group="premium-courses",
    )
    outsider = make_user(api_sessions, Role.REVIEWER)
    join_group(api_sessions, outsider, "trial-courses")
    url = f"/api/refunds/{refund.id}/decision"
    refused = api.post(url, json={"decision": "approve"}, headers=auth(api, outsider))
    assert refused.status_code == 403 and "premium-courses" in refused.text
    insider = make_user(api_sessions, Role.REVIEWER)
    join_group(api_sessions, insider, "premium-courses")
    lead = make_user(api_sessions, Role.LEAD)
    for allowed in (insider, lead):  # past the checks, on to Temporal (down in this module)
        assert api.post(url, json={"decision": "approve"}, headers=auth(api, allowed)).status_code == 503


def test_a_reviewers_queue_is_their_groups_soonest_due_first(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    reviewer = make_user(api_sessions, Role.REVIEWER)
    join_group(api_sessions, reviewer, "vip-desk")
    now = utcnow()
    student = make_user(api_sessions, Role.STUDENT)

    def awaiting(group: str, due_in_hours: int) -> str:
        order = make_order(api_sessions, student)
        return make_refund(
            api_sessions,
            order,
            status="awaiting_review",
            review_group=group,
            review_due_at=now + timedelta(hours=due_in_hours),
        ).id

    later, other_group, sooner = (
        awaiting("vip-desk", 40),
        awaiting("trial-courses", 1),
        awaiting("vip-desk", 3),
    )
    queue = api.get("/api/refunds", params={"status": "awaiting_review"}, headers=auth(api, reviewer)).json()
    assert [r["refund_id"] for r in queue] == [sooner, later]
    assert other_group not in [r["refund_id"] for r in queue]
    assert queue[0]["review_group"] == "vip-desk" and queue[0]["review_due_at"] is not None
    lead_view = api.get(
        "/api/refunds",
        params={"status": "awaiting_review"},
        headers=auth(api, make_user(api_sessions, Role.LEAD)),
    )
    assert other_group in [r["refund_id"] for r in lead_view.json()]
