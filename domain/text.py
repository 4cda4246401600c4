"""Text people type. Control characters (NUL and the like) are refused where text enters, because
PostgreSQL cannot store some of them and no person meant to type them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from pydantic import AfterValidator

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def _no_control_characters(value: str) -> str:
    for char in value:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            raise ValueError(f"contains a control character (U+{ord(char):04X})")
    return value


# On every field of text people type, after its length: `Annotated[str, Field(max_length=…),
# NO_CONTROL_CHARACTERS]`. In that order pydantic checks the length on the str itself and says
# "at most 100 characters"; a length given after a validator it counts in "items"
# (tests/api/test_text_lengths.py holds every model to it).
NO_CONTROL_CHARACTERS = AfterValidator(_no_control_characters)


# --- keywords ------------------------------------------------------------------------------------


def needs_word_start(keyword: str) -> bool:
    """How keywords match lower-cased text: Chinese ones anywhere, English ones only where a word
    starts ("sue" not in "issue"; "freez" in "freezes")."""
    return keyword.isascii() and keyword[0].isalpha()


class KeywordFinder:
    """Which of many keywords a text mentions, found in one pass: the keywords make one regular
    expression shaped like a trie, so each position of the text is tried once rather than once per
    keyword (fast enough for a month of refund reasons). Matches are taken left to right without
    overlapping, the longest at each position."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self._pattern = re.compile(_trie_pattern(sorted(set(keywords))))

    def find(self, text: str) -> set[str]:
        lowered = text.lower()
        return {
            match.group()
            for match in self._pattern.finditer(lowered)
            if not (needs_word_start(match.group()) and _inside_a_word(lowered, match.start()))
        }


def _inside_a_word(text: str, position: int) -> bool:
    """Whether a letter, digit or underscore (a word character to regular expressions) comes just before."""
    return position > 0 and (text[position - 1].isalnum() or text[position - 1] == "_")


def _trie_pattern(keywords: list[str]) -> str:
    if not keywords:
        return "(?!)"  # matches nothing
    trie: dict[str, dict] = {}
    for keyword in keywords:
        node = trie
        for char in keyword:
            node = node.setdefault(char, {})
        node[""] = {}  # a keyword ends here

    def branches(node: dict[str, dict]) -> str:
        alternatives = [re.escape(char) + branches(child) for char, child in node.items() if char]
        if not alternatives:
            return ""
        either = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        return f"(?:{either})?" if "" in node else either  # greedy: the longer keyword first

    return branches(trie)
