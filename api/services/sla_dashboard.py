"""The lead's SLA dashboard, from the `complaints` projection: per department, how many complaints
are open, how many have breached an SLA, how many are due within the hour, and how many still wait
for their first response past its deadline. Also the one rule for a complaint's next deadline, which
the agent's queue counts down to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, col, select

from db.models import Complaint
from domain.complaints import OPEN_STAGES, ComplaintStage, Department

# Not yet resolved: still being triaged and routed, or being worked on.
UNRESOLVED_STAGES = OPEN_STAGES | {ComplaintStage.RECEIVED, ComplaintStage.TRIAGED}
SOON = timedelta(hours=1)


class DeadlineKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    PAUSED = "paused"  # the student was asked; the resolution clock stands still until they answer


@dataclass(frozen=True)
class NextDeadline:
    kind: DeadlineKind
    due_at: datetime | None  # None while paused, or before triage set the deadlines

    def overdue(self, now: datetime) -> bool:
        return self.kind is not DeadlineKind.PAUSED and self.due_at is not None and self.due_at < now


def next_deadline(complaint: Complaint) -> NextDeadline | None:
    """The first response until someone answered, then the resolution; None once resolved."""
    if complaint.stage not in UNRESOLVED_STAGES:
        return None
    if complaint.first_responded_at is None:
        return NextDeadline(DeadlineKind.FIRST_RESPONSE, complaint.first_response_due_at)
    if complaint.stage == ComplaintStage.AWAITING_CUSTOMER.value:
        return NextDeadline(DeadlineKind.PAUSED, None)
    return NextDeadline(DeadlineKind.RESOLUTION, complaint.resolution_due_at)


@dataclass(frozen=True)
class DepartmentSla:
    department: Department | None  # None: not routed yet
    open: int
    breached: int  # the workflow has recorded a breach (it knows about pauses and working hours)
    due_within_hour: int  # the next deadline falls in the coming hour
    first_response_overdue: int  # nobody has answered, and the first-response deadline has passed


def sla_dashboard(session: Session, *, now: datetime) -> list[DepartmentSla]:
    """Every department (with zeros too), then the complaints not routed yet if there are any."""
    unanswered = col(Complaint.first_responded_at).is_(None)
    soon = now + SOON
    due_soon = or_(
        and_(
            unanswered,
            col(Complaint.first_response_due_at) > now,
            col(Complaint.first_response_due_at) <= soon,
        ),
        and_(
            ~unanswered,
            Complaint.stage != ComplaintStage.AWAITING_CUSTOMER.value,
            col(Complaint.resolution_due_at) > now,
            col(Complaint.resolution_due_at) <= soon,
        ),
    )
    first_overdue = and_(unanswered, col(Complaint.first_response_due_at) <= now)
    rows = session.exec(
        select(
            Complaint.department,
            func.count(),
            func.sum(case((col(Complaint.sla_breached), 1), else_=0)),
            func.sum(case((due_soon, 1), else_=0)),
            func.sum(case((first_overdue, 1), else_=0)),
        )
        .where(col(Complaint.stage).in_([stage.value for stage in UNRESOLVED_STAGES]))
        .group_by(Complaint.department)
    ).all()
    counted = {department: tuple(int(n or 0) for n in counts) for department, *counts in rows}
    departments: list[Department | None] = list(Department)
    if None in counted:
        departments.append(None)
    return [
        DepartmentSla(department, *counted.get(department.value if department else None, (0, 0, 0, 0)))
        for department in departments
    ]
