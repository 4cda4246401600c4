"""A case's whole audit trail and its export for disputes: who may read it, what it holds, and that
an exported file verifies until someone edits it. Temporal is unreachable here; nothing needs it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import col, select

from db.audit_log import main as audit_log_main
from db.audit_log import record_event
from db.engine import SessionFactory
from db.models import AuditEvent, Refund
from devstack.dev_keys import WECHATPAY_MCHID, WECHATPAY_PLATFORM_SERIAL, load_dev_keys
from domain.roles import Role
from integrations.payments.wechatpay import encrypt_resource, platform_signed_headers
from settings import Settings
from tests.api.helpers import auth
from tests.factories import make_complaint, make_order, make_refund, make_user


def _step(case_type: str, case_id: str, key: str, event: str, **fields) -> AuditEvent:
    return AuditEvent(
        event_key=f"{case_id}:{key}",
        case_type=case_type,
        case_id=case_id,
        event=event,
        actor=fields.pop("actor", "system"),
        at=datetime(2026, 3, 31, 15, 30, tzinfo=UTC),  # 23:30 in Beijing
        **fields,
    )


def _refund_with_a_story(sessions: SessionFactory) -> tuple[Refund, str]:
    student = make_user(sessions, Role.STUDENT)
    refund = make_refund(sessions, make_order(sessions, student))
    rid = refund.id
    record_event(
        sessions, _step("refund", rid, "1", "refund.requested", to_status="requested", note="课程冲突")
    )
    record_event(
        sessions,
        _step(
            "refund",
            rid,
            "2",
            "notice.sent",
            note="inbox to S: 已收到",
            detail={"channel": "inbox", "text": "我们已收到您的退款申请"},
        ),
    )
    record_event(
        sessions,
        _step("refund", rid, "3", "refund.approved", from_status="awaiting_review", to_status="approved"),
    )
    return refund, student.id


def test_staff_read_the_whole_trail_with_the_chain_verdict(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    refund, _ = _refund_with_a_story(api_sessions)
    finance = auth(api, make_user(api_sessions, Role.FINANCE))
    trail = api.get(f"/api/refunds/{refund.id}/timeline", headers=finance)
    assert trail.status_code == 200, trail.text
    body = trail.json()
    assert body["chain"] == {"intact": True, "events": 3, "broken_at": None, "problem": None}
    assert [(e["seq"], e["event"]) for e in body["events"]] == [
        (1, "refund.requested"),
        (2, "notice.sent"),
        (3, "refund.approved"),
    ]
    assert body["events"][1]["detail"]["text"] == "我们已收到您的退款申请"
    assert body["events"][2]["prev_hash"] == body["events"][1]["hash"]

    # The refund's own page shows its steps; the evidence lives on the trail.
    detail = api.get(f"/api/refunds/{refund.id}", headers=finance).json()
    assert [step["event"] for step in detail["timeline"]] == ["refund.requested", "refund.approved"]


def test_a_tampered_event_shows_on_the_trail(api: TestClient, api_sessions: SessionFactory) -> None:
    refund, _ = _refund_with_a_story(api_sessions)
    with api_sessions() as session:
        approved = session.exec(
            select(AuditEvent).where(AuditEvent.case_id == refund.id, AuditEvent.seq == 3)
        ).one()
        approved.actor = "LEA-someone-else"
        session.add(approved)
        session.commit()
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    chain = api.get(f"/api/refunds/{refund.id}/timeline", headers=lead).json()["chain"]
    assert chain["intact"] is False and chain["broken_at"] == 3 and "changed" in chain["problem"]


def test_students_and_strangers_do_not_read_trails(api: TestClient, api_sessions: SessionFactory) -> None:
    refund, student_id = _refund_with_a_story(api_sessions)
    with api_sessions() as session:
        owner = session.get(type(make_user(api_sessions, Role.STUDENT)), student_id)
    assert owner is not None
    own = api.get(f"/api/refunds/{refund.id}/timeline", headers=auth(api, owner))
    assert own.status_code == 403 and "staff" in own.json()["detail"]
    stranger = auth(api, make_user(api_sessions, Role.STUDENT))
    assert api.get(f"/api/refunds/{refund.id}/timeline", headers=stranger).status_code == 404
    assert api.get(f"/api/refunds/{refund.id}/export", headers=stranger).status_code == 404
    assert (
        api.get(
            "/api/refunds/RF-NOPE/timeline", headers=auth(api, make_user(api_sessions, Role.LEAD))
        ).status_code
        == 404
    )
    assert api.get(f"/api/refunds/{refund.id}/timeline").status_code == 401

    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    reviewer = auth(api, make_user(api_sessions, Role.REVIEWER))
    assert api.get(f"/api/complaints/{complaint.id}/timeline", headers=reviewer).status_code == 404
    agent = auth(api, make_user(api_sessions, Role.AGENT))
    record_event(
        api_sessions, _step("complaint", complaint.id, "1", "complaint.received", to_status="received")
    )
    answer = api.get(f"/api/complaints/{complaint.id}/timeline", headers=agent)
    assert answer.status_code == 200 and answer.json()["chain"]["events"] == 1


def test_an_export_is_recorded_and_verifies_until_it_is_edited(
    api: TestClient, api_sessions: SessionFactory, tmp_path: Path
) -> None:
    refund, _ = _refund_with_a_story(api_sessions)
    lead_user = make_user(api_sessions, Role.LEAD)
    response = api.get(f"/api/refunds/{refund.id}/export", headers=auth(api, lead_user))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="refund-{refund.id}-audit.json"'
    exported = response.json()
    assert exported["exported_by"] == lead_user.id and exported["chain"]["intact"] is True
    last = exported["events"][-1]
    assert (last["seq"], last["event"], last["actor"]) == (4, "audit.exported", lead_user.id)

    saved = tmp_path / "export.json"
    saved.write_text(response.text, encoding="utf-8")
    assert audit_log_main(["verify", "--file", str(saved)]) == 0
    exported["events"][0]["note"] = "学员自愿放弃"
    saved.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    assert audit_log_main(["verify", "--file", str(saved)]) == 1


def test_a_csv_export_opens_in_a_spreadsheet(api: TestClient, api_sessions: SessionFactory) -> None:
    refund, _ = _refund_with_a_story(api_sessions)
    response = api.get(
        f"/api/refunds/{refund.id}/export",
        params={"format": "csv"},
        headers=auth(api, make_user(api_sessions, Role.ADMIN)),
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["event"] for row in rows] == [
        "refund.requested",
        "notice.sent",
        "refund.approved",
        "audit.exported",
    ]
    assert rows[0]["at_beijing"] == "2026-03-31 23:30" and rows[0]["note"] == "课程冲突"
    assert json.loads(rows[1]["detail"])["text"] == "我们已收到您的退款申请"
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert (
        api.get(
            f"/api/refunds/{refund.id}/export",
            params={"format": "pdf"},
            headers=auth(api, make_user(api_sessions, Role.ADMIN)),
        ).status_code
        == 422
    )


def test_a_verified_gateway_notification_is_kept_once_as_evidence(
    api: TestClient, api_sessions: SessionFactory, settings: Settings
) -> None:
    refund = make_refund(
        api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)), status="refunding"
    )
    keys = load_dev_keys(settings.data_dir)
    resource = {
        "mchid": WECHATPAY_MCHID,
        "out_trade_no": refund.order_id,
        "refund_id": "50300000009",
        "out_refund_no": refund.id,
        "refund_status": "SUCCESS",
        "success_time": "2026-11-23T13:00:00+08:00",
        "amount": {"refund": refund.refund_amount_fen, "total": refund.amount_paid_fen},
    }
    body = json.dumps(
        {"event_type": "REFUND.SUCCESS", "resource": encrypt_resource(keys.wechatpay_apiv3_key, resource)}
    ).encode()
    headers = platform_signed_headers(keys.wechatpay_platform, WECHATPAY_PLATFORM_SERIAL, body)
    for _ in range(2):  # Temporal is unreachable: 503, and WeChat Pay sends the same notification again
        assert api.post("/api/payments/wechatpay/notify", content=body, headers=headers).status_code == 503
    with api_sessions() as session:
        [kept] = session.exec(
            select(AuditEvent).where(AuditEvent.case_id == refund.id).order_by(col(AuditEvent.seq))
        ).all()
    assert kept.event == "gateway.callback" and kept.actor == "wechatpay"
    assert kept.detail["body"] == body.decode()  # still encrypted: the signature over it can be checked again
    assert kept.detail["headers"]["wechatpay-signature"] == headers["Wechatpay-Signature"]
    assert kept.detail["read_as"]["outcome"] == "success" and kept.detail["read_as"]["refund_id"] == refund.id
