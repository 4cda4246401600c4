"""Two records of one customer become one: what the merged record had moves to the survivor (or, for
what running workflows still address to it, shows there), the identifiers the survivor lacked are
taken over, and every refusal leaves both records as they were."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from db.audit_log import append_event
from db.engine import SessionFactory
from db.models import AuditEvent, Complaint, Notification, Order, Refund, User
from domain.roles import Role
from domain.timeutil import utcnow
from tests.api.helpers import auth
from tests.factories import make_order, make_refund, make_user


def wechat_customer(sessions: SessionFactory, phone: str | None = None) -> User:
    """A record the WeChat intake made: no email, no password, the Official Account's openid."""
    user = User(
        id=f"S{secrets.token_hex(5).upper()}",
        display_name="微信用户 abc123",
        role=Role.STUDENT.value,
        wechat_oa_openid="oWx" + secrets.token_hex(12),
        phone=phone,
    )
    with sessions() as session:
        session.add(user)
        session.commit()
    return user


def complaint_of(sessions: SessionFactory, student: User, channel: str = "wechat") -> str:
    complaint_id = f"CP{secrets.token_hex(5).upper()}"
    with sessions() as session:
        session.add(
            Complaint(
                id=complaint_id,
                workflow_id=f"complaint-{complaint_id}",
                student_id=student.id,
                channel=channel,
                text="直播卡顿",
                logged_by=student.id,
                stage="in_progress",
                received_at=utcnow() - timedelta(hours=1),
            )
        )
        append_event(
            session,
            AuditEvent(
                event_key=f"complaint-{complaint_id}:1:complaint.received",
                case_type="complaint",
                case_id=complaint_id,
                event="complaint.received",
                actor=student.id,
                note="直播卡顿",
                at=utcnow() - timedelta(hours=1),
            ),
        )
        session.commit()
    return complaint_id


def inbox_notice(sessions: SessionFactory, recipient_id: str, case_id: str, event: str) -> str:
    notice_id = f"complaint-{case_id}:{event}:inbox"
    with sessions() as session:
        session.add(
            Notification(
                id=notice_id,
                case_type="complaint",
                case_id=case_id,
                event=event,
                channel="inbox",
                recipient_user_id=recipient_id,
                locale="zh-CN",
                subject=f"{event} {case_id}",
                body_text="……",
                status="sent",
                sent_at=utcnow(),
            )
        )
        session.commit()
    return notice_id


def test_a_wechat_record_merged_into_the_students_account_brings_everything_along(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    account = make_user(api_sessions, Role.STUDENT)
    wechat = wechat_customer(api_sessions, phone="13912345678")
    complaint_id = complaint_of(api_sessions, wechat)
    inbox_notice(api_sessions, wechat.id, complaint_id, "complaint_received")
    order = make_order(api_sessions, wechat)
    refund = make_refund(api_sessions, order)
    agent = auth(api, make_user(api_sessions, Role.AGENT))

    merged = api.post(f"/api/customers/{account.id}/merge", headers=agent, json={"merged_id": wechat.id})
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"] == {
        "orders": 1,
        "refunds": 1,
        "complaints": 1,
        "compensations": 0,
        "notifications": 1,
        "intake_messages": 0,
    }
    assert sorted(merged.json()["taken_over"]) == ["phone", "wechat_oa_openid"]
    with api_sessions() as session:
        survivor, gone = session.get(User, account.id), session.get(User, wechat.id)
        assert survivor and gone
        assert (survivor.wechat_oa_openid, survivor.phone, survivor.email) == (
            wechat.wechat_oa_openid,
            "13912345678",
            account.email,
        )
        assert (gone.merged_into, gone.is_active, gone.wechat_oa_openid) == (account.id, False, None)
        assert session.get(Order, order.id).student_id == account.id  # type: ignore[union-attr]
        assert session.get(Refund, refund.id).student_id == account.id  # type: ignore[union-attr]
        assert session.get(Complaint, complaint_id).student_id == account.id  # type: ignore[union-attr]
        [event] = session.exec(
            select(AuditEvent).where(AuditEvent.case_type == "customer", AuditEvent.case_id == account.id)
        ).all()
        assert (event.event, event.detail["merged_id"]) == ("customer.merged", wechat.id)

    # A running complaint's later notices still name the merged id (its snapshot): they show too.
    late = inbox_notice(api_sessions, wechat.id, complaint_id, "complaint_first_response")
    for asked in (wechat.id, account.id):
        history = api.get(f"/api/customers/{asked}/history", headers=agent).json()
        assert (history["student_id"], history["merged_records"]) == (account.id, [wechat.id])
        assert (history["refunds"], history["complaints"]) == ([refund.id], [complaint_id])
        events = [item["event"] for item in history["items"]]
        assert {"customer.merged", "complaint.received", "complaint_first_response"} <= set(events)
    student = auth(api, account)
    inbox = api.get("/api/me/inbox", headers=student).json()["messages"]
    assert late in [message["id"] for message in inbox]
    assert api.post(f"/api/me/inbox/{late}/read", headers=student).status_code == 200
    assert api.get(f"/api/customers/{wechat.id}/history", headers=student).json()["student_id"] == account.id

    # Found by the merged record's identifiers, the customer is the survivor.
    lookup = api.post(
        "/api/customers/lookup", headers=agent, json={"customer": {"wechat_openid": wechat.wechat_oa_openid}}
    )
    assert lookup.json() == {"student_id": account.id, "name": account.display_name, "created": False}


def test_an_email_record_without_a_password_merged_into_a_wechat_one_moves_its_login(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    wechat = wechat_customer(api_sessions)
    account = make_user(api_sessions, Role.STUDENT)
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    merged = api.post(f"/api/customers/{wechat.id}/merge", headers=lead, json={"merged_id": account.id})
    assert merged.status_code == 200, merged.text
    assert sorted(merged.json()["taken_over"]) == ["email", "password"]
    assert auth(api, account)  # the student signs in as before, now to the surviving record
    me = api.get("/api/me", headers=auth(api, account)).json()
    assert (me["id"], me["email"]) == (wechat.id, account.email)


def test_orders_pushed_for_a_merged_record_belong_to_the_survivor(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    account, wechat = make_user(api_sessions, Role.STUDENT), wechat_customer(api_sessions)
    agent = auth(api, make_user(api_sessions, Role.AGENT))
    assert api.post(
        f"/api/customers/{account.id}/merge", headers=agent, json={"merged_id": wechat.id}
    ).is_success
    commerce = auth(api, make_user(api_sessions, Role.INTEGRATION))
    pushed = api.put(
        f"/api/orders/O-{secrets.token_hex(4)}",
        headers=commerce,
        json={
            "student_id": wechat.id,  # the commerce system still knows the old id
            "course": {"id": f"C-{secrets.token_hex(3)}", "name": "Python 入门", "type": "trial"},
            "amount_paid_fen": 9900,
            "paid_at": "2026-11-20T09:30:00+08:00",
            "gateway": "wechatpay",
            "gateway_trade_no": "T-MERGED-1",
        },
    )
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["student_id"] == account.id


def test_merges_that_cannot_be_are_refused_and_change_nothing(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    account, wechat = make_user(api_sessions, Role.STUDENT), wechat_customer(api_sessions)
    third = wechat_customer(api_sessions)
    agent = auth(api, make_user(api_sessions, Role.AGENT))
    staff = make_user(api_sessions, Role.FINANCE)

    def merge(survivor: str, merged: str, headers=agent):
        return api.post(f"/api/customers/{survivor}/merge", headers=headers, json={"merged_id": merged})

    def snapshot() -> list[tuple]:
        with api_sessions() as session:
            rows = session.exec(select(User).where(User.id.in_([account.id, wechat.id, third.id]))).all()  # type: ignore[attr-defined]
            return sorted((u.id, u.merged_into, u.is_active, u.wechat_oa_openid, u.email) for u in rows)

    before = snapshot()
    assert merge(account.id, account.id).status_code == 422
    assert merge(account.id, "S-NOBODY").status_code == 404
    assert merge("S-NOBODY", account.id).status_code == 404
    assert merge(account.id, staff.id).status_code == 409
    assert merge(staff.id, account.id).status_code == 409
    for role in (Role.STUDENT, Role.FINANCE, Role.REVIEWER, Role.ADMIN):
        assert merge(account.id, wechat.id, auth(api, make_user(api_sessions, role))).status_code == 403
    bad = api.post(f"/api/customers/{account.id}/merge", headers=agent, json={"merged_id": ""})
    assert bad.status_code == 422
    assert snapshot() == before

    assert merge(account.id, wechat.id).status_code == 200
    after_first = snapshot()
    assert merge(account.id, wechat.id).status_code == 409  # merged already
    assert merge(third.id, wechat.id).status_code == 409
    assert merge(wechat.id, third.id).status_code == 409  # nothing goes into a merged record
    assert snapshot() == after_first
