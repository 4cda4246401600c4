from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from db.engine import SessionFactory
from domain.courses import CourseType
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_order, make_user

NEW_REGULAR_TERMS = {
    "window": "days_after_start",
    "window_days": 14,
    "fee_bp": 500,
    "notice_channels": ["inbox", "email"],
    "outside_window": "manual_review",
    "manager_confirmation": False,
    "manager_confirmation_from_fen": None,
    "review_reminder_hours": 8,
    "review_escalation_hours": 24,
}


def test_everyone_signed_in_reads_the_policies_in_force(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    policies = api.get("/api/policies", headers=auth(api, make_user(api_sessions, Role.STUDENT))).json()
    by_type = {p["course_type"]: p for p in policies}
    assert set(by_type) == {"trial", "regular", "premium"}
    assert by_type["trial"]["window"] == "before_start" and by_type["trial"]["fee_bp"] == 0
    assert (by_type["regular"]["window_days"], by_type["regular"]["fee_bp"]) == (7, 1_000)
    assert by_type["premium"]["window"] == "per_contract" and by_type["premium"]["manager_confirmation"]
    assert api.get("/api/policies").status_code == 401


def test_an_admin_publishes_a_new_version_and_the_old_ones_remain(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    before = api.get("/api/policies/regular", headers=admin).json()["version"]
    published = api.put("/api/policies/regular", json=NEW_REGULAR_TERMS, headers=admin)
    assert published.status_code == 201, published.text
    assert published.json()["version"] == before + 1 and published.json()["window_days"] == 14
    assert api.get("/api/policies/regular", headers=admin).json()["fee_bp"] == 500
    versions = api.get("/api/policies/regular/versions", headers=admin).json()
    assert [v["version"] for v in versions] == list(range(before + 1, 0, -1))
    assert versions[-1]["fee_bp"] == 1_000  # version 1 is kept as it was


def test_only_admins_publish_and_bad_terms_change_nothing(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    before = api.get("/api/policies/trial/versions", headers=admin).json()
    assert api.put("/api/policies/trial", json=NEW_REGULAR_TERMS, headers=lead).status_code == 403
    bad = api.put("/api/policies/trial", json={**NEW_REGULAR_TERMS, "window_days": None}, headers=admin)
    assert bad.status_code == 422 and "window_days is required" in bad.text
    assert api.put("/api/policies/vip", json=NEW_REGULAR_TERMS, headers=admin).status_code == 422
    assert api.get("/api/policies/trial/versions", headers=admin).json() == before
    student = auth(api, make_user(api_sessions, Role.STUDENT))
    assert api.get("/api/policies/trial/versions", headers=student).status_code == 403


def test_a_student_sees_the_quote_before_submitting(api: TestClient, api_sessions: SessionFactory) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student, course_type=CourseType.TRIAL, amount_paid_fen=9_900)
    quote = api.post("/api/refunds/quote", json={"order_id": order.id}, headers=auth(api, student))
    assert quote.status_code == 200, quote.text
    body = quote.json()
    assert (body["eligibility"], body["fee_fen"], body["refund_amount_fen"]) == ("eligible", 0, 9_900)
    assert body["reason_text"] is None and body["notice_channels"] == ["inbox", "email"]
    assert body["policy_version"] >= 1 and body["window_ends_at"] is not None


def test_a_quote_outside_the_window_says_why(api: TestClient, api_sessions: SessionFactory) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    started = make_order(api_sessions, student, course_type=CourseType.TRIAL, starts_in=-timedelta(hours=1))
    body = api.post("/api/refunds/quote", json={"order_id": started.id}, headers=auth(api, student)).json()
    assert (body["eligibility"], body["reason"]) == ("ineligible", "outside_window")
    assert body["reason_text"].startswith("很抱歉，本课程的退款期限已于")


def test_a_quote_for_part_of_the_order(api: TestClient, api_sessions: SessionFactory) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student, course_type=CourseType.TRIAL, amount_paid_fen=50_000)
    headers = auth(api, student)
    part = api.post(
        "/api/refunds/quote", json={"order_id": order.id, "amount_fen": 20_000}, headers=headers
    ).json()
    assert (part["requested_fen"], part["refund_amount_fen"], part["refundable_fen"]) == (
        20_000,
        20_000,
        50_000,
    )
    too_much = api.post(
        "/api/refunds/quote", json={"order_id": order.id, "amount_fen": 50_001}, headers=headers
    )
    assert too_much.status_code == 422
    assert too_much.json()["detail"][0]["loc"] == ["body", "amount_fen"]
    assert "between 1 and 50000" in too_much.json()["detail"][0]["msg"]
    fractional = api.post(
        "/api/refunds/quote", json={"order_id": order.id, "amount_fen": 100.5}, headers=headers
    )
    assert fractional.status_code == 422


def test_quotes_are_for_the_orders_own_student(api: TestClient, api_sessions: SessionFactory) -> None:
    order = make_order(api_sessions, make_user(api_sessions, Role.STUDENT))
    other = auth(api, make_user(api_sessions, Role.STUDENT))
    reviewer = auth(api, make_user(api_sessions, Role.REVIEWER))
    assert api.post("/api/refunds/quote", json={"order_id": order.id}, headers=other).status_code == 404
    assert api.post("/api/refunds/quote", json={"order_id": order.id}, headers=reviewer).status_code == 403
