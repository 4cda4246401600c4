from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlmodel import select

from api.deps import SessionDep, SettingsDep
from api.security import issue_token, verify_password_or_dummy
from db.models import User
from domain.roles import Role

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role
    user_id: str


@router.post("/token", response_model=TokenOut)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenOut:
    user = session.exec(select(User).where(User.email == form.username.strip().lower())).first()
    if not verify_password_or_dummy(form.password, user.password_hash if user else None) or not (
        user and user.is_active
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong email or password", headers={"WWW-Authenticate": "Bearer"}
        )
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    token = issue_token(
        user_id=user.id, role=Role(user.role), secret=settings.jwt_secret.get_secret_value(), ttl=ttl
    )
    return TokenOut(
        access_token=token, expires_in=int(ttl.total_seconds()), role=Role(user.role), user_id=user.id
    )
