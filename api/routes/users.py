"""Staff accounts for admins: list, create (with a first password to hand over), change role,
deactivate, and set an agent's department queues. Every change is audited (case_type config)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from api.deps import SessionDep, require_roles
from api.errors import refusals
from api.services import users as service
from db.models import User
from domain.complaints import Department
from domain.roles import Role
from domain.text import NO_CONTROL_CHARACTERS

router = APIRouter(prefix="/api/users", tags=["users"], responses=refusals(401, 403))
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]


class StaffOut(BaseModel):
    user_id: str
    email: str | None
    display_name: str
    role: Role
    is_active: bool
    departments: list[Department]


class StaffIn(BaseModel):
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
    display_name: Annotated[str, Field(min_length=1, max_length=100), NO_CONTROL_CHARACTERS]
    role: Role
    password: Annotated[str, Field(min_length=10, max_length=200)]


class StaffChange(BaseModel):
    role: Role | None = None
    is_active: bool | None = None
    departments: list[Department] | None = None  # the queues an agent works; None: unchanged


def staff_out(session, user: User) -> StaffOut:
    return StaffOut(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=Role(user.role),
        is_active=user.is_active,
        departments=service.departments_of(session, user.id),
    )


@router.get("", response_model=list[StaffOut])
def list_staff(session: SessionDep, _admin: AdminUser, role: Role | None = None) -> list[StaffOut]:
    return [staff_out(session, user) for user in service.list_staff(session, role)]


@router.post("", response_model=StaffOut, status_code=status.HTTP_201_CREATED)
def create_staff(body: StaffIn, session: SessionDep, admin: AdminUser) -> StaffOut:
    user = service.create_staff(session, admin=admin, **body.model_dump())
    return staff_out(session, user)


@router.patch(
    "/{user_id}",
    response_model=StaffOut,
    responses=refusals(404, 409, meanings={409: "an admin cannot take their own admin rights away"}),
)
def change_staff(user_id: str, body: StaffChange, session: SessionDep, admin: AdminUser) -> StaffOut:
    user = service.change_staff(session, admin=admin, user_id=user_id, **body.model_dump())
    return staff_out(session, user)
