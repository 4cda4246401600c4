"""The lead's desk: what waits for a lead — compensation offered beyond an agent's quota, refunds
waiting for the account manager's call — and the SLA dashboard. Decisions call the API routes' own
functions; a lead sees their own offer but another lead decides it."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowUpdateFailedError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import field_error
from api.pages import render_page
from api.pages.forms import (
    ACTION_KEY_FIELD,
    FormErrors,
    new_action_key,
    refusal_of,
    see_other,
    sent_action_key,
)
from api.pages.i18n import locale_for, translator
from api.pages.session import LeadPage
from api.routes import complaints as complaint_routes
from api.routes import refunds as refund_routes
from api.services import compensation as compensation_service
from api.services import refunds as refund_service
from api.services.accounts import display_names
from api.services.sla_dashboard import sla_dashboard
from db.models import Compensation, Complaint, User
from domain.compensation import CompensationStatus
from domain.complaints import OPEN_STAGES
from domain.refunds import DecisionReceipt, RefundStatus
from domain.timeutil import utcnow

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]
DECISIONS = {"approve": True, "decline": False}


def _desk(
    request: Request,
    user: User,
    session: Session,
    *,
    failed: str = "",
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    code: int = status.HTTP_200_OK,
    recording: str = "",
) -> Response:
    """The desk; after a refusal, `failed` names the item (offer or refund) whose form it was;
    `recording` a refund whose call was taken behind a backlog (202) and is still being recorded."""
    offers = compensation_service.list_offers(
        session, user=user, status_filter=CompensationStatus.AWAITING_APPROVAL, limit=200, offset=0
    )
    calls = refund_service.list_refunds(
        session=session, user=user, status_filter=RefundStatus.AWAITING_CONFIRMATION, limit=200, offset=0
    )
    board = sla_dashboard(session, now=utcnow())
    escalated = _escalated_to(session, user)
    return render_page(
        "lead_desk.html.j2",
        code,
        request=request,
        user=user,
        offers=offers,
        calls=calls,
        board=board,
        escalated=escalated,
        names=display_names(
            session,
            [
                *(o.requested_by for o in offers),
                *(o.student_id for o in offers),
                *(r.student_id for r in calls),
            ],
        ),
        failed=failed,
        errors=errors or FormErrors(),
        form=form or {},
        action_key=new_action_key(),  # each showing of the desk, its own decisions
        recording=recording,
    )


def _escalated_to(session: Session, lead: User) -> list[Complaint]:
    """Open complaints that are the lead's own: escalated to them, or breached on their watch."""
    return list(
        session.exec(
            select(Complaint)
            .where(
                Complaint.assigned_to == lead.id,
                col(Complaint.stage).in_([stage.value for stage in OPEN_STAGES]),
            )
            .order_by(col(Complaint.resolution_due_at))
        )
    )


@router.get("/lead", response_class=HTMLResponse)
def desk(request: Request, user: LeadPage, session: SessionDep, recording: str = "") -> Response:
    return _desk(request, user, session, recording=recording)


async def _decide(
    request: Request, user: User, item: str, form: dict[str, str], decide: Callable[[], Any]
) -> Response:
    """Run the decision; back to the desk (PRG), saying so when the call is still being recorded, or,
    refused, the desk again with the error beside that item's field."""
    t = translator(locale_for(request, user.locale))
    try:
        outcome = await decide()
        if isinstance(outcome, DecisionReceipt) and outcome.being_recorded:
            return see_other(f"/lead?{urlencode({'recording': item})}")
        return see_other("/lead")
    except (HTTPException, ValidationError, WorkflowUpdateFailedError) as exc:
        errors, code = refusal_of(exc, t)

    def shown_again() -> Response:
        with request.app.state.sessions() as fresh:  # the decision closed the request's session
            return _desk(request, user, fresh, failed=item, errors=errors.of_form(item), form=form, code=code)

    return await run_in_threadpool(shown_again)


def _choice(field: str, value: str, allowed: Collection[str], t: Callable[..., str]) -> None:
    """Only the form's own buttons send these; anything else is refused beside them."""
    if value not in allowed:
        raise field_error(field, t("form.choose"))


@router.post("/lead/compensations/{compensation_id}", response_class=HTMLResponse)
async def decide_compensation(
    compensation_id: str,
    request: Request,
    user: LeadPage,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    decision: FormText = "",
    note: FormText = "",
) -> Response:
    t = translator(locale_for(request, user.locale))
    offer = await run_in_threadpool(session.get, Compensation, compensation_id)
    if offer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no compensation {compensation_id}")
    complaint_id = offer.complaint_id
    key = await sent_action_key(request)

    async def decide() -> Any:
        _choice("decision", decision, DECISIONS, t)
        try:
            body = complaint_routes.DecisionIn(approve=DECISIONS[decision], note=note)
        except ValidationError as exc:
            # Its one rule across fields is that a decline says why: its message goes beside the note.
            problem = exc.errors()[0]
            field = str(problem["loc"][-1]) if problem["loc"] else "note"
            raise field_error(field, problem["msg"].removeprefix("Value error, ")) from None
        # One key serves every offer on a showing of the desk: the offer's id makes it this one's.
        scoped = f"{compensation_id}.{key}" if key else None
        actions = complaint_routes.ComplaintActions(session, temporal, settings, scoped)
        return await complaint_routes.decide_compensation(complaint_id, compensation_id, body, actions, user)

    form = {"decision": decision, "note": note, ACTION_KEY_FIELD: key}
    return await _decide(request, user, compensation_id, form, decide)


@router.post("/lead/refunds/{refund_id}/confirmation", response_class=HTMLResponse)
async def confirm_refund(
    refund_id: str,
    request: Request,
    user: LeadPage,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    outcome: FormText = "",
    note: FormText = "",
) -> Response:
    """The account manager's call, reported: confirmed (the money moves) or withdrawn."""
    t = translator(locale_for(request, user.locale))

    async def decide() -> Any:
        _choice("outcome", outcome, {"confirmed", "withdrawn"}, t)
        body = refund_routes.ConfirmationIn(outcome=outcome, note=note)  # type: ignore[arg-type]
        return await refund_routes.confirm_refund(
            refund_id, body, session, temporal, settings, user, Response()
        )

    return await _decide(request, user, refund_id, {"outcome": outcome, "note": note}, decide)
