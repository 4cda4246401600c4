"""Reviewer groups, their members and the routing rules (domain/routing.py): admins edit them,
leads read them. A change applies to refunds routed from then on; every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, delete, select

from api.deps import SessionDep, require_roles
from api.errors import field_error, refusals
from api.services.audit import audit_config_change
from db.models import ReviewerGroup, ReviewerGroupMember, RoutingRuleRow, User
from domain.roles import Role
from domain.routing import RoutingRule
from domain.text import NO_CONTROL_CHARACTERS

router = APIRouter(prefix="/api/routing", tags=["routing"], responses=refusals(401, 403))
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
GroupId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
# Who may sit in a reviewer group: reviewers decide its refunds; a lead may join to decide too.
MEMBER_ROLES = frozenset({Role.REVIEWER, Role.LEAD})


class Member(BaseModel):
    user_id: str
    name: str
    role: Role


class GroupOut(BaseModel):
    id: str
    name: str
    members: list[Member]


class RoutingOut(BaseModel):
    groups: list[GroupOut]
    rules: list[RoutingRule]  # in priority order; the first that matches names the group


class GroupIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100), NO_CONTROL_CHARACTERS]


class RuleIn(RoutingRule):
    priority: Annotated[int, Field(ge=1, le=100_000)]
    # No order is paid more (PUT /api/orders takes up to this), and the column is a database integer.
    min_amount_fen: Annotated[int | None, Field(ge=0, le=100_000_000)] = None


class RulesIn(BaseModel):
    rules: Annotated[list[RuleIn], Field(min_length=1, max_length=100)]

    @field_validator("rules")
    @classmethod
    def _complete_and_unambiguous(cls, rules: list[RuleIn]) -> list[RuleIn]:
        priorities = [rule.priority for rule in rules]
        if len(set(priorities)) != len(priorities):
            raise ValueError("two rules have the same priority; each needs its own place in the order")
        last = max(rules, key=lambda rule: rule.priority)
        if last.course_type is not None or last.min_amount_fen is not None or last.vip_only:
            raise ValueError(
                "the last rule (highest priority number) must have no conditions, "
                "so every refund finds a group"
            )
        return sorted(rules, key=lambda rule: rule.priority)


def _routing(session: Session) -> RoutingOut:
    members: dict[str, list[Member]] = {}
    rows = session.exec(
        select(ReviewerGroupMember, User)
        .join(User, col(User.id) == col(ReviewerGroupMember.user_id))
        .order_by(col(User.id))
    )
    for membership, user in rows:
        members.setdefault(membership.group_id, []).append(
            Member(user_id=user.id, name=user.display_name, role=Role(user.role))
        )
    groups = session.exec(select(ReviewerGroup).order_by(col(ReviewerGroup.id))).all()
    rules = session.exec(select(RoutingRuleRow).order_by(col(RoutingRuleRow.priority))).all()
    return RoutingOut(
        groups=[GroupOut(id=g.id, name=g.name, members=members.get(g.id, [])) for g in groups],
        rules=[RoutingRule.model_validate(rule, from_attributes=True) for rule in rules],
    )


@router.get("", response_model=RoutingOut, dependencies=[Depends(require_roles(Role.ADMIN, Role.LEAD))])
def get_routing(session: SessionDep) -> RoutingOut:
    return _routing(session)


# Two admins saving the same new group, or the same membership, at once: the second is refused.
AT_THE_SAME_MOMENT = {409: "another admin changed the same group at the same moment; nothing was changed"}


@router.put(
    "/groups/{group_id}", response_model=GroupOut, responses=refusals(409, meanings=AT_THE_SAME_MOMENT)
)
def put_group(group_id: GroupId, body: GroupIn, session: SessionDep, admin: AdminUser) -> GroupOut:
    """Create the group, or rename it."""
    group = session.get(ReviewerGroup, group_id) or ReviewerGroup(id=group_id, name=body.name)
    group.name = body.name
    session.add(group)
    audit_config_change(session, admin, "routing.group_saved", group_id, {"name": body.name})
    session.commit()
    return next(g for g in _routing(session).groups if g.id == group_id)


@router.put(
    "/groups/{group_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(404, 409, meanings=AT_THE_SAME_MOMENT),
)
def add_member(group_id: str, user_id: str, session: SessionDep, admin: AdminUser) -> Response:
    if session.get(ReviewerGroup, group_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no reviewer group {group_id}")
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    if user.role not in MEMBER_ROLES:
        raise field_error(
            "user_id",
            f"{user_id} is a {user.role}; only reviewers and leads can be in a reviewer group",
            where="path",
        )
    if session.get(ReviewerGroupMember, (group_id, user_id)) is None:
        session.add(ReviewerGroupMember(group_id=group_id, user_id=user_id))
        audit_config_change(session, admin, "routing.member_added", group_id, {"user_id": user_id})
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/groups/{group_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=refusals(404)
)
def remove_member(group_id: str, user_id: str, session: SessionDep, admin: AdminUser) -> Response:
    """Refunds already assigned to them stay theirs; new ones go to the rest of the group."""
    audit_config_change(session, admin, "routing.member_removed", group_id, {"user_id": user_id})
    # The DELETE's row count decides, not a look beforehand: of two admins removing the same member
    # at once, the one whose DELETE finds the row gone records nothing.
    removed = session.execute(
        delete(ReviewerGroupMember).where(
            col(ReviewerGroupMember.group_id) == group_id, col(ReviewerGroupMember.user_id) == user_id
        )
    )
    if removed.rowcount != 1:
        session.rollback()
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{user_id} is not in {group_id}")
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/rules", response_model=RoutingOut)
def replace_rules(body: RulesIn, session: SessionDep, admin: AdminUser) -> RoutingOut:
    """Replace the whole rule list at once, so the order is never half-edited."""
    known = set(session.exec(select(ReviewerGroup.id)).all())
    unknown = sorted({rule.group_id for rule in body.rules} - known)
    if unknown:
        raise field_error("rules", f"no reviewer group {', '.join(unknown)}")
    session.exec(delete(RoutingRuleRow))
    session.flush()  # the old priorities are gone before the new ones arrive (they are unique)
    for rule in body.rules:
        session.add(RoutingRuleRow(**rule.model_dump(mode="json")))
    audit_config_change(
        session,
        admin,
        "routing.rules_replaced",
        "routing_rules",
        {"rules": body.model_dump(mode="json")["rules"]},
    )
    session.commit()
    return _routing(session)
