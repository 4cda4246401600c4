"""Server-rendered pages from templates/web/ (autoescaped): the web console and the dev pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.pages.i18n import LANG_COOKIE, locale_for, translator
from db.models import User
from domain.money import format_yuan
from domain.timeutil import shanghai_text
from settings import PROJECT_ROOT

_env = Environment(
    loader=FileSystemLoader(PROJECT_ROOT / "templates" / "web"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
)
_env.filters["shanghai"] = shanghai_text
_env.filters["yuan"] = format_yuan


def render_page(
    name: str,
    status_code: int = 200,
    *,
    request: Request | None = None,
    user: User | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the visitor's language (?lang= switches it and is remembered in a cookie)."""
    locale = locale_for(request, user.locale if user else None) if request else "zh-CN"
    page = _env.get_template(name).render(
        **context, t=translator(locale), locale=locale, user=user, path=request.url.path if request else "/"
    )
    response = HTMLResponse(page, status_code=status_code)
    if request is not None and request.query_params.get("lang") == locale:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax")
    return response
