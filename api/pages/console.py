"""Signing in and out of the web console, and where each role lands."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, user_for_token
from api.pages import render_page
from api.pages.session import SESSION_COOKIE, ForeignOrigin, same_origin
from api.rate_limits import Throttled
from api.services.accounts import sign_in, token_for
from db.models import User
from domain.roles import Role

router = APIRouter(include_in_schema=False)

HOME_OF = {
    Role.STUDENT: "/my/orders",
    Role.REVIEWER: "/review",
    Role.AGENT: "/complaints",
    Role.LEAD: "/lead",
    Role.ADMIN: "/admin",
    Role.FINANCE: "/reports",
}


def _safe_next(next_path: str) -> str:
    """Only a path on this site: never a full URL someone planted in the link, nor //other.site or
    /\\other.site (browsers read a backslash as a slash), nor anything with control characters."""
    on_this_site = next_path.startswith("/") and not next_path.startswith("//")
    if not on_this_site or "\\" in next_path or any(ord(char) < 32 or ord(char) == 127 for char in next_path):
        return "/"
    return next_path


def _signed_in(request: Request, session: Session, settings) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    return user_for_token(token, session, settings) if token else None


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = _signed_in(request, session, settings)
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    return RedirectResponse(HOME_OF.get(Role(user.role), "/docs"), status_code=status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return render_page(
        "login.html.j2", request=request, next=_safe_next(next), failed=False, throttled_minutes=0, email=""
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        # A form from another site is refused before any password is checked (or counted).
        user = sign_in(request, session, email, password) if same_origin(request) else None
    except Throttled as exc:
        page = render_page(
            "login.html.j2",
            status.HTTP_429_TOO_MANY_REQUESTS,
            request=request,
            next=_safe_next(next),
            failed=False,
            throttled_minutes=math.ceil(exc.retry_after / 60),
            email=email,
        )
        page.headers.update(exc.headers)
        return page
    if user is None:
        return render_page(
            "login.html.j2",
            status.HTTP_401_UNAUTHORIZED,
            request=request,
            next=_safe_next(next),
            failed=True,
            throttled_minutes=0,
            email=email,
        )
    token, ttl = token_for(user, settings)
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if not same_origin(request):  # another site may not sign our users out either
        raise ForeignOrigin()
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response
