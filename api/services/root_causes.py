"""A lead tags what lay behind a complaint ("app crashes on Huawei P30"): its root cause, for the
monthly report's main root causes and repeated-root-cause spikes.

Not a workflow step: the tag describes the complaint rather than moving it, so it is written
straight to the projection (an archived complaint can still be tagged), with an audit event on
the complaint's own chain — internal, students never see it (domain.complaints.INTERNAL_EVENTS)."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlmodel import Session, col, func, select

from api.services.audit import audit_staff_change, commit_audited
from db.models import Complaint, User
from domain.complaint_report import RootCauseTally, root_cause_display, tally_root_causes
from domain.complaints import ROOT_CAUSE_CLEARED, ROOT_CAUSE_TAGGED, ComplaintCategory
from domain.report_month import ReportMonth
from domain.roles import Role
from domain.timeutil import utcnow

# Who tag root causes, keep the improvement actions and read the monthly report.
REPORT_STAFF = frozenset({Role.LEAD, Role.ADMIN})


def require_report_staff(user: User) -> None:
    if Role(user.role) not in REPORT_STAFF:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this needs one of the roles: {', '.join(sorted(role.value for role in REPORT_STAFF))}",
        )


def tag_root_cause(session: Session, *, lead: User, complaint_id: str, root_cause: str | None) -> Complaint:
    """Set the complaint's root cause (kept in its display form, domain.complaint_report), or clear
    it with None. Setting the tag it already has changes nothing and records nothing."""
    require_report_staff(lead)
    tag = root_cause_display(root_cause) if root_cause is not None else None

    def write() -> Complaint:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no complaint {complaint_id}")
        before = complaint.root_cause
        if before == tag:
            return complaint
        complaint.root_cause = tag
        # Who set the tag there is, and when; a cleared tag has neither (the audit trail keeps both).
        complaint.root_cause_by = lead.id if tag else None
        complaint.root_cause_at = utcnow() if tag else None
        session.add(complaint)
        audit_staff_change(
            session,
            lead,
            case_type="complaint",
            case_id=complaint.id,
            event=ROOT_CAUSE_TAGGED if tag else ROOT_CAUSE_CLEARED,
            what="root_cause",
            note=tag or "",
            detail={"before": before, "after": tag},
        )
        return complaint

    return commit_audited(session, write)


def month_root_causes(session: Session, *, month: ReportMonth) -> list[RootCauseTally]:
    """The month's tags (complaints received in it), one per root cause however it was spelled,
    the most frequent first. Counted in SQL per stored spelling: as many rows as distinct tags."""
    rows = session.exec(
        select(Complaint.category, Complaint.root_cause, func.count())
        .where(
            col(Complaint.received_at) >= month.start,
            col(Complaint.received_at) < month.end,
            col(Complaint.root_cause).is_not(None),
        )
        .group_by(col(Complaint.category), col(Complaint.root_cause))
    ).all()
    return tally_root_causes(
        (ComplaintCategory(category) if category else None, spelling, int(complaints))
        for category, spelling, complaints in rows
        if spelling is not None
    )
