"""The words support leads read in the Temporal UI: summaries, memo and current details."""

from __future__ import annotations

from datetime import UTC, datetime

from domain import search_attributes, temporal_views
from domain.complaints import ComplaintStage, Department, Severity
from domain.courses import CourseType
from domain.refunds import CourseSnapshot
from tests.workflows.refund_fakes import refund_request
from tests.workflows.test_complaint_workflow import complaint

# 16:30 UTC on Dec 2nd is half past midnight on Dec 3rd in Beijing.
LATE_EVENING_UTC = datetime(2026, 12, 2, 16, 30, tzinfo=UTC)


def test_times_are_beijing_times_with_the_date() -> None:
    assert temporal_views.beijing(LATE_EVENING_UTC) == "12-03 00:30 Beijing"


def test_a_refund_starts_with_a_summary_details_and_names_in_the_memo() -> None:
    request = refund_request()
    options = temporal_views.refund_start_options(request)
    assert options["static_summary"] == "Refund ¥1,799.10 of 数据分析系统正价课 for 林小雨"
    assert options["static_details"] == (
        "Order O-1 (regular course), paid ¥1,999.00 via WeChat Pay. Reason: 工作调动"
    )
    assert options["memo"] == {
        "refund_id": request.refund_id,
        "student_name": "林小雨",
        "course_name": "数据分析系统正价课",
    }
    attributes = options["search_attributes"]
    assert attributes.get(search_attributes.AMOUNT_FEN) == 179_910
    assert attributes.get(search_attributes.COURSE_TYPE) == "regular"


def test_a_complaint_about_an_order_names_its_course_and_carries_its_type() -> None:
    about_a_course = complaint(
        order_id="O-7", course=CourseSnapshot(id="C1", name="Python 入门", type=CourseType.TRIAL)
    )
    options = temporal_views.complaint_start_options(about_a_course)
    assert options["static_summary"] == "Complaint from 林小雨 about Python 入门 by the web form"
    assert options["static_details"].startswith("Order O-7. The student wrote: 直播课一直卡顿")
    assert options["memo"]["course_name"] == "Python 入门"
    assert options["search_attributes"].get(search_attributes.COURSE_TYPE) == "trial"
    general = temporal_views.complaint_start_options(complaint())
    assert "course_name" not in general["memo"]
    assert general["search_attributes"].get(search_attributes.COURSE_TYPE) is None


def test_the_review_sentence_names_the_reviewer_or_says_nobody_is_in_the_group() -> None:
    assert temporal_views.refund_awaiting_review(
        group="vip-desk", reviewer="王审核", due=LATE_EVENING_UTC
    ) == ("Awaiting review by 王审核 (group vip-desk), due 12-03 00:30 Beijing.")
    assert "group vip-desk (nobody in it yet)" in temporal_views.refund_awaiting_review(
        group="vip-desk", reviewer=None, due=LATE_EVENING_UTC
    )


def complaint_sentence(**changes) -> str:
    facts = {
        "stage": ComplaintStage.IN_PROGRESS,
        "channel": "wechat",
        "category": "course_content",
        "severity": Severity.NORMAL,
        "department": Department.ACADEMIC,
        "assignee": None,
        "first_responded": True,
        "first_response_due": LATE_EVENING_UTC,
        "resolution_due": datetime(2026, 12, 4, 2, 0, tzinfo=UTC),
        "sla_breached": False,
        "paused_since": None,
    }
    return temporal_views.complaint_now(**{**facts, **changes})


def test_a_complaint_sentence_follows_its_stage_and_next_deadline() -> None:
    assert complaint_sentence() == (
        "Course content complaint, normal, with the academic team queue; resolution due 12-04 10:00 Beijing."
    )
    assert complaint_sentence(first_responded=False, assignee="周老师").endswith(
        "with 周老师 in academic team; first response due 12-03 00:30 Beijing."
    )
    assert complaint_sentence(sla_breached=True, overdue={"resolution"}) == (
        "**SLA breached.** Course content complaint, normal, with the academic team queue; "
        "resolution overdue since 12-04 10:00 Beijing."
    )
    assert (
        complaint_sentence(stage=ComplaintStage.RECEIVED, category=None)
        == "Received by WeChat; being triaged."
    )
    assert complaint_sentence(stage=ComplaintStage.FOLLOW_UP, sla_breached=True) == (
        "**SLA breached.** Resolved; waiting for the student's follow-up survey."
    )
    assert complaint_sentence(stage=ComplaintStage.ARCHIVED, sla_breached=True) == "Archived."
