"""The monthly complaint report's pure rules: root-cause tags, percentages, spikes."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.complaint_report import (
    RootCauseTally,
    RootCauseText,
    change_percent,
    main_root_causes,
    percent,
    repeats,
    root_cause_display,
    root_cause_key,
    rose_sharply,
    tally_root_causes,
)
from domain.complaints import ComplaintCategory

TECHNICAL, CONTENT = ComplaintCategory.TECHNICAL, ComplaintCategory.COURSE_CONTENT


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Huawei P30 ", "Huawei P30"),
        ("  huawei\t\tp30\n闪退 ", "huawei p30 闪退"),
        ("ＨＵＡＷＥＩ　Ｐ３０", "HUAWEI P30"),  # full-width letters and the ideographic space
        ("登录验证码收不到", "登录验证码收不到"),
    ],
)
def test_a_tag_is_shown_trimmed_with_single_spaces_and_half_width(typed: str, shown: str) -> None:
    assert root_cause_display(typed) == shown


def test_spellings_that_differ_in_case_and_spaces_are_one_root_cause() -> None:
    assert {
        root_cause_key(t) for t in ("Huawei P30 ", "huawei  p30", "HUAWEI P30", "ＨＵＡＷＥＩ Ｐ３０")
    } == {"huawei p30"}
    assert root_cause_key("Huawei P30") != root_cause_key("Huawei P30 Pro")


def test_a_typed_tag_is_validated_into_its_display_form() -> None:
    tag = TypeAdapter(RootCauseText)
    assert tag.validate_python("  Huawei   P30 ") == "Huawei P30"
    assert tag.validate_python("字" * 120) == "字" * 120
    assert tag.validate_python(" " + "a " * 60) == ("a " * 60).strip()  # 119 once collapsed
    for refused in ("", "   ", "\u3000", "字" * 121, "bad\x00tag"):
        with pytest.raises(ValidationError):
            tag.validate_python(refused)


def test_tallies_merge_spellings_and_show_the_most_used_one() -> None:
    tallies = tally_root_causes(
        [
            (TECHNICAL, "Huawei P30 闪退", 2),
            (TECHNICAL, "huawei p30 闪退", 1),
            (CONTENT, "HUAWEI  P30 闪退", 1),
            (CONTENT, "高阶算法预备知识", 3),
            (TECHNICAL, "回放加载慢", 1),
        ]
    )
    assert [(t.root_cause, t.complaints, t.by_category) for t in tallies] == [
        ("Huawei P30 闪退", 4, {TECHNICAL: 3, CONTENT: 1}),
        ("高阶算法预备知识", 3, {CONTENT: 3}),
        ("回放加载慢", 1, {TECHNICAL: 1}),
    ]
    assert [repeats(t) for t in tallies] == [True, True, False]
    assert main_root_causes(tallies, CONTENT) == [("高阶算法预备知识", 3), ("Huawei P30 闪退", 1)]
    assert main_root_causes(tallies, None) == []


def test_a_tie_between_spellings_shows_the_one_that_sorts_first() -> None:
    [tally] = tally_root_causes([(TECHNICAL, "huawei p30", 1), (TECHNICAL, "Huawei P30", 1)])
    assert tally == RootCauseTally("Huawei P30", 2, {TECHNICAL: 2}, {"huawei p30": 1, "Huawei P30": 1})


def test_a_category_names_its_three_main_root_causes_ties_by_name() -> None:
    tallies = tally_root_causes(
        [(TECHNICAL, name, n) for name, n in (("d", 1), ("c", 1), ("b", 5), ("a", 1))]
    )
    assert main_root_causes(tallies, TECHNICAL) == [("b", 5), ("a", 1), ("c", 1)]


def test_percentages_to_one_decimal_rounding_halves_up() -> None:
    assert percent(23, 86) == 26.7
    assert percent(1, 8) == 12.5
    assert percent(1, 16) == 6.3  # 6.25: half up, not to even
    assert percent(-1, 16) == -6.3
    assert percent(0, 5) == 0.0
    assert percent(3, 0) is None


def test_change_against_last_month() -> None:
    assert change_percent(23, 20) == 15.0
    assert change_percent(57, 50) == 14.0
    assert change_percent(0, 3) == -100.0
    assert change_percent(6, 0) is None  # no base to take a percentage of


@pytest.mark.parametrize(
    ("count", "last_month", "spike"),
    [
        (23, 20, True),  # exactly +15 %
        (57, 50, False),  # +14 %
        (115, 100, True),
        (114, 100, False),
        (6, 0, True),  # up from none, at volume
        (5, 0, True),  # the minimum count
        (4, 0, False),  # too few to mean anything
        (4, 1, False),  # +300 %, but four complaints
        (5, 4, True),  # +25 % with the minimum count
        (10, 20, False),  # fell
        (0, 0, False),
    ],
)
def test_a_category_spikes_when_up_15_percent_with_at_least_five(
    count: int, last_month: int, spike: bool
) -> None:
    assert rose_sharply(count, last_month) is spike
