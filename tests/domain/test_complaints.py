from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.complaints import (
    DEFAULT_SLA,
    ComplaintCategory,
    Department,
    IntakeChannel,
    Severity,
    classify,
)
from domain.timeutil import SHANGHAI


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("直播课一直卡顿，老师的声音断断续续", ComplaintCategory.TECHNICAL),
        ("视频无法播放，换了浏览器也不行", ComplaintCategory.TECHNICAL),
        ("I can't log in to the app since yesterday", ComplaintCategory.TECHNICAL),
        ("第三章的知识点没听懂，老师讲得太快", ComplaintCategory.COURSE_CONTENT),
        ("作业批改结果和答案对不上", ComplaintCategory.COURSE_CONTENT),
        ("申请的发票一直没有开出来", ComplaintCategory.SERVICE_FEES),
        ("班主任态度很差，消息也不回", ComplaintCategory.SERVICE_FEES),
        ("我想了解一下下学期的安排", ComplaintCategory.SERVICE_FEES),  # nothing matched: customer service
    ],
)
def test_the_category_comes_from_what_the_student_wrote(text: str, category: ComplaintCategory) -> None:
    assert classify(text, IntakeChannel.WEB_FORM).category is category


def test_severity_rises_with_words_of_escalation_and_a_phone_call() -> None:
    assert classify("回放加载慢", IntakeChannel.WEB_FORM).severity is Severity.NORMAL
    assert classify("回放加载慢", IntakeChannel.PHONE).severity is Severity.HIGH
    assert classify("直播多次卡住，完全没法上课", IntakeChannel.WEB_FORM).severity is Severity.HIGH
    assert classify("再不处理我就投诉到12315", IntakeChannel.WEB_FORM).severity is Severity.URGENT
    # English words count where a word starts: an "issue" is not a lawsuit.
    assert classify("There is an issue with the invoice", IntakeChannel.EMAIL).severity is Severity.NORMAL
    assert classify("I will sue the school", IntakeChannel.EMAIL).severity is Severity.URGENT
    assert Severity.URGENT.raised() is Severity.URGENT and Severity.NORMAL.raised() is Severity.HIGH


def test_the_sla_table_is_the_source_articles() -> None:
    table = {
        c: (t.first_response_minutes, t.resolution_minutes, t.department) for c, t in DEFAULT_SLA.items()
    }
    assert table == {
        ComplaintCategory.TECHNICAL: (10, 120, Department.TECH_SUPPORT),
        ComplaintCategory.COURSE_CONTENT: (30, 24 * 60, Department.ACADEMIC),
        ComplaintCategory.SERVICE_FEES: (60, 48 * 60, Department.CUSTOMER_SERVICE),
    }
    start = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    technical = DEFAULT_SLA[ComplaintCategory.TECHNICAL]
    due = technical.deadline(start, technical.first_response_minutes)
    assert technical.warning_time(start, due) == datetime(2026, 11, 23, 3, 8, tzinfo=UTC)  # 80% of 10 minutes


def test_an_sla_in_business_hours_counts_only_working_time() -> None:
    terms = DEFAULT_SLA[ComplaintCategory.SERVICE_FEES].model_copy(update={"business_hours_only": True})
    friday_evening = datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI)
    due = terms.deadline(friday_evening, 60)  # 30 minutes on Friday, 30 on Monday morning
    assert due == datetime(2026, 11, 30, 9, 30, tzinfo=SHANGHAI)
    assert terms.warning_time(friday_evening, due) == datetime(2026, 11, 30, 9, 18, tzinfo=SHANGHAI)
    # Paused on Friday at 17:45 with 45 working minutes left; resumed Monday 10:00 → due 10:45.
    left = terms.left(datetime(2026, 11, 27, 17, 45, tzinfo=SHANGHAI), due)
    assert left == timedelta(minutes=45)
    assert terms.after(datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI), left) == datetime(
        2026, 11, 30, 10, 45, tzinfo=SHANGHAI
    )
