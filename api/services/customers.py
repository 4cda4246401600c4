"""One customer record whichever way a student reaches the school: find them by student id, email,
phone or WeChat openid — following merges to the record that is the customer now — or, when nobody
matches, create a student record for that contact (no usable password; a name from the channel)."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, status
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import User
from domain.customers import CustomerRef, IdentifierKind
from domain.intake_text import readable
from domain.roles import Role

MAX_MERGE_HOPS = 20  # merges are flattened (api/services/customer_merge.py); this only guards a loop


class NotACustomer(Exception):
    """The identifier belongs to a staff account."""


def current_record(session: Session, user: User) -> User:
    """The record a student lives on now: itself, or the one it was merged into."""
    for _ in range(MAX_MERGE_HOPS):
        if user.merged_into is None:
            break
        survivor = session.get(User, user.merged_into)
        if survivor is None:
            break
        user = survivor
    return user


def customer_ids(session: Session, customer_id: str) -> list[str]:
    """The customer's id and the ids of every record merged into it: what running workflows and
    late writes may still address (their snapshots keep the id they started with)."""
    ids = [customer_id]
    frontier = [customer_id]
    for _ in range(MAX_MERGE_HOPS):
        merged = list(session.exec(select(User.id).where(col(User.merged_into).in_(frontier))))
        frontier = [user_id for user_id in merged if user_id not in ids]
        if not frontier:
            break
        ids.extend(frontier)
    return ids


def _match(session: Session, ref: CustomerRef) -> User | None:
    value = ref.value
    if ref.kind is IdentifierKind.STUDENT_ID:
        return session.get(User, value)
    if ref.kind is IdentifierKind.EMAIL:
        return session.exec(select(User).where(User.email == value)).first()
    # Phones are not unique (a family may share one) and openids of two apps may both be on record:
    # prefer a record not merged away, then the oldest.
    matches = col(User.phone) == value
    if ref.kind is IdentifierKind.WECHAT_OPENID:
        matches = or_(col(User.wechat_oa_openid) == value, col(User.wechat_openid) == value)
    return session.exec(
        select(User)
        .where(matches, User.role == Role.STUDENT.value)
        .order_by(col(User.merged_into).is_not(None), col(User.created_at), col(User.id))
    ).first()


def find_customer(session: Session, ref: CustomerRef) -> User | None:
    """The student `ref` names, as they are now (after merges); None if nobody matches. Raises
    NotACustomer when it names a staff account."""
    match = _match(session, ref)
    if match is None:
        return None
    if match.role != Role.STUDENT.value:
        raise NotACustomer(f"{ref.kind.value} {ref.value} belongs to a staff account, not a customer")
    return current_record(session, match)


def new_customer_id() -> str:
    return f"S{secrets.token_hex(5).upper()}"


def resolve_customer(session: Session, ref: CustomerRef, *, name: str | None = None) -> tuple[User, bool]:
    """The customer `ref` names, created if nobody matches; and whether it was created. A student id
    that matches nobody is a 404: ids are ours to give, not the channel's. The new record is
    committed on its own — a customer who contacted the school is a fact even if what they sent
    cannot be taken right now."""
    found = find_customer(session, ref)
    if found is not None:
        return found, False
    if ref.kind is IdentifierKind.STUDENT_ID:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {ref.value}")
    display_name = readable(name or "", 100).replace("\n", " ") or ref.default_name()
    customer = User(
        id=new_customer_id(),
        email=ref.email,
        phone=ref.phone,
        wechat_oa_openid=ref.wechat_openid,
        display_name=display_name,
        role=Role.STUDENT.value,
        password_hash=None,
    )
    session.add(customer)
    try:
        session.commit()
    except IntegrityError:
        # The same new contact reached us twice at once and the other request created the record.
        session.rollback()
        found = find_customer(session, ref)
        if found is None:
            raise
        return found, False
    return customer, True
