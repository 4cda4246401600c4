from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import SessionDep, SettingsDep
from api.errors import refusals
from api.services.accounts import sign_in, token_for
from domain.roles import Role

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role
    user_id: str


@router.post(
    "/token",
    response_model=TokenOut,
    responses=refusals(
        401,
        429,
        meanings={
            401: "wrong email or password (or an account switched off)",
            429: "too many failed sign-ins from here or for this account; Retry-After says when to try again",
        },
    ),
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """A bearer token for an email and password. Failed attempts are rate limited per client
    address and per account (429 with Retry-After, the same whether the account exists or not)."""
    user = sign_in(request, session, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong email or password", headers={"WWW-Authenticate": "Bearer"}
        )
    token, ttl = token_for(user, settings)
    return TokenOut(
        access_token=token, expires_in=int(ttl.total_seconds()), role=Role(user.role), user_id=user.id
    )
