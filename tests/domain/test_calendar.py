from __future__ import annotations

from datetime import UTC, date, datetime

from domain.calendar import add_business_days, expected_arrival, is_business_day
from domain.courses import Gateway


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
