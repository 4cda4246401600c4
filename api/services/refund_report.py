"""The monthly refund report: per course, per course type and for the whole month, how many refunds
were asked for and what became of them, against the orders paid that month; what went back and what
the fees kept; why students asked; how long they waited. `DEFINITIONS` says exactly what each figure
counts, and travels with the report.

Counting is the database's (GROUP BY over the month's range of `ix_refunds_requested_at` and the
index on `orders.paid_at`). Only what cannot be summed is read into Python, one row per request
with just the columns needed: the waiting times for the medians (the database subtracts the times),
and the free-text reasons for their topics (each distinct text classified once)."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import Session, col, select

from db.models import Course, Order, Refund
from db.sql_time import seconds_between
from domain.courses import CourseType
from domain.money import plain_yuan
from domain.refund_reasons import reason_topic
from domain.refunds import APPROVED_STATUSES, POLICY_DECIDER, RefundStatus
from domain.report_month import ReportMonth
from domain.timeutil import SHANGHAI, utcnow

TOP_REASONS = 5
UNSPECIFIED_REASON = "unspecified"  # a request made before students picked a reason code

DEFINITIONS: dict[str, str] = {
    "month": (
        "A calendar month in Asia/Shanghai time, as the UTC range [period_start, period_end). A refund "
        "belongs to the month it was requested in, an order to the month it was paid in."
    ),
    "requests": "Refunds requested in the month, whatever has become of them since.",
    "approvals": (
        "Requests of the month a reviewer approved: status approved or any later one "
        "(awaiting_confirmation, refunding, refund_failed, withdrawn, refunded)."
    ),
    "rejections": "Requests of the month rejected, by a reviewer or by the policy (status rejected).",
    "policy_rejections": "Rejections the policy made at once (decided_by 'policy'), no reviewer involved.",
    "pending": "Requests of the month still awaiting a decision: requests - approvals - rejections.",
    "refunded": "Requests of the month whose money has gone back (status refunded), whenever it went.",
    "orders": "Orders paid in the month, under the type their course has now.",
    "refund_rate": (
        "refunded / orders, to 4 decimals; null when no order was paid. A refund may be of an order "
        "paid in an earlier month, so the rate compares the month's two flows and can exceed 1."
    ),
    "refunded_fen": "What went back to students for the refunded (sum of refund_amount_fen), in fen.",
    "fees_kept_fen": (
        "The fees the policy kept on the refunded (sum of fee_fen), in fen; a refund rejected or "
        "withdrawn keeps no fee, as nothing moved."
    ),
    "top_reason_codes": (
        f"The {TOP_REASONS} reason codes the month's requests picked most ('{UNSPECIFIED_REASON}': "
        "none picked), most first, ties by name."
    ),
    "top_reason_topics": (
        f"The {TOP_REASONS} topics the requests' own words are about most (keyword grouping, "
        "domain/refund_reasons.py; 'other' when no keyword matches), most first, ties by name."
    ),
    "median_hours_to_decision": (
        "Median hours from request to a reviewer's decision, over the month's requests a reviewer "
        "decided (the policy's rejections are instant and left out); null when none. The median of an "
        "even count is the mean of the middle two."
    ),
    "median_hours_to_money": (
        "Median hours from request to the money's return (refunded_at), over the refunded; null when none."
    ),
    "rows": (
        "total: the whole month; by_course_type: every course type, by the type the refund was asked "
        "under; by_course: each course with orders or requests in the month, named as it is now."
    ),
}


class ReasonCount(BaseModel):
    reason: str  # a RefundReasonCode value, or "unspecified" among the codes
    count: int


class RefundFigures(BaseModel):
    """One row of the report. Each figure's definition (`DEFINITIONS`) is its description in the API's
    schema, and the report carries them all in `definitions`."""

    orders: int = Field(description=DEFINITIONS["orders"])
    requests: int = Field(description=DEFINITIONS["requests"])
    approvals: int = Field(description=DEFINITIONS["approvals"])
    rejections: int = Field(description=DEFINITIONS["rejections"])
    policy_rejections: int = Field(description=DEFINITIONS["policy_rejections"])
    pending: int = Field(description=DEFINITIONS["pending"])
    refunded: int = Field(description=DEFINITIONS["refunded"])
    refund_rate: float | None = Field(description=DEFINITIONS["refund_rate"])
    refunded_fen: int = Field(description=DEFINITIONS["refunded_fen"])
    fees_kept_fen: int = Field(description=DEFINITIONS["fees_kept_fen"])
    median_hours_to_decision: float | None = Field(description=DEFINITIONS["median_hours_to_decision"])
    median_hours_to_money: float | None = Field(description=DEFINITIONS["median_hours_to_money"])
    top_reason_codes: list[ReasonCount] = Field(description=DEFINITIONS["top_reason_codes"])
    top_reason_topics: list[ReasonCount] = Field(description=DEFINITIONS["top_reason_topics"])


class CourseTypeRefunds(RefundFigures):
    course_type: str


class CourseRefunds(RefundFigures):
    course_type: str
    course_id: str
    course_name: str


class RefundReport(BaseModel):
    month: str  # "2026-03"
    period_start: AwareDatetime  # Shanghai midnight of the 1st, in UTC
    period_end: AwareDatetime  # exclusive
    timezone: str = SHANGHAI.key
    # Figures about refunds still under way move until they settle: the report is as of this time.
    generated_at: AwareDatetime
    definitions: dict[str, str]
    total: RefundFigures
    by_course_type: list[CourseTypeRefunds]
    by_course: list[CourseRefunds]


@dataclass
class _Tally:
    """The sums behind one row: a course's, added up from the database's groups and rows; a course
    type's and the month's, added up from their courses'."""

    orders: int = 0
    requests: int = 0
    approvals: int = 0
    rejections: int = 0
    policy_rejections: int = 0
    refunded: int = 0
    refunded_fen: int = 0
    fees_kept_fen: int = 0
    reason_codes: Counter[str] = field(default_factory=Counter)
    reason_topics: Counter[str] = field(default_factory=Counter)
    decision_seconds: list[float] = field(default_factory=list)
    money_seconds: list[float] = field(default_factory=list)

    def add(self, other: _Tally) -> None:
        self.orders += other.orders
        self.requests += other.requests
        self.approvals += other.approvals
        self.rejections += other.rejections
        self.policy_rejections += other.policy_rejections
        self.refunded += other.refunded
        self.refunded_fen += other.refunded_fen
        self.fees_kept_fen += other.fees_kept_fen
        self.reason_codes.update(other.reason_codes)
        self.reason_topics.update(other.reason_topics)
        self.decision_seconds.extend(other.decision_seconds)
        self.money_seconds.extend(other.money_seconds)

    def figures(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "requests": self.requests,
            "approvals": self.approvals,
            "rejections": self.rejections,
            "policy_rejections": self.policy_rejections,
            "pending": self.requests - self.approvals - self.rejections,
            "refunded": self.refunded,
            "refund_rate": round(self.refunded / self.orders, 4) if self.orders else None,
            "refunded_fen": self.refunded_fen,
            "fees_kept_fen": self.fees_kept_fen,
            "median_hours_to_decision": _median_hours(self.decision_seconds),
            "median_hours_to_money": _median_hours(self.money_seconds),
            "top_reason_codes": _top(self.reason_codes),
            "top_reason_topics": _top(self.reason_topics),
        }


def _median_hours(seconds: list[float]) -> float | None:
    return round(statistics.median(seconds) / 3600, 2) if seconds else None


def _top(counts: Counter[str]) -> list[ReasonCount]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    return [ReasonCount(reason=reason, count=count) for reason, count in ranked]


# A course's tally, by (course type, course id): a course's refunds count under the type they were
# asked for under, its orders under the type the course has now (the same, unless it was changed).
_CourseTallies = defaultdict[tuple[str, str], _Tally]


def refund_report(session: Session, *, month: ReportMonth) -> RefundReport:
    by_course: _CourseTallies = defaultdict(_Tally)
    requested_in_month = and_(col(Refund.requested_at) >= month.start, col(Refund.requested_at) < month.end)
    names_when_requested = _count_refunds(session, requested_in_month, by_course)
    _read_reasons_and_waiting_times(session, requested_in_month, by_course)
    orders = _orders_by_course(session, month)
    courses = _courses(session, set(orders) | {course_id for _type, course_id in by_course})
    for course_id, count in orders.items():
        by_course[(courses[course_id].type, course_id)].orders += count

    total = _Tally()
    by_type = {course_type.value: _Tally() for course_type in CourseType}
    for (course_type, _course_id), tally in by_course.items():
        by_type.setdefault(course_type, _Tally()).add(tally)
        total.add(tally)

    def name_of(course_id: str) -> str:
        course = courses.get(course_id)
        return course.name if course else names_when_requested[course_id]

    course_rows = [
        CourseRefunds(
            course_type=course_type, course_id=course_id, course_name=name_of(course_id), **tally.figures()
        )
        for (course_type, course_id), tally in by_course.items()
    ]
    type_rows = [CourseTypeRefunds(course_type=t, **tally.figures()) for t, tally in by_type.items()]
    return RefundReport(
        month=str(month),
        period_start=month.start,
        period_end=month.end,
        generated_at=utcnow(),
        definitions=DEFINITIONS,
        total=RefundFigures(**total.figures()),
        by_course_type=sorted(type_rows, key=lambda row: _type_rank(row.course_type)),
        by_course=sorted(
            course_rows, key=lambda row: (_type_rank(row.course_type), row.course_name, row.course_id)
        ),
    )


def _type_rank(course_type: str) -> tuple[int, str]:
    """Course types in CourseType's order (trial, regular, premium), any other after them."""
    known = list(CourseType)
    return (known.index(CourseType(course_type)) if course_type in known else len(known), course_type)


def _count_refunds(
    session: Session, requested_in_month: ColumnElement[bool], by_course: _CourseTallies
) -> dict[str, str]:
    """Everything about the month's requests that adds up, counted by the database per course and
    reason code. Returns each course's name as the refunds recorded it."""
    status = col(Refund.status)
    rejected = status == RefundStatus.REJECTED.value
    refunded = status == RefundStatus.REFUNDED.value
    rows = session.exec(
        select(
            Refund.course_type,
            Refund.course_id,
            Refund.reason_code,
            func.max(Refund.course_name),
            func.count(),
            func.sum(case((status.in_([s.value for s in APPROVED_STATUSES]), 1), else_=0)),
            func.sum(case((rejected, 1), else_=0)),
            func.sum(case((and_(rejected, col(Refund.decided_by) == POLICY_DECIDER), 1), else_=0)),
            func.sum(case((refunded, 1), else_=0)),
            func.sum(case((refunded, col(Refund.refund_amount_fen)), else_=0)),
            func.sum(case((refunded, col(Refund.fee_fen)), else_=0)),
        )
        .where(requested_in_month)
        .group_by(Refund.course_type, Refund.course_id, Refund.reason_code)
    )
    names: dict[str, str] = {}
    for course_type, course_id, reason_code, course_name, *sums in rows:
        names[course_id] = course_name
        requests, approvals, rejections, policy_rejections, refunded_count, amount, fees = (
            int(n or 0) for n in sums
        )
        tally = by_course[(course_type, course_id)]
        tally.requests += requests
        tally.approvals += approvals
        tally.rejections += rejections
        tally.policy_rejections += policy_rejections
        tally.refunded += refunded_count
        tally.refunded_fen += amount
        tally.fees_kept_fen += fees
        tally.reason_codes[reason_code or UNSPECIFIED_REASON] += requests
    return names


def _read_reasons_and_waiting_times(
    session: Session, requested_in_month: ColumnElement[bool], by_course: _CourseTallies
) -> None:
    """What cannot be summed, one row per request: its words (for their topic) and how long it
    waited (for the medians; the database subtracts the times)."""
    decided_by_reviewer = and_(col(Refund.decided_at).is_not(None), col(Refund.decided_by) != POLICY_DECIDER)
    refunded = col(Refund.status) == RefundStatus.REFUNDED.value
    rows = session.exec(
        select(
            Refund.course_type,
            Refund.course_id,
            Refund.reason,
            case((decided_by_reviewer, seconds_between(Refund.requested_at, Refund.decided_at))),
            case((refunded, seconds_between(Refund.requested_at, Refund.refunded_at))),
        ).where(requested_in_month)
    )
    topic_of: dict[str, str] = {}  # many students write the same few words
    for course_type, course_id, text, to_decision, to_money in rows:
        tally = by_course[(course_type, course_id)]
        topic = topic_of.get(text)
        if topic is None:
            topic = topic_of[text] = reason_topic(text).value
        tally.reason_topics[topic] += 1
        if to_decision is not None:
            tally.decision_seconds.append(to_decision)
        if to_money is not None:
            tally.money_seconds.append(to_money)


def _orders_by_course(session: Session, month: ReportMonth) -> dict[str, int]:
    rows = session.exec(
        select(Order.course_id, func.count())
        .where(col(Order.paid_at) >= month.start, col(Order.paid_at) < month.end)
        .group_by(Order.course_id)
    )
    return dict(rows.all())


@dataclass(frozen=True)
class _Course:
    name: str
    type: str


def _courses(session: Session, course_ids: Iterable[str]) -> dict[str, _Course]:
    """The courses as they are now (a refund keeps the name and type it was asked under)."""
    ids = sorted(course_ids)
    if not ids:
        return {}
    rows = session.exec(select(Course.id, Course.name, Course.type).where(col(Course.id).in_(ids)))
    return {course_id: _Course(name, course_type) for course_id, name, course_type in rows}


CSV_HEADER = (
    "month",
    "row",
    "course_type",
    "course_id",
    "course_name",
    "orders",
    "requests",
    "approvals",
    "rejections",
    "policy_rejections",
    "pending",
    "refunded",
    "refund_rate",
    "refunded_yuan",
    "fees_kept_yuan",
    "median_hours_to_decision",
    "median_hours_to_money",
    "top_reason_codes",
    "top_reason_topics",
)


def refund_report_csv(report: RefundReport) -> str:
    """The report as a spreadsheet: one row per course, then per course type, then the total. UTF-8
    with a byte-order mark (Excel otherwise misreads the Chinese course names), money in yuan."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for course in report.by_course:
        writer.writerow(
            _csv_row(report.month, "course", course, course.course_type, course.course_id, course.course_name)
        )
    for of_type in report.by_course_type:
        writer.writerow(_csv_row(report.month, "course_type", of_type, of_type.course_type))
    writer.writerow(_csv_row(report.month, "total", report.total))
    return "\ufeff" + out.getvalue()


def _csv_row(
    month: str, row: str, figures: RefundFigures, course_type: str = "", course_id: str = "", name: str = ""
) -> list[str | int]:
    def number(value: float | None, places: int) -> str:
        return "" if value is None else f"{value:.{places}f}"

    def reasons(counts: list[ReasonCount]) -> str:
        return "; ".join(f"{count.reason}:{count.count}" for count in counts)

    return [
        month,
        row,
        course_type,
        course_id,
        name,
        figures.orders,
        figures.requests,
        figures.approvals,
        figures.rejections,
        figures.policy_rejections,
        figures.pending,
        figures.refunded,
        number(figures.refund_rate, 4),
        plain_yuan(figures.refunded_fen),
        plain_yuan(figures.fees_kept_fen),
        number(figures.median_hours_to_decision, 2),
        number(figures.median_hours_to_money, 2),
        reasons(figures.top_reason_codes),
        reasons(figures.top_reason_topics),
    ]
