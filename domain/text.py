"""Text people type. Control characters (NUL and the like) are refused where text enters, because
PostgreSQL cannot store some of them and no person meant to type them."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def _no_control_characters(value: str) -> str:
    for char in value:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            raise ValueError(f"contains a control character (U+{ord(char):04X})")
    return value


PlainText = Annotated[str, AfterValidator(_no_control_characters)]


def keyword_pattern(word: str) -> str:
    """A regular expression for a keyword in lower-cased text: Chinese words match anywhere, English
    ones only where a word starts ("sue", not "issue"; "freez" still finds "freezes")."""
    if word.isascii() and word[0].isalpha():
        return rf"\b{re.escape(word)}"
    return re.escape(word)
