"""The reviewer's queue, soonest review deadline first, and each refund's page: the order, the
policy it was judged by, the student's history, and the decision with a common reason or one's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages import render_page
from api.pages.forms import FormErrors, errors_of, see_other
from api.pages.session import ReviewerPage
from api.routes.case_views import case_history
from api.routes.customers import customer_history
from api.services import refunds as service
from api.services.decision_reasons import offered
from db.models import User
from domain.refunds import Decision, RefundStatus, ReviewDecision

router = APIRouter(include_in_schema=False)


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, user: ReviewerPage, session: SessionDep) -> Response:
    waiting = service.list_refunds(
        session=session, user=user, status_filter=RefundStatus.AWAITING_REVIEW, limit=200, offset=0
    )
    return render_page("review_queue.html.j2", request=request, user=user, refunds=waiting)


def _refund_page(
    request: Request,
    user: User,
    session,
    refund_id: str,
    errors: FormErrors,
    form: dict,
    code=200,
    recording: bool = False,
):
    refund = service.readable_refund(session=session, user=user, refund_id=refund_id)
    timeline, _notices = case_history(session=session, user=user, case_type="refund", case_id=refund.id)
    return render_page(
        "review_refund.html.j2",
        code,
        request=request,
        user=user,
        refund=refund,
        timeline=timeline,
        history=customer_history(refund.student_id, session, user),
        may_decide=refund.status == RefundStatus.AWAITING_REVIEW.value
        and service.may_decide(session, user=user, refund=refund),
        reasons=offered(session),
        errors=errors,
        form=form,
        recording=recording,
    )


@router.get("/review/{refund_id}", response_class=HTMLResponse)
def refund_page(
    refund_id: str, request: Request, user: ReviewerPage, session: SessionDep, recording: bool = False
) -> Response:
    """`recording`: the reviewer's decision was taken and is being recorded behind a backlog."""
    return _refund_page(request, user, session, refund_id, FormErrors(), {}, recording=recording)


@router.post("/review/{refund_id}", response_class=HTMLResponse)
async def decide(
    refund_id: str,
    request: Request,
    user: ReviewerPage,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    decision: Annotated[str, Form()] = "",
    preset: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The reason the student reads: the common one chosen, then the reviewer's own words."""
    form = {"decision": decision, "preset": preset, "reason": reason}
    text = "；".join(part.strip() for part in (preset, reason) if part.strip())
    try:
        receipt = await service.decide_refund(
            session=session,
            temporal=temporal,
            settings=settings,
            reviewer=user,
            refund_id=refund_id,
            decision=ReviewDecision(
                decision=Decision(decision) if decision in {d.value for d in Decision} else None,
                reason=text,
                reviewer_id=user.id,
                reviewer_name=user.display_name,
            ),
        )
        return see_other(f"/review/{refund_id}" + ("?recording=true" if receipt.being_recorded else ""))
    except (HTTPException, ValidationError) as exc:
        if isinstance(exc, HTTPException) and exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        errors = errors_of(exc)
    with request.app.state.sessions() as fresh:  # the decision closed the request's session
        return _refund_page(request, user, fresh, refund_id, errors, form, 422 if errors.fields else 409)
