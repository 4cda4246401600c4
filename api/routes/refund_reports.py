"""Monthly reports for leads, finance and admins. The refund report's figures and their definitions
are in api/services/refund_report.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from api.deps import ReportMonthDep as MonthDep
from api.deps import SessionDep, require_roles
from api.errors import refusals
from api.services.refund_report import RefundReport, refund_report, refund_report_csv
from db.models import User
from domain.roles import REPORT_READERS

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=refusals(401, 403))
# Declared before the month, so a caller without the role learns that first (403, not 422).
ReportReader = Annotated[User, Depends(require_roles(*REPORT_READERS))]


@router.get("/refunds", response_model=RefundReport)
def get_refund_report(_reader: ReportReader, month: MonthDep, session: SessionDep) -> RefundReport:
    """The month's refunds by course and course type; `definitions` says what each figure counts."""
    return refund_report(session, month=month)


@router.get("/refunds.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_refund_report_csv(_reader: ReportReader, month: MonthDep, session: SessionDep) -> Response:
    """The same report as a spreadsheet (UTF-8 with BOM, money in yuan), one row per course and per
    course type, then the total."""
    report = refund_report(session, month=month)
    return Response(
        refund_report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="refunds-{month}.csv"'},
    )
