from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.deps import CurrentUser, SessionDep, require_roles
from api.errors import refusals
from api.services import policies as service
from db.models import User
from domain.courses import CourseType
from domain.policy import PolicyTerms, RefundPolicy
from domain.roles import Role

router = APIRouter(prefix="/api/policies", tags=["policies"], responses=refusals(401))
# The migrations insert a first version of every course type's policy; without one, reading it is a 503.
NO_POLICY = refusals(503, meanings={503: "no refund policy is stored for this course type"})


@router.get("", response_model=list[RefundPolicy], responses=NO_POLICY)
def list_policies(session: SessionDep, _user: CurrentUser) -> list[RefundPolicy]:
    """The refund policy in force for each course type (students may read them too)."""
    return service.current_policies(session)


@router.get("/{course_type}", response_model=RefundPolicy, responses=NO_POLICY)
def get_policy(course_type: CourseType, session: SessionDep, _user: CurrentUser) -> RefundPolicy:
    return service.current_policy(session, course_type)


@router.get(
    "/{course_type}/versions",
    response_model=list[RefundPolicy],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.LEAD, Role.REVIEWER, Role.FINANCE))],
    responses=refusals(403),
)
def policy_versions(course_type: CourseType, session: SessionDep) -> list[RefundPolicy]:
    """Every version, newest first: what each refund was judged by."""
    return service.policy_history(session, course_type)


@router.put(
    "/{course_type}",
    response_model=RefundPolicy,
    status_code=status.HTTP_201_CREATED,
    responses=NO_POLICY
    | refusals(403, 409, meanings={409: "another admin published the same version at the same moment"}),
)
def publish_policy(
    course_type: CourseType,
    terms: PolicyTerms,
    session: SessionDep,
    admin: Annotated[User, Depends(require_roles(Role.ADMIN))],
) -> RefundPolicy:
    """Publish new terms as the next version; refunds already requested keep theirs."""
    return service.publish_policy(session, course_type=course_type, terms=terms, author_id=admin.id)
