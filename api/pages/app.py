"""The web console's routes and what a page does for a visitor who may not see it."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import RedirectResponse, Response

from api.pages import admin, agent, console, lead, render_page, reports, review, student, survey
from api.pages.session import ForeignOrigin, LoginRequired, PageForbidden, login_url


def add_console(app: FastAPI) -> None:
    for module in (console, student, review, agent, lead, admin, survey, reports):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=status.HTTP_303_SEE_OTHER)

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, _exc: PageForbidden) -> Response:
        return render_page("forbidden.html.j2", status.HTTP_403_FORBIDDEN, request=request)

    @app.exception_handler(ForeignOrigin)
    async def foreign(request: Request, _exc: ForeignOrigin) -> Response:
        return render_page("forbidden.html.j2", status.HTTP_403_FORBIDDEN, request=request)
