"""The list of common reasons reviewers pick from, kept by admins (every change audited)."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlmodel import Session, col, func, select

from api.errors import field_error
from api.services.audit import audit_config_change
from db.models import DecisionReason, User
from domain.refunds import Decision


def reasons(session: Session, *, active_only: bool = True) -> list[DecisionReason]:
    query = select(DecisionReason)
    if active_only:
        query = query.where(col(DecisionReason.is_active))
    return list(
        session.exec(
            query.order_by(col(DecisionReason.decision), col(DecisionReason.position), col(DecisionReason.id))
        )
    )


def offered(session: Session) -> dict[Decision, list[str]]:
    """The active reasons per decision, in their order, as the review page offers them."""
    listed: dict[Decision, list[str]] = {decision: [] for decision in Decision}
    for reason in reasons(session):
        listed[Decision(reason.decision)].append(reason.text)
    return listed


def add_reason(session: Session, *, admin: User, decision: Decision, text: str) -> DecisionReason:
    duplicate = session.exec(
        select(DecisionReason).where(
            DecisionReason.decision == decision.value,
            DecisionReason.text == text,
            col(DecisionReason.is_active),
        )
    ).first()
    if duplicate is not None:
        raise field_error("text", "this reason is in the list already")
    last = session.exec(
        select(func.coalesce(func.max(DecisionReason.position), 0)).where(
            DecisionReason.decision == decision.value
        )
    ).one()
    reason = DecisionReason(decision=decision.value, text=text, position=int(last) + 1, created_by=admin.id)
    session.add(reason)
    session.flush()
    audit_config_change(
        session, admin, "decision_reason.added", str(reason.id), {"decision": decision.value, "text": text}
    )
    session.commit()
    return reason


def change_reason(
    session: Session,
    *,
    admin: User,
    reason_id: int,
    text: str | None,
    position: int | None,
    is_active: bool | None,
) -> DecisionReason:
    reason = session.get(DecisionReason, reason_id)
    if reason is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decision reason {reason_id}")
    before = reason.model_dump(include={"text", "position", "is_active"})
    for field, value in (("text", text), ("position", position), ("is_active", is_active)):
        if value is not None:
            setattr(reason, field, value)
    session.add(reason)
    after = reason.model_dump(include={"text", "position", "is_active"})
    audit_config_change(
        session, admin, "decision_reason.changed", str(reason.id), {"before": before, "after": after}
    )
    session.commit()
    return reason
