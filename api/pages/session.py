"""The web console's sign-in: the same accounts and roles as the API, carried in an HttpOnly,
SameSite=Lax cookie holding the same signed token (so another site's form cannot post with it),
and every form POST must come from our own origin."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from api.deps import SessionDep, SettingsDep, user_for_token
from db.models import User
from domain.roles import Role

SESSION_COOKIE = "aftercare_session"


class LoginRequired(Exception):
    """Raised by a page for a visitor who is not signed in (the app redirects to /login)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PageForbidden(Exception):
    """A signed-in user on a page their role does not open."""


class ForeignOrigin(Exception):
    """A form posted from another site."""


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def page_user(request: Request, session: SessionDep, settings: SettingsDep) -> User:
    token = request.cookies.get(SESSION_COOKIE)
    user = user_for_token(token, session, settings) if token else None
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    if request.method == "POST" and not same_origin(request):
        raise ForeignOrigin()
    return user


def same_origin(request: Request) -> bool:
    """A browser names the page a form came from; it must be ours (a missing header is refused)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return False
    source = urlsplit(origin)
    return (source.scheme, source.netloc) == (request.url.scheme, request.url.netloc)


def roles(*allowed: Role):
    def check(user: Annotated[User, Depends(page_user)]) -> User:
        if user.role not in allowed:
            raise PageForbidden()
        return user

    return check


PageUser = Annotated[User, Depends(page_user)]
StudentPage = Annotated[User, Depends(roles(Role.STUDENT))]
ReviewerPage = Annotated[User, Depends(roles(Role.REVIEWER, Role.LEAD))]
AdminPage = Annotated[User, Depends(roles(Role.ADMIN))]
AgentPage = Annotated[User, Depends(roles(Role.AGENT, Role.LEAD))]  # who handle complaints
LeadPage = Annotated[User, Depends(roles(Role.LEAD))]
