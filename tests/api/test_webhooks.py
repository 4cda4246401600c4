"""Webhook subscriptions: admins only, checked input, the secret shown once, and the delivery log."""

from __future__ import annotations

from fastapi.testclient import TestClient

from db.engine import SessionFactory
from db.models import WebhookDelivery
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user


def test_an_admin_subscribes_an_endpoint_and_sees_the_secret_once(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    created = api.post(
        "/api/webhooks",
        json={"url": "https://crm.school.test/hooks", "event_types": ["refund.*", "refund.*"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("wh_") and len(body["secret"]) >= 32
    assert body["event_types"] == ["refund.*"] and body["active"] is True
    listed = next(s for s in api.get("/api/webhooks", headers=admin).json() if s["id"] == body["id"])
    assert "secret" not in listed

    paused = api.patch(f"/api/webhooks/{body['id']}", json={"active": False}, headers=admin)
    assert paused.status_code == 200 and paused.json()["active"] is False
    changed = api.patch(
        f"/api/webhooks/{body['id']}", json={"event_types": ["refund.refunded"]}, headers=admin
    ).json()
    assert (changed["event_types"], changed["url"]) == (["refund.refunded"], "https://crm.school.test/hooks")


def test_bad_subscriptions_get_422_with_the_reason_and_others_403(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    before = api.get("/api/webhooks", headers=admin).json()
    unknown = api.post(
        "/api/webhooks", json={"url": "https://x.test/h", "event_types": ["refund.paid"]}, headers=admin
    )
    assert unknown.status_code == 422 and "unknown event type 'refund.paid'" in unknown.text
    for bad in (
        {"url": "ftp://x.test/h", "event_types": ["*"]},
        {"url": "not a url", "event_types": ["*"]},
        {"url": "https://x.test/h", "event_types": []},
        {"url": "https://x.test/h", "event_types": ["complaintz.*"]},
    ):
        assert api.post("/api/webhooks", json=bad, headers=admin).status_code == 422, bad
    assert api.get("/api/webhooks", headers=admin).json() == before  # nothing was stored
    assert api.patch("/api/webhooks/wh_nope", json={"active": False}, headers=admin).status_code == 404
    for role in (Role.LEAD, Role.FINANCE, Role.INTEGRATION, Role.STUDENT):
        headers = auth(api, make_user(api_sessions, role))
        assert api.get("/api/webhooks", headers=headers).status_code == 403
        assert (
            api.post("/api/webhooks", json={"url": "https://x.test", "event_types": ["*"]}, headers=headers)
        ).status_code == 403


def test_the_delivery_log_shows_each_attempts_answer_newest_first(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    subscription = api.post(
        "/api/webhooks", json={"url": "https://crm.test/h", "event_types": ["*"]}, headers=admin
    ).json()
    with api_sessions() as session:
        for n, (state, answer) in enumerate([("sent", 200), ("failed", 410)]):
            session.add(
                WebhookDelivery(
                    id=f"evt-{n}:{subscription['id']}",
                    subscription_id=subscription["id"],
                    event_id=f"evt-{n}",
                    event_type="refund.refunded",
                    case_type="refund",
                    case_id="RF1",
                    body="{}",
                    status=state,
                    attempts=n + 1,
                    response_status=answer,
                )
            )
        session.commit()
    url = f"/api/webhooks/{subscription['id']}/deliveries"
    log = api.get(url, headers=admin).json()
    answers = {(d["status"], d["response_status"], d["attempts"]) for d in log}
    assert answers == {("sent", 200, 1), ("failed", 410, 2)}
    failed = api.get(f"{url}?status=failed", headers=admin).json()
    assert [d["event_id"] for d in failed] == ["evt-1"]
