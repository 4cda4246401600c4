"""The student portal: orders, a refund with the policy's quote shown before it is asked for, the
complaint form with the promised response times, the inbox, and a timeline for each request. Every
page calls the same services (and so the same rules) as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowUpdateFailedError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages import render_page
from api.pages.forms import (
    ACTION_KEY_FIELD,
    FormErrors,
    errors_of,
    fen_of_yuan,
    new_action_key,
    refusal_of,
    see_other,
    sent_action_key,
)
from api.pages.i18n import locale_for, translator
from api.pages.session import StudentPage
from api.routes.case_views import case_history
from api.routes.complaints import ComplaintIn
from api.routes.me import inbox, mark_read, my_orders
from api.routes.refunds import QuoteIn, RefundIn, quote_refund
from api.services import complaints as complaint_service
from api.services import refunds as refund_service
from api.services.intake import take_message
from db.sla_store import sla_terms
from domain.complaints import (
    INTERNAL_EVENTS,
    OPEN_STAGES,
    ComplaintCategory,
    CustomerMessage,
    IntakeChannel,
    SurveyAnswer,
)
from domain.refund_reasons import RefundReasonCode
from workflows.complaint import ComplaintWorkflow

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]


@router.get("/my/orders", response_class=HTMLResponse)
def orders_page(request: Request, user: StudentPage, session: SessionDep) -> Response:
    return render_page("student_orders.html.j2", request=request, user=user, orders=my_orders(user, session))


def _quote_or_errors(session, user, order_id: str, amount_fen: int | None):
    try:
        asked = QuoteIn(order_id=order_id, amount_fen=amount_fen)
    except ValidationError as exc:  # no order has an id like that (too long, say): none of theirs
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such order of yours") from exc
    try:
        return quote_refund(asked, session, user), FormErrors()
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        return None, errors_of(exc)


@router.get("/my/orders/{order_id}/refund", response_class=HTMLResponse)
def refund_form(order_id: str, request: Request, user: StudentPage, session: SessionDep) -> Response:
    quote, errors = _quote_or_errors(session, user, order_id, None)
    return render_page(
        "student_refund_new.html.j2",
        request=request,
        user=user,
        quote=quote,
        errors=errors,
        form={},
        reason_codes=list(RefundReasonCode),
    )


@router.post("/my/orders/{order_id}/refund", response_class=HTMLResponse)
async def ask_for_refund(
    order_id: str,
    request: Request,
    user: StudentPage,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    reason: FormText = "",
    reason_code: FormText = "",
    amount_yuan: FormText = "",
) -> Response:
    form = {"reason": reason, "reason_code": reason_code, "amount_yuan": amount_yuan}
    errors = FormErrors()
    amount_fen = None
    try:
        amount_fen = fen_of_yuan(amount_yuan)
    except ValueError:
        errors.fields["amount_fen"] = "请输入大于 0 的金额 / enter an amount above 0"
    picked_code = None
    if reason_code:
        try:
            picked_code = RefundReasonCode(reason_code)
        except ValueError:
            errors.fields["reason_code"] = "请从列表中选择 / choose one from the list"
    if not reason.strip():
        errors.fields["reason"] = "请填写退款原因 / say why"
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if not errors:
        try:  # the API's own checks (length, control characters), as POST /api/refunds makes them
            asked = RefundIn(
                order_id=order_id, reason=reason.strip(), reason_code=picked_code, amount_fen=amount_fen
            )
        except ValidationError as exc:
            errors = errors_of(exc)
    if not errors:
        try:
            accepted = await refund_service.request_refund(
                session=session,
                temporal=temporal,
                settings=settings,
                student=user,
                order_id=asked.order_id,
                reason=asked.reason,
                reason_code=asked.reason_code,
                requested_fen=asked.amount_fen,
                gateways=request.app.state.gateways,
            )
            return see_other(f"/my/refunds/{accepted.refund_id}")
        except refund_service.RefundUnderWay as exc:
            # Asked twice (a double click, or again after no answer): the order's one refund.
            return see_other(f"/my/refunds/{exc.refund_id}?asked_again=1")
        except HTTPException as exc:
            if exc.status_code == status.HTTP_404_NOT_FOUND:
                raise
            errors, code = refusal_of(exc, translator(locale_for(request, user.locale)))
    quote, _ = await run_in_threadpool(_quote_or_errors, session, user, order_id, None)
    return render_page(
        "student_refund_new.html.j2",
        code,
        request=request,
        user=user,
        quote=quote,
        errors=errors,
        form=form,
        reason_codes=list(RefundReasonCode),
    )


@router.get("/my/refunds", response_class=HTMLResponse)
def refunds_page(request: Request, user: StudentPage, session: SessionDep) -> Response:
    refunds = refund_service.list_refunds(session=session, user=user, status_filter=None, limit=100, offset=0)
    return render_page("student_refunds.html.j2", request=request, user=user, refunds=refunds)


@router.get("/my/refunds/{refund_id}", response_class=HTMLResponse)
def refund_page(refund_id: str, request: Request, user: StudentPage, session: SessionDep) -> Response:
    refund = refund_service.readable_refund(session=session, user=user, refund_id=refund_id)
    timeline, notices = case_history(session=session, user=user, case_type="refund", case_id=refund.id)
    return render_page(
        "student_refund.html.j2",
        request=request,
        user=user,
        refund=refund,
        timeline=timeline,
        notices=notices,
        # Sent here by asking again; said only while the refund is still under way.
        asked_again=request.query_params.get("asked_again") == "1" and refund.active_order_id is not None,
    )


def _complaint_form(request, user, session, *, errors: FormErrors, form: dict, code: int = 200) -> Response:
    return render_page(
        "student_complaint_new.html.j2",
        code,
        request=request,
        user=user,
        sla=sla_terms(session),
        categories=list(ComplaintCategory),
        orders=my_orders(user, session),
        errors=errors,
        form=form,
        action_key=form.get(ACTION_KEY_FIELD) or new_action_key(),
    )


@router.get("/my/complaints/new", response_class=HTMLResponse)
def complaint_form(request: Request, user: StudentPage, session: SessionDep, order: str = "") -> Response:
    return _complaint_form(request, user, session, errors=FormErrors(), form={"order_id": order})


@router.post("/my/complaints/new", response_class=HTMLResponse)
async def file_complaint(
    request: Request,
    user: StudentPage,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    text: FormText = "",
    order_id: FormText = "",
) -> Response:
    """File the complaint; the form's key makes it one complaint however often the form is sent (a
    double click, or again after no answer): it is the web form's delivery id, so the same form sent
    again goes to the complaint it filed, as a channel's redelivery does."""
    key = await sent_action_key(request) or new_action_key()
    form = {"text": text, "order_id": order_id, ACTION_KEY_FIELD: key}
    errors, code = FormErrors(), status.HTTP_422_UNPROCESSABLE_CONTENT
    if len(text.strip()) < 5:
        errors.fields["text"] = "请至少写 5 个字，说清楚遇到的问题 / at least 5 characters, please"
    if not errors:
        try:  # the API's own checks (length, control characters), as POST /api/complaints makes them
            asked = ComplaintIn(text=text.strip(), order_id=order_id or None)
        except ValidationError as exc:
            errors = errors_of(exc)
    if not errors:
        try:
            taken = await take_message(
                session=session,
                temporal=temporal,
                settings=settings,
                channel=IntakeChannel.WEB_FORM,
                delivery_id=f"{user.id}:{key}",
                customer=user,
                filer=user,
                text=asked.text,
                order_id=asked.order_id,
            )
            return see_other(f"/my/complaints/{taken.complaint_id}")
        except HTTPException as exc:
            errors, code = refusal_of(exc, translator(locale_for(request, user.locale)))
    return await run_in_threadpool(
        lambda: _complaint_form(request, user, session, errors=errors, form=form, code=code)
    )


@router.get("/my/complaints", response_class=HTMLResponse)
def complaints_page(request: Request, user: StudentPage, session: SessionDep) -> Response:
    complaints = complaint_service.list_complaints(
        session=session, user=user, stage=None, limit=100, offset=0
    )
    return render_page("student_complaints.html.j2", request=request, user=user, complaints=complaints)


def _complaint_page(
    request, user, session, complaint_id: str, errors: FormErrors, code: int = 200, form: dict | None = None
) -> Response:
    """The complaint's page; after a refusal, `form` is what was sent, its action key with it."""
    form = form or {}
    complaint = complaint_service.readable_complaint(session=session, user=user, complaint_id=complaint_id)
    timeline, notices = case_history(
        session=session,
        user=user,
        case_type="complaint",
        case_id=complaint.id,
        internal_events=INTERNAL_EVENTS,
    )
    return render_page(
        "student_complaint.html.j2",
        code,
        request=request,
        user=user,
        complaint=complaint,
        timeline=timeline,
        notices=notices,
        errors=errors,
        form=form,
        action_key=form.get(ACTION_KEY_FIELD) or new_action_key(),
        open_stages={stage.value for stage in OPEN_STAGES},
    )


@router.get("/my/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint_page(complaint_id: str, request: Request, user: StudentPage, session: SessionDep) -> Response:
    return _complaint_page(request, user, session, complaint_id, FormErrors())


@router.post("/my/complaints/{complaint_id}/messages", response_class=HTMLResponse)
async def add_to_complaint(
    complaint_id: str,
    request: Request,
    user: StudentPage,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    text: FormText = "",
) -> Response:
    return await _act(
        request,
        user,
        session,
        temporal,
        settings,
        complaint_id,
        ComplaintWorkflow.customer_message,
        lambda: CustomerMessage(text=text),
        {"text": text},
    )


@router.post("/my/complaints/{complaint_id}/survey", response_class=HTMLResponse)
async def answer_survey(
    complaint_id: str,
    request: Request,
    user: StudentPage,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    satisfied: FormText = "",
    comment: FormText = "",
) -> Response:
    return await _act(
        request,
        user,
        session,
        temporal,
        settings,
        complaint_id,
        ComplaintWorkflow.answer_survey,
        lambda: SurveyAnswer(satisfied=satisfied == "yes", comment=comment),
        {"satisfied": satisfied, "comment": comment},
    )


async def _act(
    request, user, session, temporal, settings, complaint_id, update, argument, form: dict[str, str]
) -> Response:
    """Run one of the complaint's updates for the student; a refusal is shown on the page, with what
    was sent and its action key (sent again after a 503, the action is taken once)."""
    key = await sent_action_key(request)
    try:
        await complaint_service.act_on_complaint(
            session=session,
            temporal=temporal,
            settings=settings,
            user=user,
            complaint_id=complaint_id,
            update=update,
            argument=argument(),
            idempotency_key=key or None,
        )
        return see_other(f"/my/complaints/{complaint_id}")
    except (HTTPException, ValidationError, WorkflowUpdateFailedError) as exc:
        if isinstance(exc, HTTPException) and exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        errors, code = refusal_of(exc, translator(locale_for(request, user.locale)))

    def shown_again() -> Response:
        with request.app.state.sessions() as fresh:  # the action closed the request's session
            return _complaint_page(
                request, user, fresh, complaint_id, errors, code, {**form, ACTION_KEY_FIELD: key}
            )

    return await run_in_threadpool(shown_again)


@router.get("/my/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, user: StudentPage, session: SessionDep) -> Response:
    return render_page(
        "student_inbox.html.j2", request=request, user=user, inbox=inbox(user, session, 100, 0)
    )


@router.post("/my/inbox/{message_id}/read")
def read_message(message_id: str, user: StudentPage, session: SessionDep) -> Response:
    mark_read(message_id, user, session)
    return see_other("/my/inbox")
