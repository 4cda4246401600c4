"""Audit events for changes that are not a workflow's own steps: configuration edits, and what staff
record beside a case (a complaint's root cause, the report's improvement actions)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException, status
from sqlmodel import Session

from db.audit_log import ChainBusy, append_event, commit_in_chain
from db.models import AuditEvent, User
from domain.timeutil import utcnow

T = TypeVar("T")
# Two writers rarely race for one chain's place (PostgreSQL serialises them with an advisory lock;
# SQLite turns the loser's write into an IntegrityError): a few tries always suffice.
CHAIN_ATTEMPTS = 4


def audit_config_change(
    session: Session, admin: User, event: str, case_id: str, detail: dict[str, Any]
) -> None:
    """Add (not commit) the audit event, so it lands in the same transaction as the change."""
    append_event(
        session,
        AuditEvent(
            event_key=f"config:{uuid.uuid4()}",
            case_type="config",
            case_id=case_id,
            event=event,
            actor=admin.id,
            detail=detail,
            at=utcnow(),
        ),
    )


def audit_staff_change(
    session: Session,
    actor: User,
    *,
    case_type: str,
    case_id: str,
    event: str,
    what: str,
    note: str = "",
    detail: dict[str, Any],
) -> AuditEvent:
    """Add (not commit) an event on the case's own chain; its key `<case_type>:<id>:<what>:<uuid>`
    is unique, as each such change is a new one."""
    return append_event(
        session,
        AuditEvent(
            event_key=f"{case_type}:{case_id}:{what}:{uuid.uuid4()}",
            case_type=case_type,
            case_id=case_id,
            event=event,
            actor=actor.id,
            note=note,
            detail=detail,
            at=utcnow(),
        ),
    )


def commit_audited(session: Session, write: Callable[[], T]) -> T:
    """db.audit_log.commit_in_chain for a request: the change is judged afresh on each attempt, and
    a chain still busy after CHAIN_ATTEMPTS is a 503 (nothing was written)."""
    try:
        return commit_in_chain(session, write, attempts=CHAIN_ATTEMPTS)
    except ChainBusy:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the audit trail is busy; nothing was changed, try again"
        ) from None
