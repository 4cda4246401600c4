"""Admins edit notice templates: history, preview, checks on save, and back to the default."""

from __future__ import annotations

from fastapi.testclient import TestClient

from db.engine import SessionFactory
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user
from tests.integrations.test_notice_renderer import GOOD_EDIT, blocks

NAME = "refund_received.all.en.j2"
URL = f"/api/templates/{NAME}"


def test_an_admin_previews_saves_and_reverts_a_template(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    listed = {t["name"]: t for t in api.get("/api/templates", headers=admin).json()}
    assert listed[NAME] == {
        "name": NAME,
        "event": "refund_received",
        "channel": "all",
        "locale": "en",
        "version": 0,
    }
    assert "review_reminder.inbox.zh-CN.j2" in listed and "_email_layout.html.j2" not in listed
    shipped = api.get(URL, headers=admin).json()
    assert (
        shipped["version"] == 0 and shipped["versions"] == [] and "{% block subject %}" in shipped["source"]
    )

    draft = blocks("We have your request ({{ order_id }})", "Dear {{ student_name }}, thank you.")
    preview = api.post(f"{URL}/preview", json={"source": draft}, headers=admin)
    assert preview.status_code == 200
    assert preview.json()["subject"] == "We have your request (O-20261120-0042)"  # sample data
    assert "林小雨" in preview.json()["html"]
    assert api.get(URL, headers=admin).json()["version"] == 0  # a preview saves nothing

    saved = api.put(URL, json={"source": draft, "note": "shorter"}, headers=admin)
    assert saved.status_code == 201, saved.text
    assert (saved.json()["version"], saved.json()["source"]) == (1, draft)
    again = api.put(URL, json={"source": draft.replace("thank you", "thanks")}, headers=admin).json()
    assert [v["version"] for v in again["versions"]] == [2, 1] and again["versions"][1]["note"] == "shorter"
    assert {t["name"]: t for t in api.get("/api/templates", headers=admin).json()}[NAME]["version"] == 2

    reverted = api.post(f"{URL}/revert", headers=admin)
    assert reverted.status_code == 200
    body = reverted.json()
    assert body["version"] == 0 and body["source"] == shipped["source"]
    assert [(v["version"], v["back_to_default"]) for v in body["versions"]] == [
        (3, True),
        (2, False),
        (1, False),
    ]
    assert api.post(f"{URL}/revert", headers=admin).status_code == 409


def test_edits_that_could_not_be_sent_get_422_and_nothing_is_saved(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    name = "refund_rejected.sms.zh-CN.j2"
    before = api.get(f"/api/templates/{name}", headers=admin).json()
    for source, problem in [
        (blocks("x", "{{ order_id }"), "line 1"),
        (blocks("{{ decision_reasn }}", "x"), "unknown variables: decision_reasn"),
        ("{% block text %}x{% endblock %}", "blocks: subject"),
        (blocks("x\x00", "x"), "control character"),
        ("", "at least 1"),
    ]:
        for action in ("PUT", "preview"):
            if action == "PUT":
                answer = api.put(f"/api/templates/{name}", json={"source": source}, headers=admin)
            else:
                answer = api.post(f"/api/templates/{name}/preview", json={"source": source}, headers=admin)
            assert answer.status_code == 422 and problem in answer.text, (action, source, answer.text)
            assert answer.json()["detail"][0]["loc"][-1] == "source"
    assert api.get(f"/api/templates/{name}", headers=admin).json() == before

    assert api.get("/api/templates/nope.all.zh-CN.j2", headers=admin).status_code == 404
    assert (
        api.put("/api/templates/_email_layout.html.j2", json={"source": GOOD_EDIT}, headers=admin).status_code
        == 404
    )
    for role in (Role.LEAD, Role.AGENT, Role.STUDENT):
        headers = auth(api, make_user(api_sessions, role))
        assert api.get("/api/templates", headers=headers).status_code == 403
        assert (
            api.put(f"/api/templates/{name}", json={"source": GOOD_EDIT}, headers=headers).status_code == 403
        )
