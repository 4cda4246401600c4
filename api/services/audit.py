"""Audit events for changes that are not a case's own steps (configuration edits)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from db.audit_log import append_event
from db.models import AuditEvent, User
from domain.timeutil import utcnow


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
