"""A case's whole audit trail for staff — its steps and the evidence (notices' copies, gateway
exchanges) — with the verdict of its hash chain, and its export as JSON or CSV for a dispute."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

from fastapi import HTTPException, status
from pydantic import AwareDatetime, BaseModel
from sqlmodel import Session

from api.services.cases import case_timeline
from api.services.complaints import COMPLAINT_READERS, readable_complaint
from api.services.refunds import readable_refund
from db.audit_log import record_event
from db.engine import SessionFactory
from db.models import AuditEvent, User
from domain.audit_chain import first_break
from domain.roles import REFUND_READERS, Role
from domain.timeutil import shanghai_text, utcnow

CaseType = Literal["refund", "complaint"]
TRAIL_READERS: dict[str, Collection[Role]] = {"refund": REFUND_READERS, "complaint": COMPLAINT_READERS}
EXPORTED = "audit.exported"


class TrailEvent(BaseModel):
    seq: int
    at: AwareDatetime
    event: str
    actor: str
    from_status: str | None
    to_status: str | None
    note: str
    detail: dict[str, Any]
    event_key: str
    prev_hash: str | None
    hash: str


class ChainVerdict(BaseModel):
    intact: bool
    events: int
    broken_at: int | None = None  # the first event whose hash or link does not hold
    problem: str | None = None


class CaseTrail(BaseModel):
    case_type: CaseType
    case_id: str
    chain: ChainVerdict
    events: list[TrailEvent]


def _check_reader(*, session: Session, user: User, case_type: CaseType, case_id: str) -> None:
    """Staff who may read the case; a student's own case answers 403 (its page shows the steps),
    anyone else's 404 as everywhere."""
    if case_type == "refund":
        readable_refund(session=session, user=user, refund_id=case_id)
    else:
        readable_complaint(session=session, user=user, complaint_id=case_id)
    if Role(user.role) not in TRAIL_READERS[case_type]:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the audit trail is kept for staff")


def case_trail(*, session: Session, user: User, case_type: CaseType, case_id: str) -> CaseTrail:
    _check_reader(session=session, user=user, case_type=case_type, case_id=case_id)
    events = case_timeline(session=session, case_type=case_type, case_id=case_id, with_evidence=True)
    broken = first_break(events)
    return CaseTrail(
        case_type=case_type,
        case_id=case_id,
        chain=ChainVerdict(
            intact=broken is None,
            events=len(events),
            broken_at=broken.seq if broken else None,
            problem=broken.problem if broken else None,
        ),
        events=[TrailEvent.model_validate(event, from_attributes=True) for event in events],
    )


def exported_trail(
    *, sessions: SessionFactory, user: User, case_type: CaseType, case_id: str
) -> tuple[CaseTrail, datetime]:
    """The trail as it stands once the export itself is on it: who took the evidence out, when."""
    with sessions() as session:
        _check_reader(session=session, user=user, case_type=case_type, case_id=case_id)
    now = utcnow()
    record_event(
        sessions,
        AuditEvent(
            event_key=f"export:{case_type}:{case_id}:{user.id}:{now.isoformat()}",
            case_type=case_type,
            case_id=case_id,
            event=EXPORTED,
            actor=user.id,
            note=f"exported by {user.display_name}",
            at=now,
        ),
    )
    with sessions() as session:
        return case_trail(session=session, user=user, case_type=case_type, case_id=case_id), now


VERIFY_HINT = "python -m db.audit_log verify --file <this file>"


def trail_json(trail: CaseTrail, exported_at: datetime, exported_by: str) -> str:
    document = {
        "case_type": trail.case_type,
        "case_id": trail.case_id,
        "exported_at": exported_at.isoformat(),
        "exported_by": exported_by,
        "chain": trail.chain.model_dump(),
        "how_to_verify": (
            "Each event's hash is sha256 over the previous event's hash and the event's canonical "
            f"JSON (domain/audit_chain.py). Check this file with: {VERIFY_HINT}"
        ),
        "events": [event.model_dump(mode="json") for event in trail.events],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


CSV_COLUMNS = (
    "seq",
    "at_utc",
    "at_beijing",
    "event",
    "actor",
    "from_status",
    "to_status",
    "note",
    "detail",
    "event_key",
    "prev_hash",
    "hash",
)


def trail_csv(trail: CaseTrail) -> str:
    """One row per event, with a byte-order mark so spreadsheet programs read the Chinese right."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in trail.events:
        writer.writerow(
            (
                event.seq,
                event.at.isoformat(),
                shanghai_text(event.at),
                event.event,
                event.actor,
                event.from_status or "",
                event.to_status or "",
                event.note,
                json.dumps(event.detail, ensure_ascii=False, sort_keys=True),
                event.event_key,
                event.prev_hash or "",
                event.hash,
            )
        )
    return out.getvalue()
