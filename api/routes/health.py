from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request, session: SessionDep) -> dict[str, str]:
    await run_in_threadpool(session.exec, text("SELECT 1"))
    session.close()
    try:
        await request.app.state.temporal.get()
        temporal = "ok"
    except HTTPException:
        temporal = "unavailable"
    return {"database": "ok", "temporal": temporal}
