"""The hash chain as stored: appended in order on both databases, verified, and an event edited in
the database behind the application's back is found by the verify command."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from db.audit_log import main, record_event, verify_all, verify_case, verify_export
from db.engine import SessionFactory
from db.models import AuditEvent

AT = datetime(2026, 3, 31, 15, 30, 0, 123456, tzinfo=UTC)


def _event(case_id: str, key: str, note: str = "", case_type: str = "refund") -> AuditEvent:
    return AuditEvent(
        event_key=key,
        case_type=case_type,
        case_id=case_id,
        event="refund.requested",
        actor="S1",
        to_status="requested",
        note=note,
        detail={"amount_fen": 19900, "原因": "课程冲突"},
        at=AT,
    )


def _chain_of(sessions: SessionFactory, case_id: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(col(AuditEvent.seq))
            )
        )


def test_events_are_numbered_and_linked_per_case(sessions: SessionFactory) -> None:
    for n in range(3):
        assert record_event(sessions, _event("RF-A", f"a{n}", note=f"step {n}"))
    assert record_event(sessions, _event("RF-B", "b0"))
    assert not record_event(sessions, _event("RF-A", "a1"))  # a retried step: already on record

    chain = _chain_of(sessions, "RF-A")
    assert [event.seq for event in chain] == [1, 2, 3]
    assert chain[0].prev_hash is None
    assert [event.prev_hash for event in chain[1:]] == [chain[0].hash, chain[1].hash]
    assert _chain_of(sessions, "RF-B")[0].seq == 1
    with sessions() as session:
        verdict = verify_case(session, "refund", "RF-A")
    assert verdict.events == 3 and verdict.broken is None


def test_an_event_edited_in_the_database_is_detected(
    sessions: SessionFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        record_event(sessions, _event("RF-T", f"t{n}", note=f"step {n}"))
    monkeypatch.setenv(
        "AFTERCARE_DATABASE_URL", str(sessions.engine.url.render_as_string(hide_password=False))
    )
    assert main(["verify", "--case", "refund:RF-T"]) == 0
    assert "ok       refund RF-T: 4 events, chain intact" in capsys.readouterr().out

    with sessions.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET note = 'approved by the lead' WHERE case_id = 'RF-T' AND seq = 3")
        )
    assert main(["verify", "--case", "refund:RF-T"]) == 1
    assert (
        "TAMPERED refund RF-T: event 3 its content was changed after it was recorded"
        in capsys.readouterr().out
    )
    assert main(["verify"]) == 1  # every case: the one tampered with is named
    out = capsys.readouterr().out
    assert "TAMPERED refund RF-T" in out and "1 tampered" in out
    assert main(["verify", "--case", "refund:NO-SUCH"]) == 2


def test_a_deleted_event_is_detected(sessions: SessionFactory) -> None:
    for n in range(3):
        record_event(sessions, _event("RF-D", f"d{n}"))
    with sessions.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE case_id = 'RF-D' AND seq = 2"))
    with sessions() as session:
        broken = verify_case(session, "refund", "RF-D").broken
    assert broken is not None and broken.seq == 2


def test_verify_all_walks_every_case_across_pages(sessions: SessionFactory) -> None:
    for case in ("RF-P1", "RF-P2", "RF-P3"):
        for n in range(3):
            record_event(sessions, _event(case, f"{case}-{n}"))
    with sessions() as session:
        verdicts = {v.case_id: v for v in verify_all(session, batch=2)}
    assert {case: verdicts[case].events for case in ("RF-P1", "RF-P2", "RF-P3")} == {
        "RF-P1": 3,
        "RF-P2": 3,
        "RF-P3": 3,
    }
    assert all(verdicts[case].broken is None for case in ("RF-P1", "RF-P2", "RF-P3"))


def test_concurrent_writers_share_one_chain(sessions: SessionFactory) -> None:
    """A notice's copy and a workflow step written at once: both land, in distinct places."""
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(5):
                record_event(sessions, _event("RF-C", f"c{worker}-{n}"), attempts=20)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    chain = _chain_of(sessions, "RF-C")
    assert [event.seq for event in chain] == list(range(1, 21))
    with sessions() as session:
        assert verify_case(session, "refund", "RF-C").broken is None


def test_an_exported_file_verifies_and_an_edit_to_it_is_found(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    for n in range(2):
        record_event(sessions, _event("RF-X", f"x{n}", note=f"step {n}"))
    events = [
        {
            **{name: getattr(event, name) for name in ("seq", "event_key", "event", "actor", "from_status")},
            **{name: getattr(event, name) for name in ("to_status", "note", "detail", "prev_hash", "hash")},
            "at": event.at.isoformat(),
        }
        for event in _chain_of(sessions, "RF-X")
    ]
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps({"case_type": "refund", "case_id": "RF-X", "events": events}))
    assert verify_export(exported).broken is None
    events[0]["detail"]["amount_fen"] = 1
    exported.write_text(json.dumps({"case_type": "refund", "case_id": "RF-X", "events": events}))
    assert verify_export(exported).broken.seq == 1  # type: ignore[union-attr]
    assert main(["verify", "--file", str(exported)]) == 1


def test_events_recorded_before_the_chain_are_chained_by_the_migration(tmp_path: Path) -> None:
    from alembic import command

    from db.engine import build_engine
    from db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0013")
    engine = build_engine(url)
    with engine.begin() as connection:
        for number, (case_id, event) in enumerate(
            [("RF1", "refund.requested"), ("RF2", "refund.requested"), ("RF1", "refund.approved")], start=1
        ):
            connection.execute(
                text(
                    "INSERT INTO audit_events"
                    " (event_key, case_type, case_id, event, actor, note, detail, at) VALUES"
                    " (:key, 'refund', :case_id, :event, 'system', '', '{\"n\": 1}', '2026-03-01 00:00:00')"
                ),
                {"key": f"k{number}", "case_id": case_id, "event": event},
            )
    command.upgrade(config, "head")
    sessions = SessionFactory(engine)
    with sessions() as session:
        verdicts = {verdict.case_id: verdict for verdict in verify_all(session)}
        rf1 = [
            row.event
            for row in session.exec(
                select(AuditEvent).where(AuditEvent.case_id == "RF1").order_by(col(AuditEvent.seq))
            )
        ]
    assert {case: (v.events, v.broken) for case, v in verdicts.items()} == {
        "RF1": (2, None),
        "RF2": (1, None),
    }
    assert rf1 == ["refund.requested", "refund.approved"]
    record_event(sessions, _event("RF1", "after-upgrade"))  # the chain goes on from the backfilled end
    with sessions() as session:
        assert verify_case(session, "refund", "RF1").events == 3
        assert verify_case(session, "refund", "RF1").broken is None
    engine.dispose()
