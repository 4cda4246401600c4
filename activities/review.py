"""Routes a refund to a reviewer group and picks the reviewer (domain/routing.py decides)."""

from __future__ import annotations

from sqlmodel import Session, col, func, select
from temporalio import activity

from db.engine import SessionFactory
from db.models import Refund, ReviewerGroup, ReviewerGroupMember, RoutingRuleRow, User
from domain.courses import CourseType
from domain.notifications import Recipient
from domain.refunds import Assignment, AssignmentRequest, RefundStatus
from domain.roles import Role
from domain.routing import ReviewerLoad, RoutingRule, pick_reviewer, route


def recipient_of(user: User) -> Recipient:
    return Recipient(
        user_id=user.id, name=user.display_name, email=user.email, phone=user.phone, locale=user.locale
    )


class ReviewActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self.sessions = session_factory

    @activity.defn(name="assign_reviewer")
    def assign_reviewer(self, request: AssignmentRequest) -> Assignment:
        with self.sessions() as session:
            student = session.get(User, request.student_id)
            rules = [
                RoutingRule(
                    priority=row.priority,
                    group_id=row.group_id,
                    course_type=CourseType(row.course_type) if row.course_type else None,
                    min_amount_fen=row.min_amount_fen,
                    vip_only=row.vip_only,
                )
                for row in session.exec(select(RoutingRuleRow))
            ]
            group_id = route(
                rules,
                course_type=request.course_type,
                refund_amount_fen=request.refund_amount_fen,
                vip=bool(student and student.is_vip),
            )
            reviewer_id = pick_reviewer(self._loads(session, group_id)) if group_id else None
            reviewer = session.get(User, reviewer_id) if reviewer_id else None
            lead = session.exec(
                select(User).where(User.role == Role.LEAD.value, col(User.is_active)).order_by(User.id)
            ).first()
            group = session.get(ReviewerGroup, group_id) if group_id else None
            return Assignment(
                group_id=group_id,
                group_name=group.name if group else None,
                reviewer=recipient_of(reviewer) if reviewer else None,
                lead=recipient_of(lead) if lead else None,
            )

    @staticmethod
    def _loads(session: Session, group_id: str) -> list[ReviewerLoad]:
        members = session.exec(
            select(User)
            .join(ReviewerGroupMember, col(ReviewerGroupMember.user_id) == col(User.id))
            .where(
                ReviewerGroupMember.group_id == group_id,
                User.role == Role.REVIEWER.value,
                col(User.is_active),
            )
        ).all()
        loads = []
        for member in members:
            awaiting, last = session.exec(
                select(
                    func.count().filter(Refund.status == RefundStatus.AWAITING_REVIEW.value),
                    func.max(Refund.assigned_at),
                ).where(Refund.assigned_reviewer_id == member.id)
            ).one()
            loads.append(ReviewerLoad(reviewer_id=member.id, awaiting=awaiting or 0, last_assigned_at=last))
        return loads
