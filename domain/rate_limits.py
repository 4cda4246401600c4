"""A rate limit as the settings write it: "60/10m" lets 60 through at once, then one more every
tenth of a minute — a token bucket of 60 refilled at 60 per 10 minutes. The API's limiter
(api/rate_limits.py) keeps the buckets; docs/architecture.md (Security) says why each default."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FORMAT = re.compile(r"^\s*([0-9]+)\s*/\s*([0-9]*)\s*([smhd])\s*$")


@dataclass(frozen=True)
class RateLimit:
    burst: int  # how many at once, from rest
    period_seconds: float  # over which `burst` more are allowed again

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """ "60/10m" → 60 per 10 minutes (units s, m, h, d; "20/m" is 20 a minute); "" → no limit."""
        if not text.strip():
            return None
        match = _FORMAT.match(text)
        if not match:
            raise ValueError(f"not a rate limit like '60/10m': {text!r}")
        burst, span, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
        if burst < 1 or span < 1:
            raise ValueError(f"a rate limit needs a count and a period of at least 1: {text!r}")
        return cls(burst=burst, period_seconds=span * _UNIT_SECONDS[unit])

    @property
    def refill_seconds(self) -> float:
        """How long one more takes to come back."""
        return self.period_seconds / self.burst

    def __str__(self) -> str:
        return f"{self.burst}/{self.period_seconds:g}s"
