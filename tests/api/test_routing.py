"""Admins edit reviewer groups and routing rules; bad edits get 422/404/403 and change nothing; the
next refund is routed by what was saved."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.review import ReviewActivities
from api.errors import simultaneous_change
from db.engine import SessionFactory
from db.models import AuditEvent, ReviewerGroup, ReviewerGroupMember
from domain.courses import CourseType
from domain.refunds import AssignmentRequest
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user


def _rule(priority: int, group: str, course_type: str | None = None, min_fen: int | None = None, vip=False):
    return dict(
        priority=priority, group_id=group, course_type=course_type, min_amount_fen=min_fen, vip_only=vip
    )


DEFAULT_RULES = [
    _rule(10, "vip-desk", vip=True),
    _rule(20, "premium-courses", "premium"),
    _rule(30, "premium-courses", min_fen=500_000),
    _rule(40, "regular-courses", "regular"),
    _rule(50, "trial-courses", "trial"),
    _rule(100, "regular-courses"),
]


def _route(sessions: SessionFactory, student_id: str, course_type: CourseType, amount: int):
    request = AssignmentRequest(
        refund_id="RF-ROUTE", student_id=student_id, course_type=course_type, refund_amount_fen=amount
    )
    return ActivityEnvironment().run(ReviewActivities(sessions).assign_reviewer, request)


def test_leads_read_the_routing_and_admins_change_it(api: TestClient, api_sessions: SessionFactory) -> None:
    admin_user = make_user(api_sessions, Role.ADMIN)
    admin = auth(api, admin_user)
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    routing = api.get("/api/routing", headers=lead).json()
    assert routing["rules"] == DEFAULT_RULES  # migration 0004's defaults
    assert {g["id"] for g in routing["groups"]} >= {"vip-desk", "regular-courses", "trial-courses"}

    # A new group for trial courses taught in English, with a reviewer in it.
    group = api.put("/api/routing/groups/trial-en", json={"name": "英文体验课"}, headers=admin)
    assert group.status_code == 200 and group.json() == {
        "id": "trial-en",
        "name": "英文体验课",
        "members": [],
    }
    reviewer = make_user(api_sessions, Role.REVIEWER)
    assert api.put(f"/api/routing/groups/trial-en/members/{reviewer.id}", headers=admin).status_code == 204
    assert api.put(f"/api/routing/groups/trial-en/members/{reviewer.id}", headers=admin).status_code == 204
    new_rules = [
        {"priority": 5, "group_id": "trial-en", "course_type": "trial"},
        {"priority": 100, "group_id": "regular-courses"},
    ]
    saved = api.put("/api/routing/rules", json={"rules": new_rules}, headers=admin)
    assert saved.status_code == 200, saved.text
    assert [(r["priority"], r["group_id"]) for r in saved.json()["rules"]] == [
        (5, "trial-en"),
        (100, "regular-courses"),
    ]
    [trial_en] = [g for g in saved.json()["groups"] if g["id"] == "trial-en"]
    assert [m["user_id"] for m in trial_en["members"]] == [reviewer.id]

    # The next trial refund is routed by the saved rules, to the group's reviewer.
    student = make_user(api_sessions, Role.STUDENT)
    assignment = _route(api_sessions, student.id, CourseType.TRIAL, 9_900)
    assert assignment.group_id == "trial-en" and assignment.reviewer.user_id == reviewer.id
    assert _route(api_sessions, student.id, CourseType.PREMIUM, 9_900).group_id == "regular-courses"

    assert api.delete(f"/api/routing/groups/trial-en/members/{reviewer.id}", headers=admin).status_code == 204
    assert _route(api_sessions, student.id, CourseType.TRIAL, 9_900).reviewer is None
    with api_sessions() as session:
        audited = session.exec(
            select(AuditEvent.event).where(
                AuditEvent.case_type == "config", AuditEvent.actor == admin_user.id
            )
        ).all()
    assert sorted(audited) == [
        "routing.group_saved",
        "routing.member_added",
        "routing.member_removed",
        "routing.rules_replaced",
    ]
    assert api.put("/api/routing/rules", json={"rules": DEFAULT_RULES}, headers=admin).status_code == 200


def test_bad_routing_edits_are_refused_and_change_nothing(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    before = api.get("/api/routing", headers=admin).json()

    def refused(rules: list[dict], expected: str) -> None:
        answer = api.put("/api/routing/rules", json={"rules": rules}, headers=admin)
        assert answer.status_code == 422 and expected in answer.text, answer.text

    catch_all = {"priority": 100, "group_id": "regular-courses"}
    refused([{"priority": 1, "group_id": "regular-courses", "course_type": "trial"}], "no conditions")
    refused([{"priority": 100, "group_id": "regular-courses"}, catch_all], "same priority")
    refused([{"priority": 1, "group_id": "no-such-group"}, catch_all], "no reviewer group no-such-group")
    refused(
        [{"priority": 1, "group_id": "vip-desk", "min_amount_fen": -1}, catch_all], "greater than or equal"
    )
    # Past what a database integer holds this was a 500 on both databases; no order is paid more than
    # PUT /api/orders takes, so neither is a rule's threshold.
    for too_much in (100_000_001, 2**31, 2**63):
        refused(
            [{"priority": 1, "group_id": "vip-desk", "min_amount_fen": too_much}, catch_all],
            "less than or equal to 100000000",
        )
    refused([{"priority": 1, "group_id": "vip-desk", "course_type": "diamond"}, catch_all], "course_type")
    refused([], "at least 1")
    bad_group = api.put("/api/routing/groups/Bad Name!", json={"name": "x"}, headers=admin)
    assert bad_group.status_code == 422
    assert api.put("/api/routing/groups/ok-id", json={"name": "\x07"}, headers=admin).status_code == 422

    student = make_user(api_sessions, Role.STUDENT)
    not_a_reviewer = api.put(f"/api/routing/groups/vip-desk/members/{student.id}", headers=admin)
    assert not_a_reviewer.status_code == 422 and "only reviewers and leads" in not_a_reviewer.text
    assert api.put("/api/routing/groups/vip-desk/members/U-NOBODY", headers=admin).status_code == 404
    assert api.put(f"/api/routing/groups/no-group/members/{student.id}", headers=admin).status_code == 404
    assert api.delete(f"/api/routing/groups/vip-desk/members/{student.id}", headers=admin).status_code == 404
    assert api.get("/api/routing", headers=admin).json() == before

    for role in (Role.LEAD, Role.REVIEWER, Role.FINANCE):
        headers = auth(api, make_user(api_sessions, role))
        assert api.put("/api/routing/rules", json={"rules": [catch_all]}, headers=headers).status_code == 403
        assert api.put("/api/routing/groups/x-y", json={"name": "x"}, headers=headers).status_code == 403
    for role in (Role.REVIEWER, Role.STUDENT):
        assert api.get("/api/routing", headers=auth(api, make_user(api_sessions, role))).status_code == 403


def _rival_commits_first(monkeypatch, sessions: SessionFactory, rival_write) -> None:
    """Another admin's request commits `rival_write` after this request's own checks passed and
    before it commits: the moment two admins' clicks race."""
    from api.routes import routing

    audited = routing.audit_config_change

    def rival_then_audit(*args, **kwargs):
        with sessions() as rival:
            rival_write(rival)
            rival.commit()
        return audited(*args, **kwargs)

    monkeypatch.setattr(routing, "audit_config_change", rival_then_audit)


def _config_events(sessions: SessionFactory, group_id: str) -> list[str]:
    with sessions() as session:
        return list(
            session.exec(
                select(AuditEvent.event).where(
                    AuditEvent.case_type == "config", AuditEvent.case_id == group_id
                )
            ).all()
        )


def test_two_admins_creating_one_group_at_once_the_second_gets_409_and_changes_nothing(
    api: TestClient, api_sessions: SessionFactory, monkeypatch
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    _rival_commits_first(
        monkeypatch, api_sessions, lambda rival: rival.add(ReviewerGroup(id="race-new", name="先到的名字"))
    )
    answer = api.put("/api/routing/groups/race-new", json={"name": "后到的名字"}, headers=admin)
    assert answer.status_code == 409, answer.text
    assert "at the same moment; nothing was changed" in answer.json()["detail"]
    monkeypatch.undo()
    groups = {g["id"]: g["name"] for g in api.get("/api/routing", headers=admin).json()["groups"]}
    assert groups["race-new"] == "先到的名字"  # the first admin's, untouched
    assert _config_events(api_sessions, "race-new") == []  # the refused change left no trace


def test_two_admins_removing_one_member_at_once_the_second_gets_404_and_records_nothing(
    api: TestClient, api_sessions: SessionFactory, monkeypatch
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    reviewer = make_user(api_sessions, Role.REVIEWER)
    assert (
        api.put("/api/routing/groups/race-members", json={"name": "退款审核组"}, headers=admin).status_code
        == 200
    )
    member = f"/api/routing/groups/race-members/members/{reviewer.id}"
    assert api.put(member, headers=admin).status_code == 204
    _rival_commits_first(
        monkeypatch,
        api_sessions,
        lambda rival: rival.delete(rival.get(ReviewerGroupMember, ("race-members", reviewer.id))),
    )
    answer = api.delete(member, headers=admin)
    assert answer.status_code == 404, answer.text
    assert f"{reviewer.id} is not in race-members" in answer.json()["detail"]
    monkeypatch.undo()
    # The group was saved and the member added; the removal the rival made is not this request's.
    assert _config_events(api_sessions, "race-members") == ["routing.group_saved", "routing.member_added"]


@pytest.mark.parametrize(
    ("database_words", "answered"),
    [
        ("UNIQUE constraint failed: reviewer_groups.id", 409),  # SQLite
        ('duplicate key value violates unique constraint "reviewer_groups_pkey"', 409),  # PostgreSQL
        ("NOT NULL constraint failed: reviewer_groups.name", None),  # a bug: stays a 500
        ('insert or update on table "x" violates foreign key constraint "fk"', None),
    ],
)
def test_only_a_duplicate_key_is_taken_for_a_race(database_words: str, answered: int | None) -> None:
    answer = simultaneous_change(IntegrityError("INSERT …", {}, Exception(database_words)))
    assert (answer.status_code if answer else None) == answered
