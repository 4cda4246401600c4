from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import (
    add_business_days,
    add_business_minutes,
    business_time_between,
    expected_arrival,
    is_business_day,
)
from domain.courses import Gateway
from domain.timeutil import SHANGHAI


def test_weekends_holidays_and_make_up_days() -> None:
    assert not is_business_day(date(2026, 11, 21))  # a Saturday
    assert is_business_day(date(2026, 11, 23))  # a Monday
    assert not is_business_day(date(2026, 10, 1))  # National Day
    assert is_business_day(date(2026, 10, 10))  # a Saturday worked to make up for the holiday


def test_business_days_skip_the_national_day_holiday() -> None:
    # Approved on the last working day before the holiday: three business days land after it.
    assert add_business_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert add_business_days(date(2026, 11, 20), 3) == date(2026, 11, 25)  # Friday + 3 skips the weekend


def test_years_without_holiday_data_still_skip_weekends() -> None:
    assert add_business_days(date(2031, 1, 3), 1) == date(2031, 1, 6)  # Friday -> Monday


def test_the_arrival_date_counts_from_the_day_in_beijing() -> None:
    # 23:30 UTC on Sunday the 22nd is already Monday the 23rd in Beijing.
    assert expected_arrival(Gateway.WECHATPAY, datetime(2026, 11, 22, 23, 30, tzinfo=UTC)) == date(
        2026, 11, 26
    )


# 2026 as chinesecalendar has it: 国庆 off 10-01 … 10-07, Saturday 10-10 a make-up working day.
def beijing(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def test_business_minutes_skip_nights_weekends_and_holidays_and_count_make_up_days() -> None:
    assert add_business_minutes(beijing(11, 23, 10), 60) == beijing(11, 23, 11)  # a Monday
    assert add_business_minutes(beijing(11, 23, 17, 30), 60) == beijing(11, 24, 9, 30)  # over the night
    assert add_business_minutes(beijing(11, 27, 17, 30), 60) == beijing(11, 30, 9, 30)  # Friday → Monday
    assert add_business_minutes(beijing(11, 23, 7, 0), 10) == beijing(11, 23, 9, 10)  # before opening
    # Across the National Day holiday: from the last day before it to the first day after.
    assert is_business_day(date(2026, 9, 30)) and not is_business_day(date(2026, 10, 5))
    assert add_business_minutes(beijing(9, 30, 17, 0), 120) == beijing(10, 8, 10, 0)
    # A make-up working day (a Saturday) counts.
    assert is_business_day(date(2026, 10, 10))
    assert add_business_minutes(beijing(10, 9, 17, 0), 120) == beijing(10, 10, 10, 0)
    assert add_business_minutes(beijing(10, 10, 17, 0), 120) == beijing(10, 12, 10, 0)  # Sunday is off


@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(SHANGHAI)
    ),
    st.integers(min_value=0, max_value=5 * 9 * 60),
)
def test_the_business_time_to_a_deadline_is_what_was_added(start: datetime, minutes: int) -> None:
    due = add_business_minutes(start, minutes)
    assert due >= start
    assert business_time_between(start, due) == timedelta(minutes=minutes)
