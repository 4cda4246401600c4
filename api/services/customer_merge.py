"""Merging two records of one customer (a WeChat-only record and their account, say).

What moves: the other record's orders, refunds, complaints, compensations, notices and intake
messages are re-pointed at the survivor — plain UPDATEs of `student_id` (`recipient_user_id` for
notices), safe for the foreign keys because the survivor exists and stays. Nothing else refers to a
student by id: case workflows and their projections work by case id, so a refund or complaint that
is running keeps running. What they keep is the snapshot they started with, so their later notices
still name the merged id; the history and the inbox therefore read every id merged into a customer
(`customers.customer_ids`), and the audit trail is left as it was written.

Identifiers the survivor lacks are taken over: phone and the mini-program openid are copied; email
(with its password) and the Official Account openid are unique, so they move. The merged record is
deactivated and remembers `merged_into`; records merged into it before now point at the survivor."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from api.errors import field_error
from db.audit_log import append_event
from db.models import AuditEvent, Compensation, Complaint, IntakeMessage, Notification, Order, Refund, User
from domain.roles import Role
from domain.timeutil import utcnow

# (what, table, the column naming the student)
OWNED_ROWS: tuple[tuple[str, Any, Any], ...] = (
    ("orders", Order, Order.student_id),
    ("refunds", Refund, Refund.student_id),
    ("complaints", Complaint, Complaint.student_id),
    ("compensations", Compensation, Compensation.student_id),
    ("notifications", Notification, Notification.recipient_user_id),
    ("intake_messages", IntakeMessage, IntakeMessage.student_id),
)


class MergeOutcome(BaseModel):
    survivor_id: str
    merged_id: str
    moved: dict[str, int]  # rows re-pointed, by kind
    taken_over: list[str]  # identifiers the survivor lacked and now has


def _locked_pair(session: Session, survivor_id: str, merged_id: str) -> tuple[User, User]:
    """Both rows, locked in id order (PostgreSQL; SQLite has one writer anyway), checked fresh."""
    rows = {
        user.id: user
        for user in session.exec(
            select(User)
            .where(col(User.id).in_([survivor_id, merged_id]))
            .order_by(col(User.id))
            .with_for_update()
        )
    }
    for user_id in (survivor_id, merged_id):
        if user_id not in rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {user_id}")
    for user in rows.values():
        if user.role != Role.STUDENT.value:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"{user.id} is a {user.role} account, not a customer"
            )
        if user.merged_into is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"{user.id} was merged into {user.merged_into} already"
            )
    return rows[survivor_id], rows[merged_id]


def _take_over_identifiers(session: Session, survivor: User, merged: User) -> list[str]:
    taken: list[str] = []
    if merged.email and not survivor.email:
        email, password_hash = merged.email, merged.password_hash
        merged.email = None
        session.add(merged)
        session.flush()  # the address is unique: free it before the survivor takes it
        survivor.email = email
        taken.append("email")
        if password_hash and not survivor.password_hash:
            survivor.password_hash, merged.password_hash = password_hash, None
            taken.append("password")
    if merged.wechat_oa_openid and not survivor.wechat_oa_openid:
        openid, merged.wechat_oa_openid = merged.wechat_oa_openid, None
        session.add(merged)
        session.flush()
        survivor.wechat_oa_openid = openid
        taken.append("wechat_oa_openid")
    for copied in ("phone", "wechat_openid"):
        if getattr(merged, copied) and not getattr(survivor, copied):
            setattr(survivor, copied, getattr(merged, copied))
            taken.append(copied)
    if merged.is_vip and not survivor.is_vip:
        survivor.is_vip = True
        taken.append("is_vip")
    session.add(survivor)
    return taken


def merge_customers(session: Session, *, survivor_id: str, merged_id: str, by: User) -> MergeOutcome:
    """Merge `merged_id` into `survivor_id`, all in one transaction."""
    if survivor_id == merged_id:
        raise field_error("merged_id", "a record cannot be merged into itself")
    try:
        survivor, merged = _locked_pair(session, survivor_id, merged_id)
        taken = _take_over_identifiers(session, survivor, merged)
        moved = {
            what: session.exec(  # type: ignore[call-overload]
                update(table).where(column == merged.id).values({column: survivor.id})
            ).rowcount
            for what, table, column in OWNED_ROWS
        }
        session.exec(  # type: ignore[call-overload]
            update(User).where(col(User.merged_into) == merged.id).values(merged_into=survivor.id)
        )
        merged.merged_into = survivor.id
        merged.is_active = False
        session.add(merged)
        append_event(
            session,
            AuditEvent(
                # One merge per record: a second attempt of the same merge fails on this key.
                event_key=f"customer:{merged.id}:merged",
                case_type="customer",
                case_id=survivor.id,
                event="customer.merged",
                actor=by.id,
                note=f"{merged.id} ({merged.display_name}) merged into {survivor.id}",
                detail={"merged_id": merged.id, "moved": moved, "taken_over": taken},
                at=utcnow(),
            ),
        )
        session.commit()
    except (IntegrityError, OperationalError) as exc:
        # Another merge or an edit of these records got there first (or SQLite's snapshot aged).
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, "these records changed while merging; nothing was merged, try again"
        ) from exc
    except HTTPException:
        session.rollback()
        raise
    return MergeOutcome(survivor_id=survivor.id, merged_id=merged.id, moved=moved, taken_over=taken)
