"""The monthly complaint report: the complaint article's table — each category's share of the month,
the change against last month, the main root causes, the improvement actions — with each
category's SLA attainment and satisfaction, the spikes to look at, and a totals row.

Counted in SQL, in one pass over last month and this one (the `received_at` range, index
ix_complaints_received_at) grouped by category and tag: what is read back is a few rows per
category and distinct tag, and the month's actions — never the complaints themselves. The month
is a calendar month in Beijing time (domain/report_month.py).

Definitions (also in docs/architecture.md):

- A complaint belongs to the month it was received in, and to the category triage gave it; one
  not triaged yet has none, and gets a row of its own (category None) when there is any.
- share: the category's complaints ÷ the month's, in percent. change: against last month's count of
  the same category, in percent of last month; None when last month had none.
- SLA attainment, for each clock, judged as things stood at `as_of` (default: the month's end, or
  now while the month runs — so a closed month's figures no longer move):
  met      the clock was stopped by `as_of`, at or before its due time;
  missed   stopped after its due time, or still running and its due time passed before `as_of`;
  neither  still running and not yet due, a resolution clock paused while the student is asked
           (awaiting_customer), or no due time (not triaged) — left out of the figure.
  attainment = met ÷ (met + missed), None when nothing counts. The first-response clock is
  stopped by the first reply or, without one, the resolution (as the workflow stops it); the
  resolution clock by a resolution the complaint still stands by (stage resolved, follow_up or
  archived: a reopened complaint runs again, against the deadline its reopening set).
- satisfaction: the follow-up survey answers recorded for the month's complaints (whenever they
  came in), satisfied ÷ answered.
- main root causes: the MAIN_ROOT_CAUSES most frequent tags of the category's complaints.
- spikes: domain.complaint_report.rose_sharply (a category up SPIKE_RISE_PERCENT % or more, with at
  least SPIKE_MIN_COMPLAINTS complaints) and repeats (one tag on REPEATED_ROOT_CAUSE_MIN or more of
  the month's complaints, whatever their categories: the spike names them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime, BaseModel
from sqlalchemy import ColumnElement, and_, case, false, func, not_, or_, true, type_coerce
from sqlmodel import Session, col, select

from api.services.improvement_actions import list_actions
from db.models import Complaint, ImprovementAction
from db.types import UTCDateTime
from domain.complaint_report import (
    MAIN_ROOT_CAUSES,
    ImprovementStatus,
    RootCauseTally,
    SpikeKind,
    change_percent,
    main_root_causes,
    percent,
    repeats,
    rose_sharply,
    tally_root_causes,
)
from domain.complaints import ComplaintCategory, ComplaintStage
from domain.report_month import ReportMonth
from domain.timeutil import utcnow

# A resolution the complaint still stands by (a reopened one is in_progress again).
STANDING_RESOLUTION = (ComplaintStage.RESOLVED, ComplaintStage.FOLLOW_UP, ComplaintStage.ARCHIVED)


class TagCount(BaseModel):
    root_cause: str
    complaints: int


class CategoryCount(BaseModel):
    category: ComplaintCategory | None
    complaints: int


class Attainment(BaseModel):
    met: int
    missed: int
    percent: float | None  # met ÷ (met + missed); None when nothing counted


class Satisfaction(BaseModel):
    answered: int
    satisfied: int
    percent: float | None  # satisfied ÷ answered; None when nobody answered


class ImprovementActionOut(BaseModel):
    id: int
    month: str
    category: ComplaintCategory
    root_cause: str | None
    action: str
    owner: str | None
    status: ImprovementStatus
    created_by: str
    created_at: AwareDatetime
    updated_by: str
    updated_at: AwareDatetime

    @classmethod
    def of(cls, row: ImprovementAction) -> ImprovementActionOut:
        return cls.model_validate(row, from_attributes=True)


class ReportRow(BaseModel):
    category: ComplaintCategory | None  # a row's None: not triaged yet; the total's: all of them
    complaints: int
    share_percent: float | None
    last_month: int
    change_percent: float | None
    main_root_causes: list[TagCount]
    actions: list[ImprovementActionOut]  # the category's; the total row lists none
    first_response: Attainment
    resolution: Attainment
    satisfaction: Satisfaction


class Spike(BaseModel):
    kind: SpikeKind
    complaints: int  # this month: the category's, or those tagged with the root cause
    category: ComplaintCategory | None = None  # category_rose: the category
    last_month: int | None = None  # category_rose
    change_percent: float | None = None  # category_rose; None: up from none
    root_cause: str | None = None  # root_cause_repeated: the tag
    categories: list[CategoryCount] = []  # root_cause_repeated: where it was tagged, most first


class ComplaintReport(BaseModel):
    month: str
    previous_month: str
    starts_at: AwareDatetime  # the month's first instant, UTC (midnight of the 1st in Beijing)
    ends_at: AwareDatetime  # the next month's first instant: the range is [starts_at, ends_at)
    as_of: AwareDatetime  # SLA verdicts as things stood then
    rows: list[ReportRow]  # every category (zeros too), then the untriaged ones if any
    total: ReportRow
    spikes: list[Spike]


class _Figures(BaseModel):
    """What SQL counts for one category of the month (and of last month, the count only)."""

    complaints: int = 0
    first_response_met: int = 0
    first_response_missed: int = 0
    resolution_met: int = 0
    resolution_missed: int = 0
    answered: int = 0
    satisfied: int = 0
    last_month: int = 0

    def __add__(self, other: _Figures) -> _Figures:
        return _Figures(**{name: getattr(self, name) + getattr(other, name) for name in FIGURES})


# The figures in the order the query selects them.
FIGURES = tuple(_Figures.model_fields)


@dataclass
class _Counted:
    by_category: dict[ComplaintCategory | None, _Figures]
    tags: list[tuple[ComplaintCategory | None, str, int]]  # this month's, per stored spelling


def _met_and_missed(
    *,
    due: ColumnElement[datetime],
    stopped_at: ColumnElement[datetime],
    stopped: ColumnElement[bool],
    paused: ColumnElement[bool],
    as_of: datetime,
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """One SLA clock's verdicts as SQL conditions (the module's docstring says them in words)."""
    stopped_by_then = and_(stopped, stopped_at.is_not(None), stopped_at <= as_of)
    met = and_(due.is_not(None), stopped_by_then, stopped_at <= due)
    missed = and_(
        due.is_not(None),
        or_(
            and_(stopped_by_then, stopped_at > due),
            and_(not_(stopped_by_then), not_(paused), due < as_of),
        ),
    )
    return met, missed


def _count_both_months(session: Session, month: ReportMonth, as_of: datetime) -> _Counted:
    """One pass over last month and this one (the received_at index gives the range; the table
    is read once): per category and stored tag, this month's figures and last month's count.
    The rows read back are a few per category and tag, however many complaints there are."""
    this_month = col(Complaint.received_at) >= month.start
    first_met, first_missed = _met_and_missed(
        due=col(Complaint.first_response_due_at),
        # The first reply, or the resolution that answered without one.
        stopped_at=type_coerce(
            func.coalesce(col(Complaint.first_responded_at), col(Complaint.resolved_at)), UTCDateTime()
        ),
        stopped=true(),
        paused=false(),
        as_of=as_of,
    )
    resolution_met, resolution_missed = _met_and_missed(
        due=col(Complaint.resolution_due_at),
        stopped_at=col(Complaint.resolved_at),
        stopped=col(Complaint.stage).in_([stage.value for stage in STANDING_RESOLUTION]),
        paused=col(Complaint.stage) == ComplaintStage.AWAITING_CUSTOMER.value,
        as_of=as_of,
    )

    def counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    rows = session.exec(
        select(
            Complaint.category,
            Complaint.root_cause,
            counted(this_month),
            counted(and_(this_month, first_met)),
            counted(and_(this_month, first_missed)),
            counted(and_(this_month, resolution_met)),
            counted(and_(this_month, resolution_missed)),
            counted(and_(this_month, col(Complaint.satisfied).is_not(None))),
            counted(and_(this_month, col(Complaint.satisfied).is_(True))),
            counted(not_(this_month)),
        )
        .where(col(Complaint.received_at) >= month.previous().start, col(Complaint.received_at) < month.end)
        .group_by(col(Complaint.category), col(Complaint.root_cause))
    ).all()
    result = _Counted(by_category={}, tags=[])
    for stored_category, tag, *numbers in rows:
        category = ComplaintCategory(stored_category) if stored_category else None
        figures = _Figures(**dict(zip(FIGURES, (int(n or 0) for n in numbers), strict=True)))
        result.by_category[category] = result.by_category.get(category, _Figures()) + figures
        if tag is not None and figures.complaints:
            result.tags.append((category, tag, figures.complaints))
    return result


def _row(
    category: ComplaintCategory | None,
    figures: _Figures,
    *,
    month_total: int,
    causes: list[tuple[str, int]],
    actions: list[ImprovementActionOut],
) -> ReportRow:
    first_counted = figures.first_response_met + figures.first_response_missed
    resolution_counted = figures.resolution_met + figures.resolution_missed
    return ReportRow(
        category=category,
        complaints=figures.complaints,
        share_percent=percent(figures.complaints, month_total),
        last_month=figures.last_month,
        change_percent=change_percent(figures.complaints, figures.last_month),
        main_root_causes=[TagCount(root_cause=tag, complaints=n) for tag, n in causes],
        actions=actions,
        first_response=Attainment(
            met=figures.first_response_met,
            missed=figures.first_response_missed,
            percent=percent(figures.first_response_met, first_counted),
        ),
        resolution=Attainment(
            met=figures.resolution_met,
            missed=figures.resolution_missed,
            percent=percent(figures.resolution_met, resolution_counted),
        ),
        satisfaction=Satisfaction(
            answered=figures.answered,
            satisfied=figures.satisfied,
            percent=percent(figures.satisfied, figures.answered),
        ),
    )


def _spikes(rows: list[ReportRow], tallies: list[RootCauseTally]) -> list[Spike]:
    risen = [
        Spike(
            kind=SpikeKind.CATEGORY_ROSE,
            complaints=row.complaints,
            category=row.category,
            last_month=row.last_month,
            change_percent=row.change_percent,
        )
        for row in rows
        if row.category is not None and rose_sharply(row.complaints, row.last_month)
    ]
    repeated = [
        Spike(
            kind=SpikeKind.ROOT_CAUSE_REPEATED,
            complaints=tally.complaints,
            root_cause=tally.root_cause,
            categories=[CategoryCount(category=category, complaints=n) for category, n in tally.where()],
        )
        for tally in tallies
        if repeats(tally)
    ]
    return risen + repeated


def complaint_report(
    session: Session, *, month: ReportMonth, as_of: datetime | None = None
) -> ComplaintReport:
    """The month's report (the module's docstring defines every figure)."""
    as_of = as_of or min(utcnow(), month.end)
    counted = _count_both_months(session, month, as_of)
    tallies = tally_root_causes(counted.tags)
    actions = [ImprovementActionOut.of(row) for row in list_actions(session, month=month)]

    categories: list[ComplaintCategory | None] = list(ComplaintCategory)
    if None in counted.by_category:  # complaints not triaged yet, this month or last
        categories.append(None)
    figures = {category: counted.by_category.get(category, _Figures()) for category in categories}
    month_total = sum(f.complaints for f in figures.values())
    rows = [
        _row(
            category,
            figures[category],
            month_total=month_total,
            causes=main_root_causes(tallies, category),
            actions=[action for action in actions if action.category == category],
        )
        for category in categories
    ]
    total = _row(
        None,
        sum(figures.values(), _Figures()),
        month_total=month_total,
        causes=[(tally.root_cause, tally.complaints) for tally in tallies[:MAIN_ROOT_CAUSES]],
        actions=[],
    )
    return ComplaintReport(
        month=str(month),
        previous_month=str(month.previous()),
        starts_at=month.start,
        ends_at=month.end,
        as_of=as_of,
        rows=rows,
        total=total,
        spikes=_spikes(rows, tallies),
    )


# --- CSV -------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "category",
    "complaints",
    "share",
    "last_month",
    "change",
    "root_causes",
    "actions",
    "first_response",
    "resolution",
    "satisfaction",
)
SPIKE_COLUMNS = ("kind", "category", "root_cause", "complaints", "last_month", "change")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def spreadsheet_safe(text: str) -> str:
    """Typed text as a cell a spreadsheet shows rather than runs: one starting like a formula
    ("=HYPERLINK(…)", "+", "-", "@") gets a leading apostrophe, as Excel itself would write it."""
    return f"'{text}" if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def complaint_report_csv(report: ComplaintReport, t: Callable[..., str]) -> str:
    """The report as a spreadsheet (words from api/pages/i18n.py in the reader's language): a
    header, one row per category and the total, then the spikes under a heading of their own.
    Percentages are plain numbers to one decimal (empty: no figure); UTF-8 with a BOM is the
    route's job, so Excel reads the Chinese."""

    def category_name(category: ComplaintCategory | None) -> str:
        return t(f"category.{category.value}") if category else t("report.untriaged")

    def causes(row: ReportRow) -> str:
        return spreadsheet_safe(
            "; ".join(f"{cause.root_cause} ({cause.complaints})" for cause in row.main_root_causes)
        )

    def action_text(action: ImprovementActionOut) -> str:
        status = t(f"improvement.{action.status.value}")
        return (
            f"{action.action} [{action.owner}, {status}]" if action.owner else f"{action.action} [{status}]"
        )

    def actions(row: ReportRow) -> str:
        return spreadsheet_safe("; ".join(action_text(action) for action in row.actions))

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t(f"report.csv.{column}") for column in CSV_COLUMNS])
    for row, total in [*((row, False) for row in report.rows), (report.total, True)]:
        writer.writerow(
            [
                t("common.total") if total else category_name(row.category),
                row.complaints,
                _number(row.share_percent),
                row.last_month,
                _number(row.change_percent),
                causes(row),
                actions(row),
                _number(row.first_response.percent),
                _number(row.resolution.percent),
                _number(row.satisfaction.percent),
            ]
        )
    writer.writerow([])
    writer.writerow([t("report.spikes")])
    writer.writerow([t(f"report.csv.spike.{column}") for column in SPIKE_COLUMNS])
    for spike in report.spikes:
        if spike.kind is SpikeKind.CATEGORY_ROSE:
            where = category_name(spike.category)
        else:
            where = "; ".join(f"{category_name(c.category)} ({c.complaints})" for c in spike.categories)
        writer.writerow(
            [
                t(f"report.spike.{spike.kind.value}"),
                where,
                spreadsheet_safe(spike.root_cause or ""),
                spike.complaints,
                "" if spike.last_month is None else spike.last_month,
                _number(spike.change_percent),
            ]
        )
    return out.getvalue()
