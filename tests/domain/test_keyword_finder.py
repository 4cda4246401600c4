from __future__ import annotations

import re

import pytest

from domain.text import KeywordFinder, needs_word_start

WORDS = ("时间", "没有时间", "lag", "log in", "login", "12315", "fee")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("工作忙，没有时间", {"没有时间"}),  # the longest keyword at a position
        ("时间不够，没有时间", {"时间", "没有时间"}),
        ("Lagging, then I could not LOG IN", {"lag", "log in"}),  # lower-cased first
        ("a flag and a catalog", set()),  # English keywords start a word
        ("coffee_lag x12315", {"12315"}),  # "_" joins a word; digits match anywhere
        ("fees.lag", {"fee", "lag"}),
        ("", set()),
    ],
)
def test_keywords_are_found_in_one_pass(text: str, found: set[str]) -> None:
    assert KeywordFinder(WORDS).find(text) == found


def test_it_finds_what_searching_for_each_keyword_alone_finds_when_keywords_do_not_overlap() -> None:
    words = ("卡顿", "退款", "teacher", "refund", "sue")
    finder = KeywordFinder(words)
    for text in ("老师 teacher 卡顿 refunds", "an issue with my refund", "I will sue; 退款", "teachers"):
        one_by_one = {
            w for w in words if re.search(rf"\b{re.escape(w)}" if needs_word_start(w) else re.escape(w), text)
        }
        assert finder.find(text) == one_by_one, text


def test_no_keywords_find_nothing() -> None:
    assert KeywordFinder([]).find("anything at all") == set()
