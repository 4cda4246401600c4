"""GET /metrics: the application's metrics for Prometheus (api/services/metrics.py). Not in the
OpenAPI schema: it is for the scraper, not for the API's clients. With AFTERCARE_METRICS_TOKEN set
it asks for that bearer token; the API is reachable from the outside (gateways call it back), and
the counts of refunds are the school's business."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from prometheus_client.exposition import choose_encoder
from starlette.concurrency import run_in_threadpool

from domain.secret_compare import same_secret
from settings import Settings

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not _authorized(request, request.app.state.settings):
        return Response(
            "a bearer token is needed for /metrics\n",
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            media_type="text/plain",
        )
    # Prometheus asks for OpenMetrics or the text format by its Accept header.
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    body = await run_in_threadpool(encode, request.app.state.metrics.registry)  # the database reads
    return Response(body, headers={"Content-Type": content_type})


def _authorized(request: Request, settings: Settings) -> bool:
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not expected:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and same_secret(given.strip(), expected)
