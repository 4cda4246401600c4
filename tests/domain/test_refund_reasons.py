from __future__ import annotations

import pytest

from domain.refund_reasons import (
    REASON_LABELS,
    TOPIC_KEYWORDS,
    TOPIC_PREFERENCE,
    RefundReasonCode,
    reason_keywords,
    reason_topic,
)

Code = RefundReasonCode


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("工作调动，没有时间上课", Code.SCHEDULE_CONFLICT),
        ("最近总加班，上课时间对不上", Code.SCHEDULE_CONFLICT),
        ("I'm too busy at work this term", Code.SCHEDULE_CONFLICT),
        ("课程内容太简单，没什么用", Code.COURSE_QUALITY),
        ("The course is not as advertised", Code.COURSE_QUALITY),
        ("班主任一直不回消息", Code.TEACHER),
        ("I don't get along with the tutor", Code.TEACHER),
        ("直播总是卡顿，回放也加载不出来", Code.TECHNICAL_PROBLEM),
        ("The video freezes every few minutes", Code.TECHNICAL_PROBLEM),
        ("别家便宜一半，太贵了", Code.PRICE),
        ("I can't afford it any more", Code.PRICE),
        ("不小心买错了课程", Code.BOUGHT_BY_MISTAKE),
        ("Bought twice by accident", Code.BOUGHT_BY_MISTAKE),
        ("家里有事，孩子生病住院", Code.PERSONAL),
        ("Personal reasons, sorry", Code.PERSONAL),
        ("不想要了", Code.OTHER),
        ("", Code.OTHER),
    ],
)
def test_free_text_is_grouped_by_its_keywords(text: str, topic: RefundReasonCode) -> None:
    assert reason_topic(text) is topic


def test_the_topic_with_most_keywords_wins_and_ties_go_to_the_more_specific_one() -> None:
    # Two course words against one teacher word.
    assert reason_topic("老师讲的内容太难") is Code.COURSE_QUALITY
    # One each: a teacher is more specific than the course.
    assert reason_topic("老师讲得听不懂") is Code.TEACHER
    # One each: a mistake before anything about the course.
    assert reason_topic("买错了，内容不是我要的") is Code.BOUGHT_BY_MISTAKE


def test_english_keywords_count_only_where_a_word_starts() -> None:
    assert reason_keywords("a flag on my account, the catalog") == set()
    assert reason_topic("I would like to apply for a refund") is Code.OTHER
    assert reason_keywords("Lagging and crashes") == {"lag", "crash"}


def test_each_keyword_belongs_to_one_topic_and_every_topic_has_a_place_in_the_tie_order() -> None:
    words = [word for keywords in TOPIC_KEYWORDS.values() for word in keywords]
    assert len(words) == len(set(words))
    assert all(word == word.lower() for word in words)
    assert set(TOPIC_PREFERENCE) == set(TOPIC_KEYWORDS) == set(Code) - {Code.OTHER}


def test_every_code_has_a_label_in_both_languages() -> None:
    for labels in REASON_LABELS.values():
        assert set(labels) == {code.value for code in Code}
        assert all(label.strip() for label in labels.values())
