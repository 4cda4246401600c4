from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.deps import CurrentUser, SessionDep, require_roles
from api.services import policies as service
from db.models import User
from domain.courses import CourseType
from domain.policy import PolicyTerms, RefundPolicy
from domain.roles import Role

router = APIRouter(prefix="/api/policies", tags=["policies"])


@router.get("", response_model=list[RefundPolicy])
def list_policies(session: SessionDep, _user: CurrentUser) -> list[RefundPolicy]:
    """The refund policy in force for each course type (students may read them too)."""
    return service.current_policies(session)


@router.get("/{course_type}", response_model=RefundPolicy)
def get_policy(course_type: CourseType, session: SessionDep, _user: CurrentUser) -> RefundPolicy:
    return service.current_policy(session, course_type)


@router.get(
    "/{course_type}/versions",
    response_model=list[RefundPolicy],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.LEAD, Role.REVIEWER, Role.FINANCE))],
)
def policy_versions(course_type: CourseType, session: SessionDep) -> list[RefundPolicy]:
    """Every version, newest first: what each refund was judged by."""
    return service.policy_history(session, course_type)


@router.put("/{course_type}", response_model=RefundPolicy, status_code=status.HTTP_201_CREATED)
def publish_policy(
    course_type: CourseType,
    terms: PolicyTerms,
    session: SessionDep,
    admin: Annotated[User, Depends(require_roles(Role.ADMIN))],
) -> RefundPolicy:
    """Publish new terms as the next version; refunds already requested keep theirs."""
    return service.publish_policy(session, course_type=course_type, terms=terms, author_id=admin.id)
