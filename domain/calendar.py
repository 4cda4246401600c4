"""Business days in mainland China: weekends and public holidays are off, make-up working days
(调休) are on. The data comes from the chinesecalendar package, which covers years up to the one it
was released for; past that, only weekends are known, and the result says so."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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
