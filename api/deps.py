"""Request dependencies: DB session, Temporal client, the authenticated user and role checks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from temporalio.client import Client

from api.errors import field_error
from api.security import read_token
from db.models import User
from domain.report_month import ReportMonth
from domain.roles import Role
from integrations import temporal
from settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token")


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


class TemporalClientProvider:
    """Connects on first use and keeps the client, so the API starts even before Temporal does, and
    requests refused for their role, state or input are answered without touching Temporal."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self.client = client
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self.client is None:
            async with self._lock:
                if self.client is None:
                    try:
                        self.client = await temporal.connect(self.settings)
                    except RuntimeError as exc:  # the SDK's error when it cannot connect
                        raise HTTPException(
                            status.HTTP_503_SERVICE_UNAVAILABLE, "workflow service unavailable, try again"
                        ) from exc
        return self.client


def get_temporal(request: Request) -> TemporalClientProvider:
    return request.app.state.temporal


TemporalDep = Annotated[TemporalClientProvider, Depends(get_temporal)]

_CREDENTIALS_ERROR = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "invalid or expired credentials", headers={"WWW-Authenticate": "Bearer"}
)


def user_for_token(token: str, session: Session, settings: Settings) -> User | None:
    """The active user a token was issued to, still in the role it names; None otherwise."""
    try:
        claims = read_token(token, secret=settings.jwt_secret.get_secret_value())
    except jwt.InvalidTokenError:
        return None
    user = session.get(User, claims["sub"])
    if user is None or not user.is_active or user.role != claims.get("role"):
        return None
    return user


def get_current_user(
    token: Annotated[str, Depends(oauth2_scheme)], session: SessionDep, settings: SettingsDep
) -> User:
    user = user_for_token(token, session, settings)
    if user is None:
        raise _CREDENTIALS_ERROR
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role):
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(sorted(r.value for r in allowed))}",
            )
        return user

    return check


# A page of a list. An offset past every row is an empty page; one past what a database integer
# holds would be its error (a 500), so the offset stops far beyond any real list.
PageLimit = Annotated[int, Query(ge=1, le=200, description="how many, at most")]
PageOffset = Annotated[int, Query(ge=0, le=1_000_000, description="how many to skip")]


# A row's number in a path (a decision reason, an improvement action). Ids count up from 1 in a
# database integer; one past what PostgreSQL's integer holds would be its error (a 500), and past 2**63
# SQLite's, so such an id is refused as the bad input it is.
DB_INTEGER_MAX = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=DB_INTEGER_MAX, description="the row's number")]


def report_month(
    month: Annotated[str, Query(max_length=20, description="a month in Beijing time", examples=["2026-03"])],
) -> ReportMonth:
    """The reports' `?month=`: a 422 beside the query field when it is not a month."""
    try:
        return ReportMonth.parse(month)
    except ValueError as exc:
        raise field_error("month", str(exc), where="query") from None


ReportMonthDep = Annotated[ReportMonth, Depends(report_month)]
