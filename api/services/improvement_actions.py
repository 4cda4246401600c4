"""What the school will do about a month's complaints of a category (the report's last column):
leads and admins write the actions and edit their text, owner and status. Each action has its own
audit chain (case_type "improvement_action"): created, then every change with before and after."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from fastapi import status as http_status
from sqlmodel import Session, col, select

from api.services.audit import audit_staff_change, commit_audited
from api.services.root_causes import require_report_staff
from db.models import ImprovementAction, User
from domain.complaint_report import ImprovementStatus, root_cause_display
from domain.complaints import ComplaintCategory
from domain.report_month import ReportMonth
from domain.timeutil import utcnow

CASE_TYPE = "improvement_action"
# What an edit may change; the month and the category are what the action answers, so they stay.
EDITABLE = ("action", "owner", "status", "root_cause")


def list_actions(
    session: Session, *, month: ReportMonth, category: ComplaintCategory | None = None
) -> list[ImprovementAction]:
    """The month's actions in category order, then as they were written."""
    query = select(ImprovementAction).where(ImprovementAction.month == str(month))
    if category is not None:
        query = query.where(ImprovementAction.category == category.value)
    return list(session.exec(query.order_by(col(ImprovementAction.category), col(ImprovementAction.id))))


def _recorded(row: ImprovementAction) -> dict[str, Any]:
    return row.model_dump(mode="json", include={"month", "category", *EDITABLE})


def _cleaned(field: str, value: Any) -> Any:
    """Text trimmed (empty: None), a tag in its display form, a status checked."""
    if value is None:
        return None
    if field == "status":
        return ImprovementStatus(value).value
    if field == "root_cause":
        return root_cause_display(value) or None
    return value.strip() or None


def add_action(
    session: Session,
    *,
    lead: User,
    month: ReportMonth,
    category: ComplaintCategory,
    action: str,
    root_cause: str | None = None,
    owner: str | None = None,
    status: ImprovementStatus = ImprovementStatus.PLANNED,
) -> ImprovementAction:
    require_report_staff(lead)

    def write() -> ImprovementAction:
        now = utcnow()
        row = ImprovementAction(
            month=str(month),
            category=category.value,
            root_cause=_cleaned("root_cause", root_cause),
            action=_cleaned("action", action),
            owner=_cleaned("owner", owner),
            status=status.value,
            created_by=lead.id,
            created_at=now,
            updated_by=lead.id,
            updated_at=now,
        )
        session.add(row)
        session.flush()  # its id names its audit chain
        audit_staff_change(
            session,
            lead,
            case_type=CASE_TYPE,
            case_id=str(row.id),
            event="improvement_action.created",
            what="created",
            note=row.action,
            detail={"after": _recorded(row)},
        )
        return row

    return commit_audited(session, write)


def change_action(
    session: Session, *, lead: User, action_id: int, changes: dict[str, Any]
) -> ImprovementAction:
    """Apply the given fields of EDITABLE (None clears owner or root cause; the route refuses a
    None action or status). Nothing that differs: nothing recorded."""
    require_report_staff(lead)
    wanted = {field: _cleaned(field, value) for field, value in changes.items() if field in EDITABLE}

    def write() -> ImprovementAction:
        row = session.get(ImprovementAction, action_id)
        if row is None:
            raise HTTPException(http_status.HTTP_404_NOT_FOUND, f"no improvement action {action_id}")
        before = _recorded(row)
        for field, value in wanted.items():
            setattr(row, field, value)
        after = _recorded(row)
        if after == before:
            return row
        row.updated_by, row.updated_at = lead.id, utcnow()
        session.add(row)
        audit_staff_change(
            session,
            lead,
            case_type=CASE_TYPE,
            case_id=str(row.id),
            event="improvement_action.changed",
            what="changed",
            note=row.action,
            detail={"before": before, "after": after},
        )
        return row

    return commit_audited(session, write)
