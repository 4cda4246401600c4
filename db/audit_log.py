"""The one way an audit event is written, and the command that verifies the chains.

append_event gives the event the next place in its case's chain (seq) and the hash that links it to
the event before (domain/audit_chain.py). Two writers racing for the same place cannot both commit:
on PostgreSQL the second waits on a per-case advisory lock; on SQLite, where one writer runs at a
time anyway, the unique (case, seq) constraint turns the loser into an IntegrityError that the
writer retries (chain_collision tells it apart from a step that was already recorded).

    python -m db.audit_log verify                       every case
    python -m db.audit_log verify --case refund:RF...   one case
    python -m db.audit_log verify --file export.json    a case exported for a dispute
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select as sa_select
from sqlalchemy import text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.engine import SessionFactory
from db.models import AuditEvent
from domain.audit_chain import ChainBreak, first_break, hash_of

T = TypeVar("T")


def append_event(session: Session, event: AuditEvent) -> AuditEvent:
    """Add (not commit) the event as the next link of its case's chain."""
    if session.get_bind().dialect.name == "postgresql":
        # Held to the end of the transaction: one writer per case chain at a time.
        session.exec(  # type: ignore[call-overload]
            text("SELECT pg_advisory_xact_lock(:key)"),
            params={"key": zlib.crc32(f"{event.case_type}:{event.case_id}".encode())},
        )
    last = session.exec(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.case_type == event.case_type, AuditEvent.case_id == event.case_id)
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()
    event.seq, event.prev_hash = (last[0] + 1, last[1]) if last else (1, None)
    event.hash = hash_of(event, event.prev_hash)
    session.add(event)
    return event


class ChainBusy(Exception):
    """Every attempt lost its place in the chain to another writer; nothing was written."""


def commit_in_chain(session: Session, write: Callable[[], T], *, attempts: int = 5) -> T:
    """Run `write` (a change and its audit event, added to the session) and commit. When another
    writer took the event's place in the chain meanwhile, roll back and run all of `write` again,
    so the change is judged afresh; ChainBusy after `attempts`."""
    for _attempt in range(attempts):
        result = write()
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            if not chain_collision(exc):
                raise
            continue
        return result
    raise ChainBusy(f"{attempts} attempts lost their place in the audit chain")


def record_event(
    sessions: SessionFactory,
    event: AuditEvent,
    *,
    with_it: Callable[[Session], None] | None = None,
    attempts: int = 5,
) -> bool:
    """Append one event in its own transaction (with_it adds the rows it belongs with), retrying
    when another writer took its place in the chain. False when its event_key was recorded already
    (with_it's rows are still written)."""
    with sessions() as session:

        def write() -> bool:
            if with_it is not None:
                with_it(session)
            if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == event.event_key)).first():
                return False  # on record already; the rows it came with still change
            append_event(session, AuditEvent(**event.model_dump(exclude={"id"})))
            return True

        return commit_in_chain(session, write, attempts=attempts)


def chain_collision(exc: IntegrityError) -> bool:
    """True when the write lost the race for its place in the chain (worth retrying), rather than
    repeating an event already recorded (nothing to do)."""
    return "uq_audit_events_case_seq" in str(exc.orig) or "audit_events.seq" in str(exc.orig)


@dataclass(frozen=True)
class CaseVerdict:
    case_type: str
    case_id: str
    events: int
    broken: ChainBreak | None

    def line(self) -> str:
        where = f"{self.case_type} {self.case_id}"
        if self.broken is None:
            return f"ok       {where}: {self.events} events, chain intact"
        return f"TAMPERED {where}: event {self.broken.seq} {self.broken.problem}"


def verify_case(session: Session, case_type: str, case_id: str) -> CaseVerdict:
    events = list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.case_type == case_type, AuditEvent.case_id == case_id)
            .order_by(col(AuditEvent.seq))
        )
    )
    return CaseVerdict(case_type, case_id, len(events), first_break(events))


def verify_all(session: Session, batch: int = 5000) -> Iterator[CaseVerdict]:
    """Every case's verdict, streaming the events in (case, seq) order a batch at a time."""
    events_table = AuditEvent.__table__  # type: ignore[attr-defined]
    key = tuple_(events_table.c.case_type, events_table.c.case_id, events_table.c.seq)
    case: tuple[str, str] | None = None
    events: list[Mapping[str, Any]] = []
    after: tuple[str, str, int] = ("", "", 0)
    while True:
        # Plain rows, not ORM objects: building millions of those was a third of the pass. A row-value
        # comparison, so both databases start each page from the (case, seq) index rather than
        # scanning it from the top: the OR of its parts made the pass quadratic.
        page = (
            session.execute(
                sa_select(events_table)
                .where(key > tuple_(*after))
                .order_by(events_table.c.case_type, events_table.c.case_id, events_table.c.seq)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        for event in page:
            if (event["case_type"], event["case_id"]) != case:
                if case is not None:
                    yield CaseVerdict(case[0], case[1], len(events), first_break(events))
                case, events = (event["case_type"], event["case_id"]), []
            events.append(event)
        if len(page) < batch:
            break
        last = page[-1]
        after = (last["case_type"], last["case_id"], last["seq"])
    if case is not None:
        yield CaseVerdict(case[0], case[1], len(events), first_break(events))


def verify_export(path: Path) -> CaseVerdict:
    """Verify a case exported as JSON (GET /api/…/{id}/export): anyone holding the file can check
    it was not edited after it left, without our database."""
    exported = json.loads(path.read_text(encoding="utf-8"))
    case = {"case_type": exported["case_type"], "case_id": exported["case_id"]}
    events: list[dict[str, Any]] = [
        {**event, **case, "at": datetime.fromisoformat(event["at"])} for event in exported["events"]
    ]
    return CaseVerdict(exported["case_type"], exported["case_id"], len(events), first_break(events))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db.audit_log", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check the hash chains; exit 1 if any was tampered with")
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--case", help="one case, as TYPE:ID (e.g. refund:RF20261123ab12cd34ef)")
    which.add_argument("--file", type=Path, help="a case exported as JSON")
    args = parser.parse_args(argv)

    if args.file:
        verdicts = [verify_export(args.file)]
    else:
        from db.engine import build_engine
        from settings import Settings

        sessions = SessionFactory(build_engine(Settings().database_url))
        with sessions() as session:
            if args.case:
                case_type, _, case_id = args.case.partition(":")
                verdicts = [verify_case(session, case_type, case_id)]
                if verdicts[0].events == 0:
                    print(f"no audit events for {args.case}", file=sys.stderr)
                    return 2
            else:
                verdicts = list(verify_all(session))
    tampered = [verdict for verdict in verdicts if verdict.broken is not None]
    for verdict in tampered if len(verdicts) > 20 else verdicts:
        print(verdict.line())
    print(f"{len(verdicts)} cases, {sum(v.events for v in verdicts)} events, {len(tampered)} tampered")
    return 1 if tampered else 0


if __name__ == "__main__":
    sys.exit(main())
