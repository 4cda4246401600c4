"""A report's month: a calendar month in Asia/Shanghai, the school's time, as a half-open UTC range.
A refund asked for at 2026-03-31 23:30 Beijing time (15:30 UTC) belongs to March."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.timeutil import SHANGHAI

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class ReportMonth:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> ReportMonth:
        """'2026-03' → March 2026; anything else raises ValueError with a reader's message."""
        match = MONTH_PATTERN.match(text.strip())
        if match is None:
            raise ValueError("month must look like 2026-03 (year-month)")
        year = int(match.group(1))
        if not 2000 <= year <= 2999:
            raise ValueError("month must be between 2000-01 and 2999-12")
        return cls(year, int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> ReportMonth:
        """The Shanghai month an instant falls in."""
        local = moment.astimezone(SHANGHAI)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """The first instant of the month (Shanghai midnight of the 1st), in UTC."""
        return datetime(self.year, self.month, 1, tzinfo=SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant of the next month, in UTC: the range is [start, end)."""
        return self.next().start

    def next(self) -> ReportMonth:
        return ReportMonth(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> ReportMonth:
        return ReportMonth(self.year - (self.month == 1), (self.month - 2) % 12 + 1)
