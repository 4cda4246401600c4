"""Refund policies: the version in force per course type, their history, and publishing a new one."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import RefundPolicyVersion
from db.refund_intake import RefundRefused, policy_in_force, policy_of
from domain.courses import CourseType
from domain.policy import PolicyTerms, RefundPolicy


def current_policy(session: Session, course_type: CourseType) -> RefundPolicy:
    try:
        return policy_in_force(session, course_type)
    except RefundRefused as exc:  # the first migration inserts version 1 of every type
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, exc.message) from exc


def current_policies(session: Session) -> list[RefundPolicy]:
    return [current_policy(session, course_type) for course_type in CourseType]


def policy_history(session: Session, course_type: CourseType) -> list[RefundPolicy]:
    rows = session.exec(
        select(RefundPolicyVersion)
        .where(RefundPolicyVersion.course_type == course_type.value)
        .order_by(col(RefundPolicyVersion.version).desc())
    )
    return [policy_of(row) for row in rows]


def publish_policy(
    session: Session, *, course_type: CourseType, terms: PolicyTerms, author_id: str
) -> RefundPolicy:
    """Store terms as the next version. Running refunds keep the version they were judged by."""
    version = current_policy(session, course_type).version + 1
    session.add(
        RefundPolicyVersion(
            course_type=course_type.value,
            version=version,
            terms=terms.model_dump(mode="json"),
            created_by=author_id,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"another admin published version {version} at the same moment; reload and retry",
        ) from None
    return RefundPolicy(course_type=course_type, version=version, **terms.model_dump())
