"""Compensation through the API, with Temporal unreachable: everything here is refused (or read)
before any workflow is asked — bad offers, wrong roles, someone's own offer, a settled one — and
the quotas are read and set, audited."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import AuditEvent, Compensation, CompensationQuotaRow
from domain.roles import Role
from domain.timeutil import utcnow
from tests.api.helpers import auth
from tests.factories import make_complaint, make_order, make_user


def _offer_row(sessions: SessionFactory, complaint, by: str, status: str, number: int, **extra) -> str:
    compensation_id = f"CM-{complaint.id}-{number}"
    now = utcnow()
    with sessions() as session:
        session.add(
            Compensation(
                id=compensation_id,
                complaint_id=complaint.id,
                student_id=complaint.student_id,
                kind=extra.pop("kind", "coupon"),
                amount_fen=extra.pop("amount_fen", 3_000),
                reason="补偿",
                requested_by=by,
                authority=extra.pop("authority", "quota"),
                status=status,
                created_at=extra.pop("created_at", now),
                updated_at=now,
            )
        )
        session.commit()
    return compensation_id


def test_an_offer_must_say_what_it_gives_and_come_from_complaint_staff(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student, stranger = make_user(api_sessions, Role.STUDENT), make_user(api_sessions, Role.STUDENT)
    complaint = make_complaint(api_sessions, student)
    url = f"/api/complaints/{complaint.id}/compensations"
    agent = auth(api, make_user(api_sessions, Role.AGENT))
    for bad in (
        {"kind": "coupon", "reason": "补偿"},  # no amount
        {"kind": "coupon", "amount_fen": 0, "reason": "补偿"},
        {"kind": "coupon", "amount_fen": 100_001, "reason": "补偿"},  # a refund, not a gesture
        {"kind": "coupon", "amount_fen": 500, "reason": ""},
        {"kind": "progress_reset", "amount_fen": 500, "reason": "补偿"},
        {"kind": "cash", "amount_fen": 500, "reason": "补偿"},
    ):
        assert api.post(url, json=bad, headers=agent).status_code == 422, bad
    # A reset names an order of the complaint's student: the complaint names none, and not another's.
    reset = {"kind": "progress_reset", "reason": "重新学习"}
    missing = api.post(url, json=reset, headers=agent)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "order_id"]
    theirs = make_order(api_sessions, stranger)
    assert api.post(url, json={**reset, "order_id": theirs.id}, headers=agent).status_code == 422
    coupon = {"kind": "coupon", "amount_fen": 500, "reason": "补偿"}
    for role in (Role.STUDENT, Role.REVIEWER, Role.FINANCE, Role.ADMIN):
        assert api.post(url, json=coupon, headers=auth(api, make_user(api_sessions, role))).status_code == 403
    assert api.post("/api/complaints/CP-NOPE/compensations", json=coupon, headers=agent).status_code == 404
    with api_sessions() as session:
        assert session.exec(select(Compensation).where(Compensation.complaint_id == complaint.id)).all() == []


def test_a_lead_decides_someone_elses_waiting_offer_and_a_refusal_says_why(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    agent, lead = make_user(api_sessions, Role.AGENT), make_user(api_sessions, Role.LEAD)
    waiting = _offer_row(api_sessions, complaint, agent.id, "awaiting_approval", 1, authority="lead")
    leads_own = _offer_row(api_sessions, complaint, lead.id, "awaiting_approval", 2, authority="lead")
    issued = _offer_row(api_sessions, complaint, agent.id, "issued", 3)
    url = f"/api/complaints/{complaint.id}/compensations/{{}}/decision"
    approve = {"approve": True}
    assert api.post(url.format(waiting), json=approve, headers=auth(api, agent)).status_code == 403
    lead_headers = auth(api, lead)
    assert api.post(url.format(leads_own), json=approve, headers=lead_headers).status_code == 403
    assert api.post(url.format(issued), json=approve, headers=lead_headers).status_code == 409
    assert api.post(url.format("CM-NOPE-1"), json=approve, headers=lead_headers).status_code == 404
    other = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    elsewhere = f"/api/complaints/{other.id}/compensations/{waiting}/decision"
    assert api.post(elsewhere, json=approve, headers=lead_headers).status_code == 404
    declined = api.post(url.format(waiting), json={"approve": False, "note": "  "}, headers=lead_headers)
    assert declined.status_code == 422
    with api_sessions() as session:
        assert session.get(Compensation, waiting).status == "awaiting_approval"


def test_offers_are_listed_for_their_offerer_and_every_lead_and_the_quota_shows_what_is_left(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    agent, colleague = make_user(api_sessions, Role.AGENT), make_user(api_sessions, Role.AGENT)
    mine = _offer_row(api_sessions, complaint, agent.id, "issued", 1, amount_fen=1_200)
    _offer_row(api_sessions, complaint, agent.id, "issuing", 2, kind="progress_reset", amount_fen=None)
    _offer_row(api_sessions, complaint, agent.id, "awaiting_approval", 3, authority="lead", amount_fen=9_000)
    _offer_row(api_sessions, complaint, agent.id, "failed", 4, amount_fen=700)
    _offer_row(api_sessions, complaint, agent.id, "issued", 5, created_at=utcnow() - timedelta(days=2))
    theirs = _offer_row(api_sessions, complaint, colleague.id, "issued", 6)

    agent_headers = auth(api, agent)
    listed = api.get("/api/compensations", headers=agent_headers).json()
    assert theirs not in [o["compensation_id"] for o in listed] and mine in [
        o["compensation_id"] for o in listed
    ]
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    queue = api.get("/api/compensations?status=awaiting_approval", headers=lead).json()
    assert f"CM-{complaint.id}-3" in [o["compensation_id"] for o in queue]
    assert {o["status"] for o in queue} == {"awaiting_approval"}
    assert (
        api.get("/api/compensations", headers=auth(api, make_user(api_sessions, Role.STUDENT))).status_code
        == 403
    )

    quota = api.get("/api/compensations/quota", headers=agent_headers).json()
    # Today, on the agent's own authority: 1,200 in coupons and one reset (issuing counts; the
    # lead's, the failed one and the one two days ago do not).
    assert (quota["period"], quota["coupon_fen_used"], quota["coupon_fen_left"]) == ("day", 1_200, 3_800)
    assert (quota["progress_resets_used"], quota["progress_resets_left"]) == (1, 2)


def test_an_admin_sets_a_roles_quota_and_the_change_is_audited(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    quotas = api.get("/api/compensations/quotas", headers=lead).json()
    assert {q["role"]: q["coupon_fen"] for q in quotas} == {"agent": 5_000, "lead": 50_000}
    weekly = {"period": "week", "coupon_fen": 20_000, "progress_resets": 10}
    assert api.put("/api/compensations/quotas/agent", json=weekly, headers=lead).status_code == 403
    assert api.put("/api/compensations/quotas/student", json=weekly, headers=admin).status_code == 422
    for bad in (
        {**weekly, "period": "year"},
        {**weekly, "coupon_fen": -1},
        {**weekly, "progress_resets": None},
    ):
        assert api.put("/api/compensations/quotas/agent", json=bad, headers=admin).status_code == 422
    saved = api.put("/api/compensations/quotas/agent", json=weekly, headers=admin)
    assert saved.status_code == 200 and saved.json() == {"role": "agent", **weekly}
    try:
        with api_sessions() as session:
            audit = session.exec(
                select(AuditEvent)
                .where(AuditEvent.event == "compensation.quota_set")
                .order_by(col(AuditEvent.id).desc())
            ).first()
        assert audit.case_id == "agent" and audit.detail["before"]["coupon_fen"] == 5_000
        assert audit.detail["after"] == weekly
    finally:  # the module's other tests count against the default
        with api_sessions() as session:
            row = session.get(CompensationQuotaRow, "agent")
            row.period, row.coupon_fen, row.progress_resets = "day", 5_000, 3
            session.add(row)
            session.commit()
