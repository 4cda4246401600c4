"""Signing in, the same for the API's bearer tokens and the web console's session cookie."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlmodel import Session, col, select
from starlette.requests import Request

from api.security import issue_token, verify_password_or_dummy
from db.models import User
from domain.roles import Role
from settings import Settings


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password; None otherwise (in the same time either way)."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if not verify_password_or_dummy(password, user.password_hash if user else None):
        return None
    return user if user and user.is_active else None


def sign_in(request: Request, session: Session, email: str, password: str) -> User | None:
    """`authenticate` behind the sign-in rate limits (api/rate_limits.py): raises Throttled before
    any password is checked once this address or account has failed too often; a failure keeps
    what it took from both buckets and is counted, a success gives it back."""
    attempt = request.app.state.rate_limits.sign_in(request, email)
    user = authenticate(session, email, password)
    if user is None:
        request.app.state.metrics.sign_in_failed()
    else:
        attempt.release()
    return user


def token_for(user: User, settings: Settings) -> tuple[str, timedelta]:
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    token = issue_token(
        user_id=user.id, role=Role(user.role), secret=settings.jwt_secret.get_secret_value(), ttl=ttl
    )
    return token, ttl


def display_names(session: Session, user_ids: Iterable[str | None]) -> dict[str, str]:
    """Who is behind each id, for pages that name assignees, offerers and students (one query)."""
    wanted = {user_id for user_id in user_ids if user_id}
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.display_name).where(col(User.id).in_(wanted))).all())
