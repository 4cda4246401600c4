"""Staff accounts, kept by admins: who exists, in which role, active or not, and which department
queues an agent works. Students come from the school's systems and intake; admins do not make them."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from api.errors import field_error
from api.security import hash_password
from api.services.audit import audit_config_change
from db.models import DepartmentMember, User
from domain.complaints import Department
from domain.roles import Role

STAFF_ROLES = frozenset(Role) - {Role.STUDENT}


def departments_of(session: Session, user_id: str) -> list[Department]:
    rows = session.exec(select(DepartmentMember.department).where(DepartmentMember.user_id == user_id))
    return sorted(Department(row) for row in rows)


def _account(session: Session, user: User) -> dict[str, object]:
    """What an admin may change about an account, as the audit records it."""
    departments = [department.value for department in departments_of(session, user.id)]
    return {"role": user.role, "is_active": user.is_active, "departments": departments}


def list_staff(session: Session, role: Role | None) -> list[User]:
    query = select(User).where(col(User.role).in_([r.value for r in STAFF_ROLES]))
    if role is not None:
        query = query.where(User.role == role.value)
    return list(session.exec(query.order_by(col(User.role), col(User.id))))


def create_staff(
    session: Session, *, admin: User, email: str, display_name: str, role: Role, password: str
) -> User:
    if role not in STAFF_ROLES:
        raise field_error("role", "students come from the school's systems, not from here")
    user = User(
        id=f"U{secrets.token_hex(4).upper()}",
        email=email.strip().lower(),
        display_name=display_name,
        role=role.value,
        password_hash=hash_password(password),
    )
    session.add(user)
    try:
        session.flush()  # a taken email fails here, before the audit event is chained (which flushes)
    except IntegrityError as exc:
        session.rollback()
        raise field_error("email", f"{user.email} has an account already") from exc
    audit_config_change(session, admin, "user.created", user.id, {"email": user.email, "role": role.value})
    session.commit()
    return user


def change_staff(
    session: Session,
    *,
    admin: User,
    user_id: str,
    role: Role | None,
    is_active: bool | None,
    departments: list[Department] | None,
) -> User:
    """Role, active flag and department queues, audited. An admin cannot lock themselves out."""
    user = session.get(User, user_id)
    if user is None or user.role not in {r.value for r in STAFF_ROLES}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no staff account {user_id}")
    if user.id == admin.id and (role not in (None, Role.ADMIN) or is_active is False):
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot take your own admin rights away")
    if role is not None and role not in STAFF_ROLES:
        raise field_error("role", "a staff account cannot become a student")
    before = _account(session, user)
    if role is not None:
        user.role = role.value
    if is_active is not None:
        user.is_active = is_active
    if departments is not None:
        session.exec(delete(DepartmentMember).where(col(DepartmentMember.user_id) == user.id))
        for department in dict.fromkeys(departments):
            session.add(DepartmentMember(department=department.value, user_id=user.id))
    session.add(user)
    session.flush()
    audit_config_change(
        session, admin, "user.changed", user.id, {"before": before, "after": _account(session, user)}
    )
    session.commit()
    return user
