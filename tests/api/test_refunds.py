"""Refund routes' refusals. Temporal is unreachable in this module, so each answer here was decided
before the workflow service was involved — and the 503 case shows nothing is left half-written."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlmodel import select

from db.engine import SessionFactory
from db.models import AuditEvent, Order, Refund
from domain.roles import Role
from integrations.payments.sandbox import signed_headers
from settings import Settings
from tests.api.helpers import auth
from tests.factories import make_order, make_refund, make_user


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
    reviewer = auth(api, make_user(api_sessions, Role.REVIEWER))
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


def test_a_forged_gateway_callback_is_refused_and_changes_nothing(
    api: TestClient, api_sessions: SessionFactory, settings: Settings
) -> None:
    refund = make_refund(
        api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)), status="refunding"
    )
    resource = {
        "refund_id": "SB1",
        "out_refund_no": refund.id,
        "status": "SUCCESS",
        "success_time": "2026-11-23T05:00:00+00:00",
        "amount": {"refund": refund.refund_amount_fen, "total": refund.amount_paid_fen},
    }
    body = json.dumps({"event_type": "REFUND.SUCCESS", "resource": resource}).encode()
    forged = signed_headers("not-the-sandbox-secret", body)
    response = api.post("/api/payments/sandbox/notify", content=body, headers=forged)
    assert response.status_code == 401
    assert response.json()["code"] == "FAIL"
    unsigned = api.post(
        "/api/payments/sandbox/notify", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    with api_sessions() as session:
        stored = session.get(Refund, refund.id)
        assert stored is not None and stored.status == "refunding"
        assert session.exec(select(AuditEvent).where(AuditEvent.case_id == refund.id)).all() == []
    assert api.post("/api/payments/paypal/notify", content=body).status_code == 422


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
    response = api.post(
        "/api/refunds", json={"order_id": order.id, "reason": "不想学了"}, headers=auth(api, student)
    )
    assert response.status_code == 409 and "not connected here" in response.text
    with api_sessions() as session:
        assert session.exec(select(Refund).where(Refund.order_id == order.id)).all() == []
