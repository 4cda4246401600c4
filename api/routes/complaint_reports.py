"""The monthly complaint report (JSON and CSV), the month's root-cause tags, and the improvement
actions leads write for it. Leads and admins only. Every figure is defined in
api/services/complaint_report.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, Field, field_validator

from api.deps import ReportMonthDep as Month
from api.deps import RowId, SessionDep, require_roles
from api.errors import refusals
from api.pages.i18n import locale_for, translator
from api.services import improvement_actions as actions_service
from api.services.complaint_report import (
    CategoryCount,
    ComplaintReport,
    ImprovementActionOut,
    complaint_report,
    complaint_report_csv,
)
from api.services.root_causes import REPORT_STAFF, month_root_causes
from db.models import User
from domain.complaint_report import ImprovementStatus, RootCauseText
from domain.complaints import ComplaintCategory
from domain.report_month import ReportMonth
from domain.text import NO_CONTROL_CHARACTERS

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=refusals(401, 403))
ReportStaff = Annotated[User, Depends(require_roles(*REPORT_STAFF))]


@router.get("/complaints", response_model=ComplaintReport)
def get_complaint_report(month: Month, session: SessionDep, _user: ReportStaff) -> ComplaintReport:
    return complaint_report(session, month=month)


@router.get("/complaints.csv", response_class=Response)
def get_complaint_report_csv(
    month: Month, request: Request, session: SessionDep, user: ReportStaff
) -> Response:
    """The same report for a spreadsheet, in the reader's language (?lang=zh-CN|en): UTF-8 with a
    byte-order mark, which Excel needs to read Chinese."""
    text = complaint_report_csv(
        complaint_report(session, month=month), translator(locale_for(request, user.locale))
    )
    return Response(
        ("\ufeff" + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="complaints-{month}.csv"'},
    )


class RootCauseOut(BaseModel):
    root_cause: str  # its most used spelling
    complaints: int
    categories: list[CategoryCount]


@router.get("/complaints/root-causes", response_model=list[RootCauseOut])
def get_root_causes(month: Month, session: SessionDep, _user: ReportStaff) -> list[RootCauseOut]:
    """The month's tags with their counts, most frequent first: what a lead picks from to tag
    the same cause the same way."""
    return [
        RootCauseOut(
            root_cause=tally.root_cause,
            complaints=tally.complaints,
            categories=[CategoryCount(category=c, complaints=n) for c, n in tally.where()],
        )
        for tally in month_root_causes(session, month=month)
    ]


def _trimmed(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# Trimmed before the lengths are checked (a BeforeValidator runs first wherever it stands): spaces
# alone are no action. The Field stays ahead of both validators, or its lengths are said in "items".
ActionText = Annotated[
    str, Field(min_length=1, max_length=1000), BeforeValidator(_trimmed), NO_CONTROL_CHARACTERS
]
OwnerText = Annotated[str, Field(max_length=100), BeforeValidator(_trimmed), NO_CONTROL_CHARACTERS]


class ImprovementActionIn(BaseModel):
    month: Annotated[str, Field(max_length=20, examples=["2026-03"])]
    category: ComplaintCategory
    root_cause: RootCauseText | None = None
    action: ActionText
    owner: OwnerText | None = None
    status: ImprovementStatus = ImprovementStatus.PLANNED

    @field_validator("month")
    @classmethod
    def _a_report_month(cls, month: str) -> str:
        return str(ReportMonth.parse(month))


class ImprovementActionChange(BaseModel):
    """Only the fields given change; null clears the owner or the root cause."""

    action: ActionText | None = None
    owner: OwnerText | None = None
    status: ImprovementStatus | None = None
    root_cause: RootCauseText | None = None

    @field_validator("action", "status")
    @classmethod
    def _not_cleared(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be cleared; give a new value or leave it out")
        return value


@router.get("/complaints/actions", response_model=list[ImprovementActionOut])
def list_improvement_actions(
    month: Month, session: SessionDep, _user: ReportStaff, category: ComplaintCategory | None = None
) -> list[ImprovementActionOut]:
    return [
        ImprovementActionOut.of(row)
        for row in actions_service.list_actions(session, month=month, category=category)
    ]


# Both writes are chained in the audit trail: 503 when other writers keep the chain busy.
@router.post(
    "/complaints/actions",
    response_model=ImprovementActionOut,
    status_code=status.HTTP_201_CREATED,
    responses=refusals(503),
)
def add_improvement_action(
    body: ImprovementActionIn, session: SessionDep, lead: ReportStaff
) -> ImprovementActionOut:
    row = actions_service.add_action(
        session,
        lead=lead,
        month=ReportMonth.parse(body.month),
        category=body.category,
        root_cause=body.root_cause,
        action=body.action,
        owner=body.owner,
        status=body.status,
    )
    return ImprovementActionOut.of(row)


@router.put(
    "/complaints/actions/{action_id}", response_model=ImprovementActionOut, responses=refusals(404, 503)
)
def change_improvement_action(
    action_id: RowId, body: ImprovementActionChange, session: SessionDep, lead: ReportStaff
) -> ImprovementActionOut:
    row = actions_service.change_action(
        session, lead=lead, action_id=action_id, changes=body.model_dump(exclude_unset=True)
    )
    return ImprovementActionOut.of(row)
