"""Starting a case's workflow and running its updates on a person's behalf, the same way for
refunds and complaints: bounded waits, and answers a person can act on (409, 503) instead of
errors from deep inside Temporal."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import TemporalClientProvider
from db.models import User
from settings import Settings

# The ApplicationError types workflows raise for "not in a state for this" (validators, and a
# refund a complaint asked for that the order does not allow).
INVALID_STATE_TYPES = frozenset({"InvalidRefundState", "InvalidComplaintState", "RefundRefused"})
# ... and those for "an outside service this needs cannot be reached or is not set up".
UNAVAILABLE_TYPES = frozenset({"VideoRoomUnavailable"})


def staff_update_id(user: User, update: Any, idempotency_key: str) -> str:
    """The Temporal update id of one person's action: their key, scoped to them and to the action, so
    nobody's key answers for another's."""
    return f"staff:{user.id}:{update.__name__}:{idempotency_key}"


def same_request_update_id(user: User, update: Any, argument: BaseModel) -> str:
    """The update id of a request by its content: one person sending the same request again (after
    a 503, or while it is still being recorded) gets the one update Temporal ran for it, and its
    answer; a different request is a different update, which the workflow's validator judges."""
    return staff_update_id(user, update, hashlib.sha256(argument.model_dump_json().encode()).hexdigest()[:40])


async def workflow_exists(client: Client, workflow_id: str, within_seconds: float) -> bool | None:
    """True or False when Temporal can say; None when it cannot be asked right now."""
    try:
        async with asyncio.timeout(within_seconds):
            await client.get_workflow_handle(workflow_id).describe()
        return True
    except RPCError as exc:
        return False if exc.status == RPCStatusCode.NOT_FOUND else None
    except TimeoutError:
        return None


async def start_case(
    *,
    temporal: TemporalClientProvider,
    settings: Settings,
    workflow_id: str,
    start: Callable[[Client], Awaitable[Any]],
    take_back: Callable[[], None],
    unavailable: str,
) -> None:
    """Start the workflow of a case whose row is already committed. If it cannot be started, the
    row is taken back (after asking Temporal whether it started after all) and the caller gets 503."""
    try:
        client = await temporal.get()
    except HTTPException:  # Temporal unreachable: nothing started, so nothing stays written
        await run_in_threadpool(take_back)
        raise
    try:
        async with asyncio.timeout(settings.temporal_call_timeout_seconds):
            await start(client)
    except BaseException as exc:
        # Did it start after all (a lost reply, a retried start)? Ask before taking anything back.
        started = await workflow_exists(client, workflow_id, settings.temporal_call_timeout_seconds)
        if started:
            return
        if started is False:
            await run_in_threadpool(take_back)
        # When Temporal cannot say, the row stays; the case's next request finds it stale.
        if isinstance(exc, Exception):
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, unavailable) from exc
        raise


async def execute_update(
    *,
    temporal: TemporalClientProvider,
    settings: Settings,
    run: Any,
    workflow_id: str,
    update: Any,
    argument: Any,
    finished: Callable[[], HTTPException],
    update_id: str | None = None,
    accepted: Callable[[], Any] | None = None,
) -> Any:
    """Run one of a workflow's updates: 409 when its validator refuses it for the case's state (or
    the workflow has `finished()`), 503 if no worker answers in time. With `update_id`, Temporal
    runs an update of that id once however often it is sent (a channel's redelivery).

    With `accepted`, an update the workflow accepted but did not finish in time (a backlog of work
    ahead of the step that records it) answers `accepted()` instead of 503: once accepted it is in
    the workflow's history and will be carried out, so the person's action was taken."""
    client = await temporal.get()
    handle = client.get_workflow_handle_for(run, workflow_id)
    taken = False
    try:
        async with asyncio.timeout(settings.temporal_call_timeout_seconds):
            if accepted is None:
                return await handle.execute_update(update, argument, id=update_id)
            running = await handle.start_update(
                update, argument, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
            taken = True
            return await running.result()
    except WorkflowUpdateFailedError as exc:
        if isinstance(exc.cause, ApplicationError) and exc.cause.type in INVALID_STATE_TYPES:
            raise HTTPException(status.HTTP_409_CONFLICT, exc.cause.message) from exc
        if isinstance(exc.cause, ApplicationError) and exc.cause.type in UNAVAILABLE_TYPES:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, exc.cause.message) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # the workflow has already finished
            raise finished() from exc
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "workflow service unavailable, try again"
        ) from exc
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        if taken and accepted is not None:
            return accepted()
        # No worker took it in time (down or overloaded). Almost always nothing was recorded; if it
        # was, trying again answers 409 with the recorded state.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the service did not confirm this in time; please check and try again",
        ) from exc


async def query_case(
    *, temporal: TemporalClientProvider, settings: Settings, run: Any, workflow_id: str, queries: list[Any]
) -> list[Any]:
    """Ask a case's workflow the given queries (its live view): 404 when Temporal no longer has the
    workflow (closed past the namespace's retention), 503 when no worker answers in time."""
    client = await temporal.get()
    handle = client.get_workflow_handle_for(run, workflow_id)
    try:
        async with asyncio.timeout(settings.temporal_call_timeout_seconds):
            return [await handle.query(query) for query in queries]
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"workflow {workflow_id} is no longer kept by Temporal"
            ) from exc
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "workflow service unavailable, try again"
        ) from exc
    except TimeoutError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no worker answered in time; the stored detail is still there",
        ) from exc
