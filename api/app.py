"""The FastAPI application factory.

uvicorn api.app:create_app --factory      (make dev starts it for you)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client
from temporalio.service import RPCError

from api.access_log import mask_capability_links
from api.deps import TemporalClientProvider
from api.errors import nul_refusal, simultaneous_change, unreadable_body
from api.pages.app import add_console
from api.rate_limits import RateLimits, Throttled
from api.routes import (
    audit_trails,
    auth,
    compensation,
    complaint_reports,
    complaints,
    customers,
    decision_reasons,
    dev,
    finance,
    health,
    intake,
    me,
    metrics,
    orders,
    payments,
    policies,
    refund_reports,
    refunds,
    routing,
    sla,
    templates,
    users,
    webhooks,
    wechat_official,
)
from api.services.gateway_callbacks import AnsweredCallbacks
from api.services.metrics import ApplicationMetrics
from db.engine import SessionFactory, build_engine
from db.template_store import TemplateStore
from integrations.notice_renderer import school_renderer
from integrations.payments.registry import build_gateways
from integrations.wechat_message import build_wechat
from settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, temporal_client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    mask_capability_links()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = build_engine(settings.database_url, **settings.database_engine_options)
        app.state.sessions = SessionFactory(engine)
        app.state.renderer = school_renderer(settings, TemplateStore(app.state.sessions))
        yield
        engine.dispose()

    app = FastAPI(
        title="Aftercare",
        summary="After-sales back office of an online school: refunds and complaints as Temporal workflows",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.temporal = TemporalClientProvider(settings, temporal_client)
    app.state.gateways = build_gateways(settings)
    app.state.wechat = build_wechat(settings)
    app.state.metrics = ApplicationMetrics(lambda: app.state.sessions, app.state.gateways.keys())
    app.state.rate_limits = RateLimits(settings, on_throttled=app.state.metrics.throttled)
    app.state.answered_callbacks = AnsweredCallbacks()

    @app.exception_handler(RPCError)
    async def temporal_unavailable(_request: Request, exc: RPCError) -> JSONResponse:
        log.warning("Temporal call failed: %s", exc)
        return JSONResponse(
            {"detail": "the workflow service is unavailable; nothing was changed, try again"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(DataError)
    async def data_refused(_request: Request, exc: DataError) -> JSONResponse:
        answer = nul_refusal(exc)
        if answer is None:
            raise exc
        return answer

    @app.exception_handler(IntegrityError)
    async def lost_a_race(_request: Request, exc: IntegrityError) -> JSONResponse:
        answer = simultaneous_change(exc)
        if answer is None:
            raise exc
        log.warning("a write lost a race for a unique key: %s", exc.orig)
        return answer

    @app.exception_handler(StarletteHTTPException)
    async def http_refusal(request: Request, exc: StarletteHTTPException) -> Response:
        return unreadable_body(exc) or await http_exception_handler(request, exc)

    @app.exception_handler(Throttled)
    async def throttled(_request: Request, exc: Throttled) -> JSONResponse:
        return JSONResponse(
            {"detail": f"too many attempts; try again in {exc.retry_after} seconds"},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers=exc.headers,
        )

    routers = (
        health,
        metrics,
        auth,
        orders,
        policies,
        routing,
        templates,
        refunds,
        refund_reports,
        sla,  # before complaints: /api/complaints/sla is not the complaint "sla"
        complaints,
        compensation,
        customers,
        decision_reasons,
        intake,
        wechat_official,
        finance,
        webhooks,
        users,
        me,
        payments,
        audit_trails,
        complaint_reports,
    )
    for module in routers:
        app.include_router(module.router)
    if settings.dev_mode:
        app.include_router(dev.router)
    add_console(app)
    return app
