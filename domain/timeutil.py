"""Time is timezone-aware UTC in storage and workflows, and shown to people in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Attach UTC to a naive datetime (as SQLite returns them); convert an aware one."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def shanghai_text(moment: datetime) -> str:
    """'2026-11-23 14:30' in Asia/Shanghai time."""
    return as_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _to_utc(moment: datetime) -> datetime:
    try:
        return as_utc(moment)
    except OverflowError as exc:  # e.g. year 1 at UTC+1: no such instant in UTC
        raise ValueError("this time cannot be expressed in UTC") from exc


# An input time that must say its timezone; it is converted to UTC as it is read.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
