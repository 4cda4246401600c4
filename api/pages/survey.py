"""The follow-up survey by its link (in the follow-up notice): answered without signing in, because
the link carries an HMAC of the complaint id — a WeChat-only customer has no password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages import render_page
from api.pages.forms import FormErrors, errors_of
from api.pages.session import ForeignOrigin, same_origin
from api.services.complaints import survey_token
from api.services.workflow_calls import execute_update
from db.models import Complaint
from domain.complaints import ComplaintStage, SurveyAnswer
from domain.secret_compare import same_secret
from settings import Settings
from workflows.complaint import ComplaintWorkflow

router = APIRouter(include_in_schema=False)


def _complaint(session, settings: Settings, complaint_id: str, token: str) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or not same_secret(token, survey_token(settings, complaint_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such survey")
    return complaint


def _page(
    request: Request, complaint: Complaint, token: str, errors: FormErrors, code: int = 200
) -> Response:
    return render_page(
        "survey.html.j2",
        code,
        request=request,
        complaint=complaint,
        token=token,
        asking=complaint.stage == ComplaintStage.FOLLOW_UP.value and complaint.satisfied is None,
        errors=errors,
    )


@router.get("/survey/{complaint_id}", response_class=HTMLResponse)
def survey(
    complaint_id: str, request: Request, session: SessionDep, settings: SettingsDep, t: str = ""
) -> Response:
    return _page(request, _complaint(session, settings, complaint_id, t), t, FormErrors())


@router.post("/survey/{complaint_id}", response_class=HTMLResponse)
async def answer(
    complaint_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    t: Annotated[str, Form()] = "",
    satisfied: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    if not same_origin(request):
        raise ForeignOrigin()
    complaint = _complaint(session, settings, complaint_id, t)
    session.close()  # hold no database connection while waiting on Temporal
    errors = FormErrors()
    if satisfied not in ("yes", "no"):
        errors.fields["satisfied"] = "请选择 / choose one"
    else:
        try:
            await execute_update(
                temporal=temporal,
                settings=settings,
                run=ComplaintWorkflow.run,
                workflow_id=complaint.workflow_id,
                update=ComplaintWorkflow.answer_survey,
                argument=SurveyAnswer(satisfied=satisfied == "yes", comment=comment[:1000]),
                finished=lambda: HTTPException(
                    status.HTTP_409_CONFLICT, "这次回访已经结束 / this survey has closed"
                ),
            )
        except HTTPException as exc:
            errors = errors_of(exc)
    with request.app.state.sessions() as fresh:
        complaint = fresh.get(Complaint, complaint_id)
        assert complaint is not None
        code = 200 if not errors else (422 if errors.fields else 409)
        return _page(request, complaint, t, errors, code)
