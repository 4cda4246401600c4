from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from db.engine import SessionFactory
from db.models import Course, Order
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user


def order_body(student_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "student_id": student_id,
        "course": {
            "id": "C-PY-101",
            "name": "Python 入门",
            "type": "regular",
            "starts_at": "2026-12-01T10:00:00+08:00",
        },
        "amount_paid_fen": 199_900,
        "paid_at": "2026-11-20T09:30:00+08:00",
        "gateway": "wechatpay",
        "gateway_trade_no": "4200001234202611201234567890",
    }
    body.update(overrides)
    return body


def test_the_commerce_system_creates_then_updates_an_order(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    integration = auth(api, make_user(api_sessions, Role.INTEGRATION))
    student = make_user(api_sessions, Role.STUDENT)
    created = api.put("/api/orders/O-2026-0001", json=order_body(student.id), headers=integration)
    assert created.status_code == 201, created.text
    assert created.json()["paid_at"] == "2026-11-20T01:30:00Z"  # stored and returned in UTC
    updated = api.put(
        "/api/orders/O-2026-0001",
        json=order_body(
            student.id,
            amount_paid_fen=99_900,
            course={"id": "C-PY-101", "name": "Python 入门（新版）", "type": "regular"},
        ),
        headers=integration,
    )
    assert updated.status_code == 200
    with api_sessions() as session:
        order = session.get(Order, "O-2026-0001")
        course = session.get(Course, "C-PY-101")
    assert order is not None and order.amount_paid_fen == 99_900
    assert course is not None and course.name == "Python 入门（新版）" and course.starts_at is None

    mine = api.get("/api/me/orders", headers=auth(api, student)).json()
    assert [(o["order_id"], o["course_name"], o["amount_paid_fen"]) for o in mine] == [
        ("O-2026-0001", "Python 入门（新版）", 99_900)
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_paid_fen": 1999.5}, "amount_paid_fen"),
        ({"amount_paid_fen": "199900"}, "amount_paid_fen"),
        ({"amount_paid_fen": 0}, "amount_paid_fen"),
        ({"paid_at": "2026-11-20T09:30:00"}, "paid_at"),  # no timezone: ambiguous
        ({"paid_at": "0001-01-01T00:00:00+01:00"}, "paid_at"),  # before the first instant UTC can hold
        ({"gateway_trade_no": "T 1"}, "gateway_trade_no"),
        ({"course": {"id": "C1", "name": "x\u0000", "type": "trial"}}, "name"),
        ({"gateway": "paypal"}, "gateway"),
        ({"course": {"id": "C1", "name": "x", "type": "vip"}}, "type"),
        ({"course": {"id": "C 1", "name": "x", "type": "trial"}}, "id"),
        ({"student_id": "S-NOT-THERE"}, "student_id"),
    ],
)
def test_invalid_orders_get_field_errors_and_change_nothing(
    api: TestClient, api_sessions: SessionFactory, overrides: dict[str, Any], field: str
) -> None:
    integration = auth(api, make_user(api_sessions, Role.INTEGRATION))
    student = make_user(api_sessions, Role.STUDENT)
    response = api.put(
        "/api/orders/O-BAD-1", json={**order_body(student.id), **overrides}, headers=integration
    )
    assert response.status_code == 422, response.text
    assert any(error["loc"][-1] == field and error["msg"] for error in response.json()["detail"])
    with api_sessions() as session:
        assert session.get(Order, "O-BAD-1") is None
        assert session.exec(select(Course).where(Course.id == "C1")).first() is None


def test_an_order_cannot_move_to_another_student(api: TestClient, api_sessions: SessionFactory) -> None:
    integration = auth(api, make_user(api_sessions, Role.INTEGRATION))
    first, second = make_user(api_sessions, Role.STUDENT), make_user(api_sessions, Role.STUDENT)
    assert api.put("/api/orders/O-MOVE", json=order_body(first.id), headers=integration).status_code == 201
    moved = api.put("/api/orders/O-MOVE", json=order_body(second.id), headers=integration)
    assert moved.status_code == 422
    with api_sessions() as session:
        order = session.get(Order, "O-MOVE")
    assert order is not None and order.student_id == first.id


@pytest.mark.parametrize("role", [Role.STUDENT, Role.REVIEWER, Role.ADMIN])
def test_only_the_integration_role_pushes_orders(
    api: TestClient, api_sessions: SessionFactory, role: Role
) -> None:
    user = make_user(api_sessions, role)
    student = make_user(api_sessions, Role.STUDENT)
    response = api.put(f"/api/orders/O-{role.value}", json=order_body(student.id), headers=auth(api, user))
    assert response.status_code == 403
