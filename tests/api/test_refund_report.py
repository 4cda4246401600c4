"""The monthly refund report against figures worked out by hand from a small school: three course
types, refunds in every state, and rows on both sides of the months' edges in Beijing time.

March 2026 in Beijing time is [2026-02-28 16:00, 2026-03-31 16:00) in UTC. Each expected figure is
written out below as a literal, with the arithmetic that gives it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from db.engine import SessionFactory
from db.models import Course, Order, Refund, User
from domain.courses import CourseType
from domain.roles import Role
from domain.timeutil import SHANGHAI
from tests.api.helpers import auth
from tests.factories import default_policy, make_user

REPORT = "/api/reports/refunds"


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def test_the_month_edges_in_utc_are_as_the_fixtures_assume() -> None:
    assert beijing(2026, 3, 31, 23, 30) == datetime(2026, 3, 31, 15, 30, tzinfo=UTC)  # March
    assert beijing(2026, 4, 1, 0, 10) == datetime(2026, 3, 31, 16, 10, tzinfo=UTC)  # April
    assert beijing(2026, 3, 1) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # March's first instant


class School:
    """Writes courses, orders and refunds straight to the database, as the projection holds them."""

    def __init__(self, sessions: SessionFactory, student: User) -> None:
        self.sessions = sessions
        self.student = student
        self.orders = 0
        self.refunds = 0

    def course(self, course_id: str, name: str, course_type: CourseType) -> str:
        with self.sessions() as session:
            session.add(Course(id=course_id, name=name, type=course_type.value))
            session.commit()
        return course_id

    def order(self, course_id: str, paid_at: datetime) -> str:
        self.orders += 1
        order_id = f"O-REPORT-{self.orders}"
        with self.sessions() as session:
            session.add(
                Order(
                    id=order_id,
                    student_id=self.student.id,
                    course_id=course_id,
                    amount_paid_fen=199_900,
                    paid_at=paid_at,
                    gateway="wechatpay",
                    gateway_trade_no=f"T-{order_id}",
                )
            )
            session.commit()
        return order_id

    def refund(
        self,
        order_id: str,
        *,
        requested_at: datetime,
        status: str,
        reason: str,
        reason_code: str | None = None,
        decided_after: timedelta | None = None,
        decided_by: str = "U-REVIEWER",
        refunded_after: timedelta | None = None,
        refund_fen: int = 0,
        fee_fen: int = 0,
        course_name: str | None = None,
    ) -> None:
        self.refunds += 1
        refund_id = f"RF-REPORT-{self.refunds}"
        with self.sessions() as session:
            order = session.get(Order, order_id)
            assert order is not None
            course = session.get(Course, order.course_id)
            assert course is not None
            policy = default_policy(CourseType(course.type))
            session.add(
                Refund(
                    id=refund_id,
                    workflow_id=f"refund-{refund_id}",
                    order_id=order_id,
                    student_id=self.student.id,
                    course_id=course.id,
                    course_name=course_name or course.name,
                    course_type=course.type,
                    gateway=order.gateway,
                    status=status,
                    reason=reason,
                    reason_code=reason_code,
                    amount_paid_fen=order.amount_paid_fen,
                    requested_fen=refund_fen + fee_fen,
                    fee_fen=fee_fen,
                    refund_amount_fen=refund_fen,
                    eligibility="eligible",
                    policy_version=policy.version,
                    policy=policy.model_dump(mode="json"),
                    decided_at=requested_at + decided_after if decided_after is not None else None,
                    decided_by=decided_by if decided_after is not None else None,
                    refunded_at=requested_at + refunded_after if refunded_after is not None else None,
                    requested_at=requested_at,
                    updated_at=requested_at,
                )
            )
            session.commit()


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.fixture(scope="module")
def school(api: TestClient, api_sessions: SessionFactory) -> None:
    """Courses, orders and refunds (r1…r11) of February to April 2026; the tests' arithmetic names them."""
    school = School(api_sessions, make_user(api_sessions, Role.STUDENT))
    python = school.course("C-PY", "Python 入门", CourseType.REGULAR)
    javascript = school.course("C-JS", "JavaScript 进阶", CourseType.REGULAR)
    ielts = school.course("C-IELTS", "雅思冲刺", CourseType.PREMIUM)
    trial = school.course("C-TRIAL", "体验课", CourseType.TRIAL)

    # Orders. Python: February's last minute, then four in March (its first and last minutes too),
    # then April's first minute. JavaScript: one in March. IELTS: January, then two in March.
    # Trial: February only.
    feb_python = school.order(python, beijing(2026, 2, 28, 23, 59))
    python_orders = [
        school.order(python, paid_at)
        for paid_at in (
            beijing(2026, 3, 1, 0, 0),
            beijing(2026, 3, 10),
            beijing(2026, 3, 15),
            beijing(2026, 3, 31, 23, 59),
        )
    ]
    apr_python = school.order(python, beijing(2026, 4, 1, 0, 0))
    school.order(javascript, beijing(2026, 3, 20))
    jan_ielts = school.order(ielts, beijing(2026, 1, 15))
    ielts_orders = [school.order(ielts, beijing(2026, 3, day)) for day in (5, 18)]
    feb_trial = school.order(trial, beijing(2026, 2, 20))

    # Python, in March (asked for under the name it had then).
    old_name = "Python 基础"
    school.refund(  # r1: refunded; decided in 2 h, money after 24 h
        python_orders[0],
        requested_at=beijing(2026, 3, 2, 10),
        status="refunded",
        reason="工作调动，没有时间上课",
        reason_code="schedule_conflict",
        decided_after=hours(2),
        refunded_after=hours(24),
        refund_fen=100_000,
        fee_fen=10_000,
        course_name=old_name,
    )
    school.refund(  # r2: refunded; 4 h, 36 h
        python_orders[1],
        requested_at=beijing(2026, 3, 5, 9),
        status="refunded",
        reason="太贵了",
        reason_code="price",
        decided_after=hours(4),
        refunded_after=hours(36),
        refund_fen=50_000,
        fee_fen=5_000,
        course_name=old_name,
    )
    school.refund(  # r3: rejected by a reviewer after 6 h
        python_orders[2],
        requested_at=beijing(2026, 3, 10, 8),
        status="rejected",
        reason="课程内容太简单",
        reason_code="course_quality",
        decided_after=hours(6),
        course_name=old_name,
    )
    school.refund(  # r4: rejected by the policy at once; no code (asked before codes existed)
        feb_python,
        requested_at=beijing(2026, 3, 12, 8),
        status="rejected",
        reason="不想要了",
        decided_after=hours(0),
        decided_by="policy",
    )
    school.refund(  # r5: March's last half hour, still awaiting review
        python_orders[3],
        requested_at=beijing(2026, 3, 31, 23, 30),
        status="awaiting_review",
        reason="老师讲得听不懂",
    )
    school.refund(  # r6: April's first ten minutes
        apr_python,
        requested_at=beijing(2026, 4, 1, 0, 10),
        status="awaiting_review",
        reason="时间冲突",
        reason_code="schedule_conflict",
    )
    # IELTS, in March: approved, then withdrawn on the manager's call / refunded / at the gateway.
    school.refund(  # r7: withdrawn; decided in 1 h
        ielts_orders[0],
        requested_at=beijing(2026, 3, 8, 10),
        status="withdrawn",
        reason="家里有事",
        reason_code="personal",
        decided_after=hours(1),
    )
    school.refund(  # r8: refunded; 24 h, 48 h
        ielts_orders[1],
        requested_at=beijing(2026, 3, 20, 10),
        status="refunded",
        reason="I don't like the tutor",
        reason_code="teacher",
        decided_after=hours(24),
        refunded_after=hours(48),
        refund_fen=300_000,
        fee_fen=30_000,
    )
    school.refund(  # r9: refunding; 3 h
        jan_ielts,
        requested_at=beijing(2026, 3, 25, 10),
        status="refunding",
        reason="老师经常迟到",
        reason_code="teacher",
        decided_after=hours(3),
    )
    # Trial, in March, of an order paid in February.
    school.refund(  # r10: refunded; 0.5 h, 30 h
        feb_trial,
        requested_at=beijing(2026, 3, 3, 10),
        status="refunded",
        reason="不小心买错了",
        reason_code="bought_by_mistake",
        decided_after=hours(0.5),
        refunded_after=hours(30),
        refund_fen=990,
    )
    school.refund(  # r11: rejected by a reviewer after 1.5 h
        feb_trial,
        requested_at=beijing(2026, 3, 15, 10),
        status="rejected",
        reason="I can't afford it",
        reason_code="price",
        decided_after=hours(1.5),
    )


def counts(text: str) -> list[dict[str, object]]:
    """'price:2; teacher:1' → the report's list of reason counts."""
    pairs = [item.split(":") for item in text.split("; ")] if text else []
    return [{"reason": reason, "count": int(count)} for reason, count in pairs]


def figures(
    orders: int,
    requests: int,
    approvals: int,
    rejections: int,
    policy_rejections: int,
    pending: int,
    refunded: int,
    refund_rate: float | None,
    refunded_fen: int,
    fees_kept_fen: int,
    median_hours_to_decision: float | None,
    median_hours_to_money: float | None,
    top_reason_codes: str,
    top_reason_topics: str,
) -> dict[str, object]:
    return {
        "orders": orders,
        "requests": requests,
        "approvals": approvals,
        "rejections": rejections,
        "policy_rejections": policy_rejections,
        "pending": pending,
        "refunded": refunded,
        "refund_rate": refund_rate,
        "refunded_fen": refunded_fen,
        "fees_kept_fen": fees_kept_fen,
        "median_hours_to_decision": median_hours_to_decision,
        "median_hours_to_money": median_hours_to_money,
        "top_reason_codes": counts(top_reason_codes),
        "top_reason_topics": counts(top_reason_topics),
    }


# fmt: off
# Trial: no order paid in March (r10, r11 are of a February order), so no rate. Decisions 0.5 h and
# 1.5 h: median 1.0 (an even count: the mean of the two). Money: 30 h.
TRIAL_MARCH = figures(
    0, 2, 1, 1, 0, 0, 1, None, 990, 0, 1.0, 30.0,
    "bought_by_mistake:1; price:1", "bought_by_mistake:1; price:1",
)
# Python: orders on Mar 1 00:00, 10, 15, 31 23:59 (not Feb 28 23:59, not Apr 1 00:00) = 4.
# r1–r5 = 5 requests (r5 at 23:30 on the 31st; not r6): approved r1 r2, rejected r3 r4 (r4 by the
# policy), pending r5. Rate 2/4. Money 1000 + 500 yuan, fees 100 + 50. Reviewers' decisions 2, 4, 6 h
# (r4 left out): median 4. Money 24, 36 h: median 30. Free text: r5 "老师…听不懂" ties teacher and
# course quality, and the teacher wins.
PYTHON_MARCH = figures(
    4, 5, 2, 2, 1, 1, 2, 0.5, 150_000, 15_000, 4.0, 30.0,
    "unspecified:2; course_quality:1; price:1; schedule_conflict:1",
    "course_quality:1; other:1; price:1; schedule_conflict:1; teacher:1",
)
JAVASCRIPT_MARCH = figures(1, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, None, None, "", "")
# Regular = Python + JavaScript: 5 orders, rate 2/5.
REGULAR_MARCH = figures(
    5, 5, 2, 2, 1, 1, 2, 0.4, 150_000, 15_000, 4.0, 30.0,
    "unspecified:2; course_quality:1; price:1; schedule_conflict:1",
    "course_quality:1; other:1; price:1; schedule_conflict:1; teacher:1",
)
# IELTS: 2 orders in March (not January's). r7 withdrawn, r8 refunded, r9 refunding: all approved.
# Decisions 1, 24, 3 h: median 3. Money 48 h.
IELTS_MARCH = figures(
    2, 3, 3, 0, 0, 0, 1, 0.5, 300_000, 30_000, 3.0, 48.0,
    "teacher:2; personal:1", "teacher:2; personal:1",
)
# The month: 7 orders, 10 requests, 4 refunded: rate 4/7 = 0.5714. Decisions 0.5 1 1.5 2 3 4 6 24:
# median (2 + 3) / 2. Money 24 30 36 48: median (30 + 36) / 2. Codes: price, teacher, unspecified
# twice each, then the first two of the ones (by name). Topics: teacher thrice (r5 r8 r9), price twice.
TOTAL_MARCH = figures(
    7, 10, 6, 3, 1, 1, 4, 0.5714, 450_990, 45_000, 2.5, 33.0,
    "price:2; teacher:2; unspecified:2; bought_by_mistake:1; course_quality:1",
    "teacher:3; price:2; bought_by_mistake:1; course_quality:1; other:1",
)
# fmt: on


def test_march_by_course_by_type_and_in_total(api: TestClient, api_sessions: SessionFactory, school) -> None:
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    response = api.get(REPORT, params={"month": "2026-03"}, headers=lead)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["month"] == "2026-03"
    assert report["period_start"] == "2026-02-28T16:00:00Z"
    assert report["period_end"] == "2026-03-31T16:00:00Z"
    assert report["timezone"] == "Asia/Shanghai"
    assert {"requests", "approvals", "refund_rate", "median_hours_to_decision"} <= set(report["definitions"])
    assert report["total"] == TOTAL_MARCH
    assert report["by_course_type"] == [
        {"course_type": "trial", **TRIAL_MARCH},
        {"course_type": "regular", **REGULAR_MARCH},
        {"course_type": "premium", **IELTS_MARCH},
    ]
    # Each course named as it is now (Python's refunds were asked for as "Python 基础").
    assert report["by_course"] == [
        {"course_type": "trial", "course_id": "C-TRIAL", "course_name": "体验课", **TRIAL_MARCH},
        {"course_type": "regular", "course_id": "C-JS", "course_name": "JavaScript 进阶", **JAVASCRIPT_MARCH},
        {"course_type": "regular", "course_id": "C-PY", "course_name": "Python 入门", **PYTHON_MARCH},
        {"course_type": "premium", "course_id": "C-IELTS", "course_name": "雅思冲刺", **IELTS_MARCH},
    ]


def test_the_neighbouring_months_take_what_fell_on_their_side_of_midnight(
    api: TestClient, api_sessions: SessionFactory, school
) -> None:
    finance = auth(api, make_user(api_sessions, Role.FINANCE))
    april = api.get(REPORT, params={"month": "2026-04"}, headers=finance).json()
    # The order paid at 00:00 and the refund asked for at 00:10 on April 1 (both March 31 in UTC).
    assert april["total"] == figures(
        1, 1, 0, 0, 0, 1, 0, 0.0, 0, 0, None, None, "schedule_conflict:1", "schedule_conflict:1"
    )
    assert [(row["course_id"], row["orders"], row["requests"]) for row in april["by_course"]] == [
        ("C-PY", 1, 1)
    ]
    february = api.get(REPORT, params={"month": "2026-02"}, headers=finance).json()
    # Python's order at 23:59 on Feb 28 and the trial's: no refund was asked for in February.
    assert february["total"] == figures(2, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, None, None, "", "")


def test_a_month_without_anything_is_all_zeros_without_a_rate(
    api: TestClient, api_sessions: SessionFactory, school
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    report = api.get(REPORT, params={"month": "2025-06"}, headers=admin).json()
    nothing = figures(0, 0, 0, 0, 0, 0, 0, None, 0, 0, None, None, "", "")
    assert report["total"] == nothing
    assert report["by_course_type"] == [
        {"course_type": course_type, **nothing} for course_type in ("trial", "regular", "premium")
    ]
    assert report["by_course"] == []
    csv_text = api.get(f"{REPORT}.csv", params={"month": "2025-06"}, headers=admin).text
    assert [row[1] for row in csv.reader(io.StringIO(csv_text.removeprefix("\ufeff")))] == [
        "row",
        "course_type",
        "course_type",
        "course_type",
        "total",
    ]


def test_the_csv_has_a_row_per_course_and_type_then_the_total_in_yuan(
    api: TestClient, api_sessions: SessionFactory, school
) -> None:
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    response = api.get(f"{REPORT}.csv", params={"month": "2026-03"}, headers=lead)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="refunds-2026-03.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Chinese names
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        [
            "month", "row", "course_type", "course_id", "course_name", "orders", "requests", "approvals",
            "rejections", "policy_rejections", "pending", "refunded", "refund_rate", "refunded_yuan",
            "fees_kept_yuan", "median_hours_to_decision", "median_hours_to_money", "top_reason_codes",
            "top_reason_topics",
        ],
        [
            "2026-03", "course", "trial", "C-TRIAL", "体验课", "0", "2", "1", "1", "0", "0", "1", "",
            "9.90", "0.00", "1.00", "30.00", "bought_by_mistake:1; price:1", "bought_by_mistake:1; price:1",
        ],
        [
            "2026-03", "course", "regular", "C-JS", "JavaScript 进阶", "1", "0", "0", "0", "0", "0", "0",
            "0.0000", "0.00", "0.00", "", "", "", "",
        ],
        [
            "2026-03", "course", "regular", "C-PY", "Python 入门", "4", "5", "2", "2", "1", "1", "2",
            "0.5000", "1500.00", "150.00", "4.00", "30.00",
            "unspecified:2; course_quality:1; price:1; schedule_conflict:1",
            "course_quality:1; other:1; price:1; schedule_conflict:1; teacher:1",
        ],
        [
            "2026-03", "course", "premium", "C-IELTS", "雅思冲刺", "2", "3", "3", "0", "0", "0", "1",
            "0.5000", "3000.00", "300.00", "3.00", "48.00", "teacher:2; personal:1", "teacher:2; personal:1",
        ],
        [
            "2026-03", "course_type", "trial", "", "", "0", "2", "1", "1", "0", "0", "1", "",
            "9.90", "0.00", "1.00", "30.00", "bought_by_mistake:1; price:1", "bought_by_mistake:1; price:1",
        ],
        [
            "2026-03", "course_type", "regular", "", "", "5", "5", "2", "2", "1", "1", "2",
            "0.4000", "1500.00", "150.00", "4.00", "30.00",
            "unspecified:2; course_quality:1; price:1; schedule_conflict:1",
            "course_quality:1; other:1; price:1; schedule_conflict:1; teacher:1",
        ],
        [
            "2026-03", "course_type", "premium", "", "", "2", "3", "3", "0", "0", "0", "1",
            "0.5000", "3000.00", "300.00", "3.00", "48.00", "teacher:2; personal:1", "teacher:2; personal:1",
        ],
        [
            "2026-03", "total", "", "", "", "7", "10", "6", "3", "1", "1", "4", "0.5714", "4509.90", "450.00",
            "2.50", "33.00",
            "price:2; teacher:2; unspecified:2; bought_by_mistake:1; course_quality:1",
            "teacher:3; price:2; bought_by_mistake:1; course_quality:1; other:1",
        ],
    ]  # fmt: skip


@pytest.mark.parametrize("path", [REPORT, f"{REPORT}.csv"])
def test_only_leads_finance_and_admins_read_it(
    api: TestClient, api_sessions: SessionFactory, path: str
) -> None:
    for role in (Role.STUDENT, Role.REVIEWER, Role.AGENT):
        refused = api.get(path, params={"month": "2026-03"}, headers=auth(api, make_user(api_sessions, role)))
        assert refused.status_code == 403, role
    for role in (Role.LEAD, Role.FINANCE, Role.ADMIN):
        allowed = api.get(path, params={"month": "2026-03"}, headers=auth(api, make_user(api_sessions, role)))
        assert allowed.status_code == 200, role
    assert api.get(path, params={"month": "2026-03"}).status_code == 401
    # The role is checked before the month: a student learns nothing about the parameter.
    student = auth(api, make_user(api_sessions, Role.STUDENT))
    assert api.get(path, params={"month": "nonsense"}, headers=student).status_code == 403


@pytest.mark.parametrize("path", [REPORT, f"{REPORT}.csv"])
@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "month must look like 2026-03 (year-month)"),
        ("2026-3", "month must look like 2026-03 (year-month)"),
        ("March", "month must look like 2026-03 (year-month)"),
        ("1999-12", "month must be between 2000-01 and 2999-12"),
    ],
)
def test_a_month_that_is_not_one_gets_422_naming_the_field(
    api: TestClient, api_sessions: SessionFactory, path: str, month: str, message: str
) -> None:
    finance = auth(api, make_user(api_sessions, Role.FINANCE))
    response = api.get(path, params={"month": month}, headers=finance)
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["query", "month"], "msg": message, "type": "value_error"}]


@pytest.mark.parametrize("path", [REPORT, f"{REPORT}.csv"])
def test_a_missing_month_gets_422_naming_the_field(
    api: TestClient, api_sessions: SessionFactory, path: str
) -> None:
    response = api.get(path, headers=auth(api, make_user(api_sessions, Role.LEAD)))
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", "month"]]
