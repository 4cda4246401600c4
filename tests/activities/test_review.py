"""Routing with the rules migration 0004 ships, and least-loaded assignment, on a real database."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.review import ReviewActivities
from db.engine import SessionFactory
from db.models import User
from domain.courses import CourseType
from domain.refunds import AssignmentRequest
from domain.roles import Role
from tests.factories import join_group, make_order, make_refund, make_user


def ask(sessions: SessionFactory, student: User, course_type: CourseType, amount: int):
    request = AssignmentRequest(
        refund_id="RF-X", student_id=student.id, course_type=course_type, refund_amount_fen=amount
    )
    return ActivityEnvironment().run(ReviewActivities(sessions).assign_reviewer, request)


def test_the_shipped_rules_route_by_vip_course_type_and_amount(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    assert ask(sessions, student, CourseType.TRIAL, 9_900).group_id == "trial-courses"
    regular = ask(sessions, student, CourseType.REGULAR, 199_900)
    assert (regular.group_id, regular.group_label) == ("regular-courses", "系统正价课")  # as staff know it
    assert ask(sessions, student, CourseType.REGULAR, 600_000).group_id == "premium-courses"  # high value
    assert ask(sessions, student, CourseType.PREMIUM, 100).group_id == "premium-courses"
    with sessions() as session:
        vip = session.get(User, student.id)
        assert vip is not None
        vip.is_vip = True
        session.add(vip)
        session.commit()
    assert ask(sessions, student, CourseType.TRIAL, 9_900).group_id == "vip-desk"


def test_the_least_loaded_member_of_the_group_gets_it(sessions: SessionFactory) -> None:
    busy, free = make_user(sessions, Role.REVIEWER), make_user(sessions, Role.REVIEWER)
    for reviewer in (busy, free):
        join_group(sessions, reviewer, "trial-courses")
    student = make_user(sessions, Role.STUDENT)
    for _ in range(2):
        refund = make_refund(sessions, make_order(sessions, student), status="awaiting_review")
        with sessions() as session:
            row = session.get(type(refund), refund.id)
            assert row is not None
            row.assigned_reviewer_id = busy.id
            session.add(row)
            session.commit()
    lead = make_user(sessions, Role.LEAD)
    assignment = ask(sessions, student, CourseType.TRIAL, 9_900)
    assert assignment.reviewer is not None and assignment.reviewer.user_id == free.id
    assert assignment.lead is not None and assignment.lead.user_id <= lead.id  # the first lead by id


def test_a_group_nobody_is_in_gets_no_reviewer(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    assignment = ask(sessions, student, CourseType.PREMIUM, 1_000_000)
    assert (assignment.group_id, assignment.reviewer) == ("premium-courses", None)
