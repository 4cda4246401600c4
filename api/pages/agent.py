"""The agents' console (agents and leads): the complaint queue with a countdown to each complaint's
next deadline, and a complaint's page — the student's words, deadlines, the timeline with internal
notes, the notices sent, the customer's whole history, the workflow in the Temporal UI — with a form
for every action. Each action calls its API route's own function, so every rule lives once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
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
    fen_of_yuan,
    new_action_key,
    refusal_of,
    see_other,
    sent_action_key,
)
from api.pages.i18n import locale_for, translator
from api.pages.session import AgentPage
from api.routes import complaints as routes
from api.routes.case_views import case_history
from api.routes.customers import customer_history
from api.routes.me import my_orders
from api.services import compensation as compensation_service
from api.services import complaints as complaint_service
from api.services.accounts import display_names
from api.services.root_causes import REPORT_STAFF, month_root_causes
from api.services.sla_dashboard import next_deadline
from db.models import Compensation, Complaint, User
from domain.compensation import CompensationKind
from domain.complaints import (
    AFTER_RESOLUTION,
    INTERNAL_EVENTS,
    OPEN_STAGES,
    ComplaintStage,
    Department,
    ResolutionCode,
)
from domain.report_month import ReportMonth
from domain.roles import Role
from domain.timeutil import SHANGHAI, utcnow
from integrations.temporal import workflow_ui_url
from settings import Settings

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]


@router.get("/complaints", response_class=HTMLResponse)
def queue(request: Request, user: AgentPage, session: SessionDep, stage: str = "") -> Response:
    """Scoped by list_complaints: an agent's departments and assignments, soonest deadline first."""
    chosen = ComplaintStage(stage) if stage in {known.value for known in ComplaintStage} else None
    complaints = complaint_service.list_complaints(
        session=session, user=user, stage=chosen, limit=200, offset=0
    )
    return render_page(
        "agent_queue.html.j2",
        request=request,
        user=user,
        rows=[(complaint, next_deadline(complaint)) for complaint in complaints],
        names=display_names(session, (complaint.assigned_to for complaint in complaints)),
        stages=list(ComplaintStage),
        stage=chosen.value if chosen else "",
        now=utcnow(),
    )


def _complaint_page(
    request: Request,
    user: User,
    session: Session,
    settings: Settings,
    complaint_id: str,
    *,
    failed: str = "",
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    code: int = status.HTTP_200_OK,
) -> Response:
    """The page; after a refusal, `failed` names the form to show open with its errors and input."""
    complaint = complaint_service.readable_complaint(session=session, user=user, complaint_id=complaint_id)
    timeline, notices = case_history(
        session=session,
        user=user,
        case_type="complaint",
        case_id=complaint.id,
        internal_events=INTERNAL_EVENTS,
    )
    student = session.get(User, complaint.student_id)
    assert student is not None  # complaints reference students by foreign key
    orders = my_orders(student, session)
    can_tag = Role(user.role) in REPORT_STAFF
    offers = list(
        session.exec(
            select(Compensation)
            .where(Compensation.complaint_id == complaint.id)
            .order_by(col(Compensation.created_at), col(Compensation.id))
        )
    )
    return render_page(
        "agent_complaint.html.j2",
        code,
        request=request,
        user=user,
        complaint=complaint,
        deadline=next_deadline(complaint),
        now=utcnow(),
        timeline=timeline,
        notices=notices,
        history=customer_history(complaint.student_id, session, user),
        orders=orders,
        offers=offers,
        quota=compensation_service.my_quota(session, user),
        names=display_names(
            session,
            [complaint.assigned_to, complaint.root_cause_by, *(offer.requested_by for offer in offers)],
        ),
        temporal_url=workflow_ui_url(settings, complaint.workflow_id),
        forms=forms_for(complaint, has_orders=bool(orders)),
        departments=[d for d in Department if d.value != complaint.department],
        resolution_codes=list(ResolutionCode),
        compensation_kinds=list(CompensationKind),
        can_tag=can_tag,
        # The tags of the complaint's month, offered as the lead types: one cause, one wording.
        month_tags=month_root_causes(session, month=ReportMonth.of(complaint.received_at)) if can_tag else [],
        failed=failed,
        errors=errors or FormErrors(),
        form=form or {},
        action_key=new_action_key(),  # each showing of the page, its own actions
    )


def forms_for(complaint: Complaint, *, has_orders: bool) -> list[str]:
    """The actions a complaint's stage takes (the workflow's validators have the last word)."""
    stage = ComplaintStage(complaint.stage)
    if stage in OPEN_STAGES:
        asking = [] if stage is ComplaintStage.AWAITING_CUSTOMER else ["ask"]
        refund = ["refund"] if has_orders else []
        return ["respond", *asking, "note", "compensate", *refund, "video", "transfer", "escalate", "resolve"]
    if stage in AFTER_RESOLUTION:
        return ["reopen", "note"]
    return [] if stage is ComplaintStage.ARCHIVED else ["note"]


@router.get("/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint_page(
    complaint_id: str, request: Request, user: AgentPage, session: SessionDep, settings: SettingsDep
) -> Response:
    return _complaint_page(request, user, session, settings, complaint_id)


def amount_in_fen(text: str, t: Callable[..., str], *, required: bool = False) -> int | None:
    """Yuan typed into a form, in fen; a typing mistake (or none, when one is needed) is refused
    beside the amount's field."""
    try:
        fen = fen_of_yuan(text)
    except ValueError:
        fen = None
    if fen is None and (required or text.strip()):
        raise field_error("amount_fen", t("form.amount"))
    return fen


# A complaint route's function: (complaint_id, body, actions, agent) → its receipt.
Route = Callable[[str, Any, routes.ComplaintActions, User], Awaitable[Any]]


class AgentActions:
    """One action posted from a complaint's page, run as its API route runs it."""

    def __init__(
        self,
        request: Request,
        user: AgentPage,
        session: SessionDep,
        temporal: TemporalDep,
        settings: SettingsDep,
    ) -> None:
        self.request = request
        self.user = user
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.t = translator(locale_for(request, user.locale))

    async def run(
        self,
        complaint_id: str,
        form_name: str,
        form: dict[str, str],
        route: Route,
        body: Callable[[], Any],
    ) -> Response:
        """Build the route's body from the form (`body()` may refuse it) and call the route; then
        back to the complaint (PRG), or, refused, the page again with the form as it was sent."""
        key = await sent_action_key(self.request)
        try:
            actions = routes.ComplaintActions(self.session, self.temporal, self.settings, key or None)
            await route(complaint_id, body(), actions, self.user)
            return see_other(f"/complaints/{complaint_id}")
        except (HTTPException, ValidationError, WorkflowUpdateFailedError) as exc:
            errors, code = refusal_of(exc, self.t)
        form = {**form, ACTION_KEY_FIELD: key}
        return await run_in_threadpool(self._shown_again, complaint_id, form_name, errors, form, code)

    def _shown_again(
        self, complaint_id: str, form_name: str, errors: FormErrors, form: dict[str, str], code: int
    ) -> Response:
        # The action closed the request's session. (No such complaint: showing it is the 404.)
        with self.request.app.state.sessions() as fresh:
            return _complaint_page(
                self.request,
                self.user,
                fresh,
                self.settings,
                complaint_id,
                failed=form_name,
                errors=errors.of_form(form_name),
                form=form,
                code=code,
            )


Acting = Annotated[AgentActions, Depends()]


@router.post("/complaints/{complaint_id}/responses", response_class=HTMLResponse)
async def respond(complaint_id: str, acting: Acting, text: FormText = "") -> Response:
    return await acting.run(
        complaint_id, "respond", {"text": text}, routes.respond, lambda: routes.TextIn(text=text)
    )


@router.post("/complaints/{complaint_id}/questions", response_class=HTMLResponse)
async def ask_customer(complaint_id: str, acting: Acting, text: FormText = "") -> Response:
    return await acting.run(
        complaint_id, "ask", {"text": text}, routes.ask_customer, lambda: routes.TextIn(text=text)
    )


@router.post("/complaints/{complaint_id}/notes", response_class=HTMLResponse)
async def add_note(complaint_id: str, acting: Acting, text: FormText = "") -> Response:
    return await acting.run(
        complaint_id, "note", {"text": text}, routes.add_note, lambda: routes.TextIn(text=text)
    )


@router.post("/complaints/{complaint_id}/transfer", response_class=HTMLResponse)
async def transfer(
    complaint_id: str, acting: Acting, department: FormText = "", reason: FormText = ""
) -> Response:
    return await acting.run(
        complaint_id,
        "transfer",
        {"department": department, "reason": reason},
        routes.transfer,
        lambda: routes.TransferIn(department=department, reason=reason),  # type: ignore[arg-type]
    )


@router.post("/complaints/{complaint_id}/escalation", response_class=HTMLResponse)
async def escalate(complaint_id: str, acting: Acting, reason: FormText = "") -> Response:
    return await acting.run(
        complaint_id, "escalate", {"reason": reason}, routes.escalate, lambda: routes.ReasonIn(reason=reason)
    )


@router.post("/complaints/{complaint_id}/compensations", response_class=HTMLResponse)
async def compensate(
    complaint_id: str,
    acting: Acting,
    kind: FormText = "",
    amount_yuan: FormText = "",
    order_id: FormText = "",
    reason: FormText = "",
) -> Response:
    """A coupon names an amount and no order; a progress reset an order (the select) and no amount."""

    def body() -> routes.CompensationIn:
        coupon = kind == CompensationKind.COUPON.value
        return routes.CompensationIn(
            kind=kind,  # type: ignore[arg-type]
            amount_fen=amount_in_fen(amount_yuan, acting.t, required=True) if coupon else None,
            order_id=None if coupon else order_id or None,
            reason=reason,
        )

    form = {"kind": kind, "amount_yuan": amount_yuan, "order_id": order_id, "reason": reason}
    return await acting.run(complaint_id, "compensate", form, routes.compensate, body)


@router.post("/complaints/{complaint_id}/refund", response_class=HTMLResponse)
async def request_refund(
    complaint_id: str,
    acting: Acting,
    order_id: FormText = "",
    reason: FormText = "",
    amount_yuan: FormText = "",
) -> Response:
    form = {"order_id": order_id, "reason": reason, "amount_yuan": amount_yuan}
    return await acting.run(
        complaint_id,
        "refund",
        form,
        routes.request_refund,
        lambda: routes.RefundAskIn(
            order_id=order_id or None, reason=reason, amount_fen=amount_in_fen(amount_yuan, acting.t)
        ),
    )


def _beijing_time(text: str, t: Callable[..., str]) -> datetime | None:
    """A datetime-local field's value, read as Beijing time (the school's); empty: None (now)."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise field_error("starts_at", t("form.time")) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


@router.post("/complaints/{complaint_id}/video-room", response_class=HTMLResponse)
async def invite_to_video(
    complaint_id: str, acting: Acting, starts_at: FormText = "", note: FormText = ""
) -> Response:
    return await acting.run(
        complaint_id,
        "video",
        {"starts_at": starts_at, "note": note},
        routes.invite_to_video,
        lambda: routes.VideoInvitationIn(starts_at=_beijing_time(starts_at, acting.t), note=note),
    )


@router.post("/complaints/{complaint_id}/resolution", response_class=HTMLResponse)
async def resolve(complaint_id: str, acting: Acting, code: FormText = "", summary: FormText = "") -> Response:
    return await acting.run(
        complaint_id,
        "resolve",
        {"code": code, "summary": summary},
        routes.resolve,
        lambda: routes.ResolutionIn(code=code, summary=summary),  # type: ignore[arg-type]
    )


@router.post("/complaints/{complaint_id}/reopen", response_class=HTMLResponse)
async def reopen(complaint_id: str, acting: Acting, reason: FormText = "") -> Response:
    return await acting.run(
        complaint_id, "reopen", {"reason": reason}, routes.reopen, lambda: routes.ReasonIn(reason=reason)
    )


@router.post("/complaints/{complaint_id}/root-cause", response_class=HTMLResponse)
def tag_root_cause(
    complaint_id: str,
    request: Request,
    user: AgentPage,
    session: SessionDep,
    settings: SettingsDep,
    root_cause: FormText = "",
    clear: FormText = "",
) -> Response:
    """A lead's root-cause tag, or none with the clear button, through the API route's function
    (an agent is refused there: 403). Not a workflow step, so Temporal is never asked."""
    try:
        body = routes.RootCauseIn(root_cause=None if clear else root_cause)
        routes.tag_root_cause(complaint_id, body, session, user)
        return see_other(f"/complaints/{complaint_id}#root-cause")
    except (HTTPException, ValidationError) as exc:
        errors, code = refusal_of(exc, translator(locale_for(request, user.locale)))
    return _complaint_page(
        request,
        user,
        session,
        settings,
        complaint_id,
        failed="tag",
        errors=errors.of_form("tag"),
        form={"root_cause": root_cause},
        code=code,
    )
