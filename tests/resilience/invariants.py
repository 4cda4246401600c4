"""What must hold once the system has been through a fault: every case done, money moved once per
refund, every notice delivered once, every audit chain intact. Each check says what it found when it
fails."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping

from sqlmodel import col, select

from activities.notify import message_id_for
from db.audit_log import verify_all
from db.models import AuditEvent, Notification, Refund
from devstack.mailbox import read_mailbox
from devstack.system import System
from domain.notifications import Channel, NoticeEvent, NotificationStatus, notification_id_for

# What a student is told of a refund from request to money back, and of a complaint from filing to survey.
REFUND_NOTICES = (NoticeEvent.REFUND_RECEIVED, NoticeEvent.REFUND_APPROVED, NoticeEvent.REFUND_SUCCEEDED)
COMPLAINT_NOTICES = (
    NoticeEvent.COMPLAINT_RECEIVED,
    NoticeEvent.COMPLAINT_FIRST_RESPONSE,
    NoticeEvent.COMPLAINT_RESOLVED,
    NoticeEvent.COMPLAINT_FOLLOW_UP,
)


async def all_workflows_closed(system: System, within_seconds: float) -> None:
    """Nothing left running: a case's workflow ends only once its notices, webhooks and (for a
    refund) the enrollment's revocation are done too."""
    query = f"TaskQueue = '{system.settings.task_queue}' AND ExecutionStatus = 'Running'"
    deadline = asyncio.get_running_loop().time() + within_seconds
    while (running := (await system.temporal.count_workflows(query)).count) > 0:
        if asyncio.get_running_loop().time() > deadline:
            ids = [w.id async for w in system.temporal.list_workflows(query, limit=10)]
            raise AssertionError(f"{running} workflows still running after {within_seconds:.0f}s, e.g. {ids}")
        await asyncio.sleep(1)


async def refunded_through_the_api(system: System, staff: dict[str, str], refund_ids: set[str]) -> None:
    """The API lists every one of them as refunded."""
    listed: set[str] = set()
    for offset in range(0, len(refund_ids) + 200, 200):
        page = await system.api.get(
            "/api/refunds", headers=staff, params={"status": "refunded", "limit": 200, "offset": offset}
        )
        assert page.status_code == 200, page.text
        listed |= {refund["refund_id"] for refund in page.json()}
    missing = refund_ids - listed
    assert not missing, f"{len(missing)} refunds are not refunded, e.g. {sorted(missing)[:5]}"


async def money_moved_once(system: System, refund_ids: set[str]) -> Counter[str]:
    """The gateway holds exactly one refund under each of our refund numbers, for the amount the
    refund says, and one per trade (a refund asked under a second number would be a second payout);
    and nothing else. Returns how often each number was asked for (retries are fine)."""
    ledger = (await system.sandbox.get("/sandbox/refunds")).json()
    records = ledger["refunds"]
    per_number = Counter(record["out_refund_no"] for record in records)
    per_trade = Counter(record["trade"] for record in records)
    assert set(per_number) == refund_ids, (
        f"the gateway's refunds are not ours one for one: missing "
        f"{sorted(refund_ids - set(per_number))[:5]}, unknown {sorted(set(per_number) - refund_ids)[:5]}"
    )
    twice = {number: n for number, n in per_number.items() if n > 1}
    assert not twice, f"money moved more than once under one refund number: {twice}"
    paid_twice = {trade: n for trade, n in per_trade.items() if n > 1}
    assert not paid_twice, f"a trade was refunded more than once: {paid_twice}"
    with system.sessions() as session:
        amounts = dict(
            session.exec(
                select(Refund.id, Refund.refund_amount_fen).where(col(Refund.id).in_(refund_ids))
            ).all()
        )
    wrong = [
        (r["out_refund_no"], r["status"], r["amount"]["refund"])
        for r in records
        if r["status"] != "SUCCESS" or r["amount"]["refund"] != amounts[r["out_refund_no"]]
    ]
    assert not wrong, f"gateway records not paid as asked: {wrong[:5]}"
    return Counter({number: ledger["requests_seen"][number] for number in refund_ids})


def gateway_success_recorded_once(system: System, refund_ids: set[str]) -> None:
    """Each refund's trail says it was paid once (a second `gateway.succeeded` would be a workflow
    acting twice on the money)."""
    with system.sessions() as session:
        steps = Counter(
            session.exec(
                select(AuditEvent.case_id).where(
                    AuditEvent.event == "gateway.succeeded", col(AuditEvent.case_id).in_(refund_ids)
                )
            ).all()
        )
    wrong = {refund_id: steps[refund_id] for refund_id in refund_ids if steps[refund_id] != 1}
    assert not wrong, f"refunds whose trail does not say 'paid' exactly once: {dict(list(wrong.items())[:5])}"


def inbox_expected(
    refunds: Mapping[str, str], complaints: Mapping[str, str] | None = None
) -> dict[str, set[tuple[str, str]]]:
    """What each student's inbox should hold, (case id, event), from refund id → student id and
    complaint id → student id."""
    expected: dict[str, set[tuple[str, str]]] = {}
    for cases, events in ((refunds, REFUND_NOTICES), (complaints or {}, COMPLAINT_NOTICES)):
        for case_id, student_id in cases.items():
            expected.setdefault(student_id, set()).update((case_id, event.value) for event in events)
    return expected


async def each_student_told_once(
    system: System, students: dict[str, dict[str, str]], expected_of: dict[str, set[tuple[str, str]]]
) -> None:
    """Each student's in-app inbox holds exactly one message per (case, event) expected of theirs."""
    for student_id, headers in students.items():
        inbox = await system.api.get("/api/me/inbox", headers=headers, params={"limit": 200})
        assert inbox.status_code == 200, inbox.text
        told = Counter((m["case_id"], m["event"]) for m in inbox.json()["messages"])
        doubled = {key: n for key, n in told.items() if n > 1}
        assert not doubled, f"student {student_id} got the same inbox message twice: {doubled}"
        expected = expected_of.get(student_id, set())
        assert set(told) == expected, (
            f"student {student_id}'s inbox: missing {sorted(expected - set(told))[:5]}, "
            f"unexpected {sorted(set(told) - expected)[:5]}"
        )


def emails_delivered(
    system: System, workflow_ids: Iterable[str], events: Iterable[NoticeEvent], *, resends_allowed: bool
) -> int:
    """Every email notice is in the mailbox, found by the Message-ID its notification id gives it.
    A resend after a worker died between the server's 250 and recording it is the same message (the
    same Message-ID, which is how mail clients spot it): allowed only when `resends_allowed`.
    Returns the number of such resends."""
    delivered = Counter(mail.message_id for mail in read_mailbox(system.maildir))
    expected = {
        message_id_for(notification_id_for(workflow_id, event, Channel.EMAIL))
        for workflow_id in workflow_ids
        for event in events
    }
    missing = expected - set(delivered)
    assert not missing, f"{len(missing)} of {len(expected)} emails never arrived"
    ours = {message_id: n for message_id, n in delivered.items() if message_id in expected}
    resends = sum(n - 1 for n in ours.values())
    if not resends_allowed:
        doubled = {message_id: n for message_id, n in ours.items() if n > 1}
        assert not doubled, f"{len(doubled)} emails arrived more than once: {dict(list(doubled.items())[:5])}"
    return resends


def email_rows_match_the_mailbox(system: System, *, resends_allowed: bool) -> int:
    """Every email notice on record is `sent` and in the mailbox under its Message-ID, and the
    mailbox holds nothing else; returns how many email notices there are."""
    with system.sessions() as session:
        rows = list(session.exec(select(Notification).where(Notification.channel == Channel.EMAIL.value)))
    unsent = [(row.id, row.status) for row in rows if row.status != NotificationStatus.SENT.value]
    assert not unsent, f"{len(unsent)} email notices are not sent: {unsent[:5]}"
    delivered = Counter(mail.message_id for mail in read_mailbox(system.maildir))
    on_record = {message_id_for(row.id) for row in rows}
    assert set(delivered) == on_record, (
        f"mailbox and records differ: {len(on_record - set(delivered))} never arrived, "
        f"{len(set(delivered) - on_record)} arrived without a record"
    )
    if not resends_allowed:
        doubled = {message_id: n for message_id, n in delivered.items() if n > 1}
        assert not doubled, f"{len(doubled)} emails arrived more than once"
    return len(rows)


def audit_chains_intact(system: System) -> int:
    """Every case's hash chain verifies (db.audit_log's verify); returns how many cases were checked."""
    with system.sessions() as session:
        verdicts = list(verify_all(session))
    broken = [verdict.line() for verdict in verdicts if verdict.broken is not None]
    assert not broken, f"broken audit chains: {broken[:5]}"
    return len(verdicts)
