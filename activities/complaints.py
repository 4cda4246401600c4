"""Complaint steps into the projection and audit trail, and who in a department takes a complaint."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import col, func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.records import NOTE_LIMIT, commit_step
from activities.review import recipient_of
from db.audit_log import append_event
from db.engine import SessionFactory
from db.models import AuditEvent, Complaint, DepartmentMember, User
from db.refund_intake import RefundRefused, take_in_refund
from domain.complaints import OPEN_STAGES, ComplaintAssignment, ComplaintEvent, Department, RefundIntake
from domain.courses import Gateway
from domain.refunds import RefundRequest
from domain.roles import Role

PROJECTED = (
    "category",
    "severity",
    "department",
    "assigned_to",
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "resolved_at",
    "resolution_code",
    "resolution_summary",
    "satisfied",
    "sla_breached",
)


class ComplaintActivities:
    def __init__(self, session_factory: SessionFactory, gateways: Collection[Gateway] = ()) -> None:
        self.sessions = session_factory
        self.gateways = frozenset(gateways)  # those connected here: a refund goes back the way it came

    @activity.defn(name="take_in_refund")
    def take_in_refund(self, intake: RefundIntake) -> RefundRequest:
        """The student's refund request, judged and committed as the API would take it. A refusal
        (no such order, one in progress, nothing left) is final."""
        with self.sessions() as session:
            student = session.get(User, intake.student_id)
            if student is None:
                raise ApplicationError(
                    f"no student {intake.student_id}", type="RefundRefused", non_retryable=True
                )
            try:
                request = take_in_refund(
                    session=session,
                    student=student,
                    order_id=intake.order_id,
                    reason=intake.reason,
                    requested_fen=intake.requested_fen,
                    gateways=self.gateways,
                )
            except RefundRefused as exc:
                raise ApplicationError(exc.message, type="RefundRefused", non_retryable=True) from exc
        return request.model_copy(update={"sms_quiet_hours": intake.sms_quiet_hours})

    @activity.defn(name="record_complaint_event")
    def record_complaint_event(self, step: ComplaintEvent) -> None:
        """Append the step to the audit trail and move the projection, in one transaction; a step
        already recorded (a retry) changes nothing."""
        with self.sessions() as session:
            if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == step.event_key)).first():
                return
            complaint = session.get(Complaint, step.complaint_id)
            if complaint is None:
                raise ApplicationError(
                    f"complaint {step.complaint_id} is not in the database", type="ComplaintNotFound"
                )
            append_event(
                session,
                AuditEvent(
                    event_key=step.event_key,
                    case_type="complaint",
                    case_id=step.complaint_id,
                    event=step.event,
                    actor=step.actor,
                    from_status=complaint.stage,
                    to_status=step.stage.value,
                    note=step.note[:NOTE_LIMIT],
                    detail=step.detail,
                    at=step.at,
                ),
            )
            complaint.stage = step.stage.value
            complaint.updated_at = step.at
            for field in PROJECTED:
                value = getattr(step, field)
                if value is not None:  # None: unchanged; "" clears (a queue nobody works yet)
                    setattr(complaint, field, getattr(value, "value", value) or None)
            session.add(complaint)
            commit_step(session, f"step {step.event} of complaint {step.complaint_id}")

    @activity.defn(name="assign_complaint")
    def assign_complaint(self, department: Department) -> ComplaintAssignment:
        """The department's member with the fewest open complaints (ties: by id), and a lead."""
        with self.sessions() as session:
            open_load = (
                select(func.count())
                .where(
                    Complaint.assigned_to == User.id,
                    col(Complaint.stage).in_([stage.value for stage in OPEN_STAGES]),
                )
                .correlate(User)
                .scalar_subquery()
            )
            agent = session.exec(
                select(User)
                .join(DepartmentMember, col(DepartmentMember.user_id) == col(User.id))
                .where(DepartmentMember.department == department.value, col(User.is_active))
                .order_by(open_load, col(User.id))
            ).first()
            lead = session.exec(
                select(User).where(User.role == Role.LEAD.value, col(User.is_active)).order_by(col(User.id))
            ).first()
            return ComplaintAssignment(
                department=department,
                agent=recipient_of(agent) if agent else None,
                lead=recipient_of(lead) if lead else None,
            )
