"""Business days in mainland China: weekends and public holidays are off, make-up working days
(调休) are on. The data comes from the chinesecalendar package, which covers years up to the one it
was released for; past that, only weekends are known, and the result says so."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar

from domain.courses import Gateway
from domain.timeutil import SHANGHAI

# How many business days a refund usually takes to reach the student once the gateway has it
# (bank cards are the slowest path; balances arrive sooner). Said to students as "by this date".
ARRIVAL_BUSINESS_DAYS: dict[Gateway, int] = {Gateway.WECHATPAY: 3, Gateway.ALIPAY: 3}


def is_business_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # no holiday data for that year yet
        return day.weekday() < 5


def add_business_days(start: date, days: int) -> date:
    """The date `days` business days after start (start itself does not count)."""
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day


def expected_arrival(gateway: Gateway, sent_at: datetime) -> date:
    """When a refund handed to the gateway at sent_at should have reached the student."""
    return add_business_days(sent_at.astimezone(SHANGHAI).date(), ARRIVAL_BUSINESS_DAYS[gateway])


# Working hours for SLAs counted in business hours only (Beijing time, business days).
WORKDAY_START = time(9, 0)
WORKDAY_END = time(18, 0)


def _working_window(day: date) -> tuple[datetime, datetime] | None:
    if not is_business_day(day):
        return None
    return (
        datetime.combine(day, WORKDAY_START, tzinfo=SHANGHAI),
        datetime.combine(day, WORKDAY_END, tzinfo=SHANGHAI),
    )


def add_business_minutes(start: datetime, minutes: int) -> datetime:
    return add_business_time(start, timedelta(minutes=minutes))


def add_business_time(start: datetime, working: timedelta) -> datetime:
    """The moment `working` time after start, counting only 09:00–18:00 Beijing time on business
    days (holidays off, make-up working days on)."""
    moment = start.astimezone(SHANGHAI)
    remaining = working
    while True:
        window = _working_window(moment.date())
        if window is not None:
            opens, closes = window
            moment = max(moment, opens)
            if moment < closes:
                if remaining <= closes - moment:
                    return (moment + remaining).astimezone(UTC)
                remaining -= closes - moment
        moment = datetime.combine(moment.date() + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def business_time_between(start: datetime, end: datetime) -> timedelta:
    """Working time (as add_business_minutes counts it) from start to end; zero if end is earlier."""
    total = timedelta(0)
    moment = start.astimezone(SHANGHAI)
    end = end.astimezone(SHANGHAI)
    while moment < end:
        window = _working_window(moment.date())
        if window is not None:
            opens, closes = window
            overlap = min(closes, end) - max(opens, moment)
            total += max(overlap, timedelta(0))
        moment = datetime.combine(moment.date() + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return total
