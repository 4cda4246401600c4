from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.notifications import QuietHours
from domain.timeutil import SHANGHAI
from settings import Settings

NIGHTS = QuietHours()
quiet_hours_wait = NIGHTS.wait


def beijing(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, tzinfo=SHANGHAI)


def test_sms_waits_from_nine_in_the_evening_until_eight_in_the_morning() -> None:
    assert quiet_hours_wait(beijing(20, 59)) == timedelta(0)
    assert quiet_hours_wait(beijing(21, 0)) == timedelta(hours=11)
    assert quiet_hours_wait(beijing(23, 30)) == timedelta(hours=8, minutes=30)
    assert quiet_hours_wait(beijing(0, 0)) == timedelta(hours=8)
    assert quiet_hours_wait(beijing(7, 59)) == timedelta(minutes=1)
    assert quiet_hours_wait(beijing(8, 0)) == timedelta(0)
    # Times come from the workflow clock in UTC: 14:00 UTC is 22:00 in Beijing.
    assert quiet_hours_wait(datetime(2026, 11, 23, 14, 0, tzinfo=UTC)) == timedelta(hours=10)


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_after_the_wait_it_is_never_quiet_hours_and_the_wait_is_at_most_a_night(now: datetime) -> None:
    wait = quiet_hours_wait(now)
    sent = (now + wait).astimezone(SHANGHAI).time()
    assert NIGHTS.end <= sent < NIGHTS.start
    assert timedelta(0) <= wait <= timedelta(hours=11)


def test_quiet_hours_are_configurable_and_may_be_switched_off() -> None:
    assert QuietHours.parse("21:00-08:00") == NIGHTS
    assert QuietHours.parse("  ") is None
    lunch = QuietHours.parse("12:00-13:30")
    assert lunch is not None
    assert lunch.wait(beijing(12, 15)) == timedelta(hours=1, minutes=15)
    assert lunch.wait(beijing(13, 30)) == timedelta(0) and lunch.wait(beijing(22, 0)) == timedelta(0)


def test_unreadable_quiet_hours_stop_the_settings_from_loading() -> None:
    with pytest.raises(ValidationError, match="sms_quiet_hours"):
        Settings(sms_quiet_hours="at night")
    assert Settings(sms_quiet_hours="").sms_quiet_hours_window is None
    assert Settings().sms_quiet_hours_window == NIGHTS
