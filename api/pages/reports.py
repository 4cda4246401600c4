"""The reports page: the month's refund report (leads, finance, admins) and complaint report (leads,
admins) with server-drawn charts, their CSV files, and the leads' improvement actions. The figures
come from the same services as /api/reports; the action forms call the API's route functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import RowId, SessionDep
from api.pages import render_page
from api.pages.forms import FormErrors, refusal_of, see_other
from api.pages.i18n import locale_for, translator
from api.pages.session import roles
from api.pages.svg_charts import Bar, Pair, bar_chart, paired_columns
from api.routes import complaint_reports
from api.services.complaint_report import ComplaintReport, complaint_report, complaint_report_csv
from api.services.refund_report import RefundReport, refund_report, refund_report_csv
from api.services.root_causes import REPORT_STAFF
from db.models import User
from domain.complaint_report import ImprovementStatus
from domain.complaints import ComplaintCategory
from domain.money import format_yuan
from domain.report_month import ReportMonth
from domain.roles import REPORT_READERS
from domain.timeutil import utcnow

router = APIRouter(include_in_schema=False)
ReportPage = Annotated[User, Depends(roles(*REPORT_READERS))]
ActionsPage = Annotated[User, Depends(roles(*REPORT_STAFF))]
FormText = Annotated[str, Form()]
ATTAINMENT_GOAL = 90.0  # percent: an SLA attainment below it is drawn in red


def _month_or_this(text: str | None) -> ReportMonth:
    """The month asked for; this month (Beijing) when none is."""
    return ReportMonth.parse(text) if text else ReportMonth.of(utcnow())


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _refund_charts(report: RefundReport, t: Callable[..., str]) -> dict[str, object]:
    by_type = [
        Bar(t(f"course_type.{row.course_type}"), row.requests, str(row.requests))
        for row in report.by_course_type
    ]
    refunded = [
        Bar(t(f"course_type.{row.course_type}"), row.refunded_fen, format_yuan(row.refunded_fen))
        for row in report.by_course_type
    ]
    codes = [
        Bar(t(f"refund_reason.{item.reason}"), item.count, str(item.count))
        for item in report.total.top_reason_codes
    ]
    topics = [
        Bar(t(f"refund_reason.{item.reason}"), item.count, str(item.count))
        for item in report.total.top_reason_topics
    ]
    return {
        "requests_by_type": bar_chart(t("reports.chart.requests_by_type"), by_type),
        "refunded_by_type": bar_chart(t("reports.chart.refunded_by_type"), refunded),
        "reason_codes": bar_chart(t("reports.chart.reason_codes"), codes),
        "reason_topics": bar_chart(t("reports.chart.reason_topics"), topics),
    }


def _category_name(category: ComplaintCategory | None, t: Callable[..., str]) -> str:
    return t(f"category.{category.value}") if category else t("report.untriaged")


def _complaint_charts(report: ComplaintReport, t: Callable[..., str]) -> dict[str, object]:
    rose = {spike.category for spike in report.spikes if spike.kind == "category_rose"}
    pairs = [
        Pair(_category_name(row.category, t), row.complaints, row.last_month, flagged=row.category in rose)
        for row in report.rows
    ]

    def attainment(pick: Callable[..., object]) -> list[Bar]:
        bars = []
        for row in report.rows:
            percent = pick(row).percent  # type: ignore[attr-defined]
            if percent is not None:
                bars.append(
                    Bar(_category_name(row.category, t), percent, _percent(percent), flagged=percent < 90)
                )
        return bars

    return {
        "by_category": paired_columns(
            t("reports.chart.by_category"), pairs, (report.month, report.previous_month)
        ),
        "first_response": bar_chart(
            t("reports.chart.first_response"), attainment(lambda row: row.first_response)
        ),
        "resolution": bar_chart(t("reports.chart.resolution"), attainment(lambda row: row.resolution)),
    }


def _page(
    request: Request,
    user: User,
    session: Session,
    month_text: str | None,
    *,
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    code: int = 200,
) -> Response:
    t = translator(locale_for(request, user.locale))
    try:
        month = _month_or_this(month_text)
    except ValueError as exc:
        month, errors, code = ReportMonth.of(utcnow()), FormErrors(fields={"month": str(exc)}), 422
    refunds = refund_report(session, month=month)
    complaints = complaint_report(session, month=month) if user.role in REPORT_STAFF else None
    return render_page(
        "reports.html.j2",
        code,
        request=request,
        user=user,
        month=str(month),
        previous=str(month.previous()),
        following=str(month.next()),
        refunds=refunds,
        refund_charts=_refund_charts(refunds, t),
        complaints=complaints,
        complaint_charts=_complaint_charts(complaints, t) if complaints else {},
        percent=_percent,
        categories=list(ComplaintCategory),
        statuses=list(ImprovementStatus),
        errors=errors or FormErrors(),
        form=form or {},
    )


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request, user: ReportPage, session: SessionDep, month: str | None = None) -> Response:
    return _page(request, user, session, month)


def _csv(body: str | bytes, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/reports/refunds.csv")
def refunds_csv(user: ReportPage, session: SessionDep, month: str) -> Response:
    report_month = _parsed(month)
    return _csv(refund_report_csv(refund_report(session, month=report_month)), f"refunds-{report_month}.csv")


@router.get("/reports/complaints.csv")
def complaints_csv(request: Request, user: ActionsPage, session: SessionDep, month: str) -> Response:
    report_month = _parsed(month)
    text = complaint_report_csv(
        complaint_report(session, month=report_month), translator(locale_for(request, user.locale))
    )
    return _csv(("\ufeff" + text).encode("utf-8"), f"complaints-{report_month}.csv")


def _parsed(month: str) -> ReportMonth:
    try:
        return ReportMonth.parse(month)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/reports/actions", response_class=HTMLResponse)
def add_action(
    request: Request,
    user: ActionsPage,
    session: SessionDep,
    month: FormText = "",
    category: FormText = "",
    root_cause: FormText = "",
    action: FormText = "",
    owner: FormText = "",
) -> Response:
    form = {"month": month, "category": category, "root_cause": root_cause, "action": action, "owner": owner}
    try:
        body = complaint_reports.ImprovementActionIn.model_validate(
            {**form, "root_cause": root_cause or None, "owner": owner or None}
        )
        complaint_reports.add_improvement_action(body, session, user)
    except (HTTPException, ValidationError) as exc:
        errors, code = refusal_of(exc, translator(locale_for(request, user.locale)))
        return _page(request, user, session, month, errors=errors.of_form("action"), form=form, code=code)
    return see_other(f"/reports?month={body.month}#actions")


@router.post("/reports/actions/{action_id}", response_class=HTMLResponse)
def change_action(
    action_id: RowId,
    request: Request,
    user: ActionsPage,
    session: SessionDep,
    month: FormText = "",
    status: FormText = "",
) -> Response:
    try:
        change = complaint_reports.ImprovementActionChange.model_validate({"status": status})
        complaint_reports.change_improvement_action(action_id, change, session, user)
    except (HTTPException, ValidationError) as exc:
        errors, code = refusal_of(exc, translator(locale_for(request, user.locale)))
        return _page(request, user, session, month, errors=errors, code=code)
    try:
        back = ReportMonth.parse(month)
    except ValueError:
        back = ReportMonth.of(utcnow())
    return see_other(f"/reports?month={back}#actions")
