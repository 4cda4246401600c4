"""The report's improvement actions: leads and admins write and edit them, each on its own audit
chain; bad input is a 422 beside its field, other roles a 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from db.audit_log import verify_case
from db.engine import SessionFactory
from db.models import User
from domain.roles import Role
from tests.api.helpers import audit_trail, auth
from tests.factories import make_user

URL = "/api/reports/complaints/actions"


@pytest.fixture(scope="module")
def lead(api_sessions: SessionFactory) -> User:
    return make_user(api_sessions, Role.LEAD)


def test_a_lead_writes_an_action_and_edits_it_every_change_audited(
    api: TestClient, api_sessions: SessionFactory, lead: User
) -> None:
    headers = auth(api, lead)
    written = api.post(
        URL,
        json={
            "month": "2026-03",
            "category": "technical",
            "root_cause": " huawei  P30 闪退",
            "action": " 发布紧急修复补丁，加强发布前的测试覆盖 ",
            "owner": "App 组",
        },
        headers=headers,
    )
    assert written.status_code == 201, written.text
    action = written.json()
    assert {k: action[k] for k in ("month", "category", "root_cause", "action", "owner", "status")} == {
        "month": "2026-03",
        "category": "technical",
        "root_cause": "huawei P30 闪退",
        "action": "发布紧急修复补丁，加强发布前的测试覆盖",
        "owner": "App 组",
        "status": "planned",
    }
    assert action["created_by"] == action["updated_by"] == lead.id
    url = f"{URL}/{action['id']}"

    admin = make_user(api_sessions, Role.ADMIN)
    changed = api.put(url, json={"status": "in_progress", "owner": None}, headers=auth(api, admin))
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert (after["status"], after["owner"], after["updated_by"], after["created_by"]) == (
        "in_progress",
        None,
        admin.id,
        lead.id,
    )
    assert after["action"] == action["action"]  # what was not given stays
    assert api.put(url, json={"status": "in_progress"}, headers=headers).status_code == 200  # nothing new

    trail = audit_trail(api_sessions, "improvement_action", str(action["id"]))
    assert [(e.seq, e.event, e.actor) for e in trail] == [
        (1, "improvement_action.created", lead.id),
        (2, "improvement_action.changed", admin.id),
    ]
    assert trail[1].detail["before"]["owner"] == "App 组" and trail[1].detail["after"]["owner"] is None
    assert trail[1].detail["after"]["status"] == "in_progress"
    with api_sessions() as session:
        assert verify_case(session, "improvement_action", str(action["id"])).broken is None


def test_the_months_actions_are_listed_by_category(
    api: TestClient, api_sessions: SessionFactory, lead: User
) -> None:
    headers = auth(api, lead)
    for month, category, text in (
        ("2025-07", "service_fees", "优化退款页面的图文说明"),
        ("2025-07", "technical", "扩容直播 CDN"),
        ("2025-07", "service_fees", "制作退款流程视频教程"),
        ("2025-08", "technical", "下个月的事"),
    ):
        posted = api.post(URL, json={"month": month, "category": category, "action": text}, headers=headers)
        assert posted.status_code == 201
    listed = api.get(URL, params={"month": "2025-07"}, headers=headers)
    assert [(a["category"], a["action"]) for a in listed.json()] == [
        ("service_fees", "优化退款页面的图文说明"),
        ("service_fees", "制作退款流程视频教程"),
        ("technical", "扩容直播 CDN"),
    ]
    only = api.get(URL, params={"month": "2025-07", "category": "technical"}, headers=headers)
    assert [a["action"] for a in only.json()] == ["扩容直播 CDN"]


def test_refusals_say_which_field_and_change_nothing(
    api: TestClient, api_sessions: SessionFactory, lead: User
) -> None:
    headers = auth(api, lead)
    good = {"month": "2025-09", "category": "technical", "action": "加强测试"}
    for field, value, problem in (
        ("month", "2025-9", "month must look like 2026-03"),
        ("month", "2025-13", "month must look like 2026-03"),
        ("month", "1999-12", "between 2000-01 and 2999-12"),
        ("category", "kitchen", "'technical', 'course_content' or 'service_fees'"),
        ("action", "   ", "at least 1 character"),
        ("action", "长" * 1001, "at most 1000 characters"),
        ("owner", "长" * 101, "at most 100 characters"),
        ("root_cause", "  ", "at least one character"),
        ("status", "finished", "'planned', 'in_progress', 'done' or 'dropped'"),
    ):
        refused = api.post(URL, json={**good, field: value}, headers=headers)
        assert refused.status_code == 422, (field, value)
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", field] and problem in error["msg"], error
    missing = api.post(URL, json={"category": "technical", "action": "x"}, headers=headers)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "month"]

    written = api.post(URL, json=good, headers=headers).json()
    url = f"{URL}/{written['id']}"
    for body, field in (
        ({"action": None}, "action"),
        ({"status": None}, "status"),
        ({"status": "x"}, "status"),
    ):
        refused = api.put(url, json=body, headers=headers)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", field]
    assert api.put(f"{URL}/999999", json={"status": "done"}, headers=headers).status_code == 404
    # Found by the fuzzer on PostgreSQL: an action number past its integer was a 500 ("integer out of
    # range"), and past 2**63 SQLite's overflow; none has such a number, so it is refused on the path.
    for number in ("2147483648", "99999999999999999999", "0"):
        refused = api.put(f"{URL}/{number}", json={"status": "done"}, headers=headers)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["path", "action_id"]
    assert api.get(URL, params={"month": "2025-9"}, headers=headers).json()["detail"][0]["loc"] == [
        "query",
        "month",
    ]

    for role in (Role.AGENT, Role.STUDENT, Role.FINANCE):
        other = auth(api, make_user(api_sessions, role))
        assert api.get(URL, params={"month": "2025-09"}, headers=other).status_code == 403
        assert api.post(URL, json=good, headers=other).status_code == 403
        assert api.put(url, json={"status": "done"}, headers=other).status_code == 403
    listed = api.get(URL, params={"month": "2025-09"}, headers=headers).json()
    assert [(a["action"], a["status"]) for a in listed] == [("加强测试", "planned")]
    assert len(audit_trail(api_sessions, "improvement_action", str(written["id"]))) == 1
