"""The monthly complaint report's rules, pure: how a lead's root-cause tag is written and grouped,
the improvement actions' statuses, and the arithmetic of shares, changes and spikes. The report
itself (api/services/complaint_report.py) counts in SQL and hands the counts to these functions.

The table the complaint article shows — each category's share this month, the change against last
month, the main root causes, the improvement actions — plus SLA attainment, satisfaction and spikes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

from domain.complaints import ComplaintCategory
from domain.text import NO_CONTROL_CHARACTERS

ROOT_CAUSE_MAX_LENGTH = 120  # complaints.root_cause, improvement_actions.root_cause
MAIN_ROOT_CAUSES = 3  # the tags a category's row names, most frequent first
# A category "spikes" when it rose by this many percent or more against last month…
SPIKE_RISE_PERCENT = 15
# …with at least this many complaints this month: 2 after 1 is +100% and means nothing.
SPIKE_MIN_COMPLAINTS = 5
# A root cause "repeats" when this many complaints of the month carry the same tag (any category):
# the article's "one phone model keeps crashing the app".
REPEATED_ROOT_CAUSE_MIN = 3


class SpikeKind(StrEnum):
    CATEGORY_ROSE = "category_rose"  # rose_sharply
    ROOT_CAUSE_REPEATED = "root_cause_repeated"  # repeats


class ImprovementStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


# --- root-cause tags -------------------------------------------------------------------------------


def root_cause_display(text: str) -> str:
    """A tag as it is stored and shown: NFKC-normalised (full-width "ＰＣ" is "PC", the ideographic
    space a space), every run of spaces one space, trimmed. The lead's capitals are kept."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def root_cause_key(text: str) -> str:
    """What makes two tags the same: "Huawei P30 " and "huawei  p30" are one root cause."""
    return root_cause_display(text).casefold()


def _valid_root_cause(text: str) -> str:
    shown = root_cause_display(text)
    if not shown:
        raise ValueError("a root cause needs at least one character that is not a space")
    if len(shown) > ROOT_CAUSE_MAX_LENGTH:
        raise ValueError(f"a root cause is at most {ROOT_CAUSE_MAX_LENGTH} characters")
    return shown


# A tag as a lead types it; validated into its display form.
RootCauseText = Annotated[str, NO_CONTROL_CHARACTERS, AfterValidator(_valid_root_cause)]


@dataclass
class RootCauseTally:
    """One root cause of the month: its display form, how many complaints carry it, and where."""

    root_cause: str
    complaints: int = 0
    by_category: dict[ComplaintCategory | None, int] = field(default_factory=dict)
    spellings: dict[str, int] = field(default_factory=dict)

    def where(self) -> list[tuple[ComplaintCategory | None, int]]:
        """The categories it was tagged in, the most first (ties in the categories' order)."""
        order: list[ComplaintCategory | None] = [*ComplaintCategory, None]
        return sorted(self.by_category.items(), key=lambda pair: (-pair[1], order.index(pair[0])))


def tally_root_causes(
    counted: Iterable[tuple[ComplaintCategory | None, str, int]],
) -> list[RootCauseTally]:
    """Counts per (category, stored spelling) → one tally per root cause, the most frequent first
    (ties in the order of the key). Each is shown in its most used spelling (ties: the one that
    sorts first), so "Huawei P30" ×2 and "huawei p30" ×1 read "Huawei P30" ×3."""
    tallies: dict[str, RootCauseTally] = {}
    for category, spelling, complaints in counted:
        tally = tallies.setdefault(root_cause_key(spelling), RootCauseTally(root_cause=spelling))
        tally.complaints += complaints
        tally.by_category[category] = tally.by_category.get(category, 0) + complaints
        shown = root_cause_display(spelling)
        tally.spellings[shown] = tally.spellings.get(shown, 0) + complaints
    for tally in tallies.values():
        tally.root_cause = min(tally.spellings, key=lambda shown: (-tally.spellings[shown], shown))
    return sorted(tallies.values(), key=lambda tally: (-tally.complaints, root_cause_key(tally.root_cause)))


def main_root_causes(
    tallies: Iterable[RootCauseTally], category: ComplaintCategory | None
) -> list[tuple[str, int]]:
    """A category's MAIN_ROOT_CAUSES most frequent tags with their counts in that category."""
    mine = [
        (tally.root_cause, tally.by_category[category]) for tally in tallies if category in tally.by_category
    ]
    mine.sort(key=lambda pair: (-pair[1], root_cause_key(pair[0])))
    return mine[:MAIN_ROOT_CAUSES]


# --- arithmetic ------------------------------------------------------------------------------------


def percent(part: int, whole: int) -> float | None:
    """part of whole in percent, to one decimal, halves rounded up (as people round); None when
    there is no whole to take a part of."""
    if whole == 0:
        return None
    exact = Decimal(part * 100) / Decimal(whole)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def change_percent(count: int, last_month: int) -> float | None:
    """The change against last month in percent of last month (23 after 20: +15.0); None when last
    month had none, where no percentage means anything."""
    if last_month == 0:
        return None
    return percent(count - last_month, last_month)


def rose_sharply(count: int, last_month: int) -> bool:
    """A category's spike: at least SPIKE_MIN_COMPLAINTS this month and up SPIKE_RISE_PERCENT % or
    more against last month — or up from none at all, which at that volume is news too. Counted in
    whole numbers, so 23 after 20 (exactly +15 %) is a spike and 57 after 50 (+14 %) is not."""
    if count < SPIKE_MIN_COMPLAINTS:
        return False
    return last_month == 0 or (count - last_month) * 100 >= SPIKE_RISE_PERCENT * last_month


def repeats(tally: RootCauseTally) -> bool:
    return tally.complaints >= REPEATED_ROOT_CAUSE_MIN
