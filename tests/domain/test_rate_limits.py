from __future__ import annotations

import pytest

from domain.rate_limits import RateLimit


@pytest.mark.parametrize(
    ("text", "burst", "period"),
    [("60/10m", 60, 600), ("20/m", 20, 60), ("3000/1m", 3000, 60), (" 5 / 2h ", 5, 7200), ("1/1d", 1, 86400)],
)
def test_a_limit_is_a_burst_over_a_period(text: str, burst: int, period: float) -> None:
    limit = RateLimit.parse(text)
    assert limit == RateLimit(burst=burst, period_seconds=period)
    assert limit.refill_seconds == period / burst


def test_an_empty_limit_is_none() -> None:
    assert RateLimit.parse("") is None and RateLimit.parse("  ") is None


@pytest.mark.parametrize("text", ["60", "60/", "/10m", "0/1m", "10/0m", "10/1w", "-1/1m", "ten/1m", "1.5/1m"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        RateLimit.parse(text)
