"""The finance queue and its refusals. Temporal is unreachable here, so each refusal below was
decided before the workflow service was involved; the happy path runs end to end in
tests/integration/test_gateway_faults.py."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from db.engine import SessionFactory
from db.models import FinanceTask, Refund
from domain.roles import Role
from domain.timeutil import utcnow
from tests.api.helpers import auth
from tests.factories import make_order, make_refund, make_user


def _task(sessions: SessionFactory, kind: str, *, status: str = "open", minutes_ago: int = 0) -> FinanceTask:
    refund = make_refund(
        sessions, make_order(sessions, make_user(sessions, Role.STUDENT)), status="refund_failed"
    )
    task = FinanceTask(
        id=f"FT-{refund.id}-1",
        refund_id=refund.id,
        kind=kind,
        status=status,
        detail="the gateway reported abnormal",
        opened_at=utcnow() - timedelta(minutes=minutes_ago),
    )
    with sessions() as session:
        session.add(task)
        session.commit()
        session.refresh(task)
    return task


def test_the_finance_queue_is_oldest_first_and_for_finance_leads_and_admins(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    newer = _task(api_sessions, "gateway_abnormal", minutes_ago=5)
    older = _task(api_sessions, "gateway_closed", minutes_ago=50)
    done = _task(api_sessions, "gateway_refused", status="resolved", minutes_ago=90)
    finance = auth(api, make_user(api_sessions, Role.FINANCE))
    listed = api.get("/api/finance/tasks", headers=finance).json()
    ids = [row["task_id"] for row in listed]
    assert ids.index(older.id) < ids.index(newer.id) and done.id not in ids
    row = next(r for r in listed if r["task_id"] == older.id)
    with api_sessions() as session:
        refund = session.get(Refund, older.refund_id)
        assert refund is not None
    assert (row["kind"], row["order_id"], row["refund_amount_fen"]) == (
        "gateway_closed",
        refund.order_id,
        refund.refund_amount_fen,
    )
    resolved = api.get("/api/finance/tasks?status=resolved", headers=finance).json()
    assert done.id in [r["task_id"] for r in resolved]
    for role, answer in [(Role.LEAD, 200), (Role.ADMIN, 200), (Role.STUDENT, 403), (Role.REVIEWER, 403)]:
        headers = auth(api, make_user(api_sessions, role))
        assert api.get("/api/finance/tasks", headers=headers).status_code == answer, role


def test_resolutions_are_refused_for_the_wrong_role_task_state_or_input(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    abnormal = _task(api_sessions, "gateway_abnormal")
    url = f"/api/finance/tasks/{abnormal.id}/resolution"
    paid = {"outcome": "paid_offline", "reference": "BANK-1", "note": "已转账"}
    finance = auth(api, make_user(api_sessions, Role.FINANCE))

    assert api.post(url, json=paid, headers=auth(api, make_user(api_sessions, Role.LEAD))).status_code == 403
    no_reference = api.post(url, json={"outcome": "paid_offline", "note": "已转账"}, headers=finance)
    assert no_reference.status_code == 422 and "reference" in no_reference.text
    assert api.post(url, json={"outcome": "refund_twice"}, headers=finance).status_code == 422
    control = api.post(url, json={**paid, "reference": "BANK\x001"}, headers=finance)
    assert control.status_code == 422
    # The gateway settled this refund number as abnormal: asking it again is refused.
    retry = api.post(url, json={"outcome": "retry_gateway"}, headers=finance)
    assert retry.status_code == 409 and "another way" in retry.text
    assert api.post("/api/finance/tasks/FT-NOPE-1/resolution", json=paid, headers=finance).status_code == 404

    done = _task(api_sessions, "gateway_refused", status="resolved")
    again = api.post(f"/api/finance/tasks/{done.id}/resolution", json=paid, headers=finance)
    assert again.status_code == 409 and "already" in again.text

    with api_sessions() as session:  # nothing was changed by any of it
        task = session.get(FinanceTask, abnormal.id)
        assert task is not None and (task.status, task.outcome) == ("open", None)
