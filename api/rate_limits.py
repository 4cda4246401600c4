"""Rate limits on what anyone may call without signing in: sign-in, per client address and per
account, and the webhooks outside systems call (payment gateways' notifications, the mail relay,
WeChat's Official Account server), per client address.

A sign-in attempt takes a token from its address's bucket and its account's, and a success gives
them back: only failures count, so a school office behind one address is not slowed by its own
people signing in, while a password guesser is, from one address or from many. A webhook call
takes a token from its channel's bucket for that address (a ceiling far above what a gateway
sends), and one that fails verification keeps a token of a much smaller bucket: a legitimate
gateway's notifications verify, so only forgers and misconfigured peers run into that one.

The buckets live in this process's memory, bounded in size (the least recently seen address or
account is forgotten first). Each API process counts on its own: N replicas behind a balancer let
up to N times the configured numbers through, and a restart forgets. docs/architecture.md
(Security) has the numbers and their reasons.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import Request

from domain.rate_limits import RateLimit
from settings import Settings

# Per bucket set; ~250 bytes each, so a few tens of MB at most under a flood of new addresses.
MAX_KEYS = 50_000


class Limit(StrEnum):
    """Which limit refused a request (the label of a metric)."""

    LOGIN_PER_IP = "login_per_ip"
    LOGIN_PER_ACCOUNT = "login_per_account"
    WEBHOOKS_PER_IP = "webhooks_per_ip"
    WEBHOOK_REFUSALS_PER_IP = "webhook_refusals_per_ip"


class Throttled(Exception):
    """Refused by a rate limit: answer 429 with Retry-After."""

    def __init__(self, limit: Limit, wait_seconds: float) -> None:
        super().__init__(f"{limit.value}: try again in {wait_seconds:.0f} s")
        self.limit = limit
        # Whole seconds, never 0 (an instant retry would be refused again); rounded first so a
        # float's last bit does not add a second.
        self.retry_after = max(1, math.ceil(round(wait_seconds, 6)))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TokenBuckets:
    """One token bucket per key, thread-safe (sign-in runs on the thread pool)."""

    def __init__(
        self,
        limit: Limit,
        rate: RateLimit,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.rate = rate
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, when)
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        tokens, when = self._buckets.get(key, (self.rate.burst, now))
        return min(self.rate.burst, tokens + (now - when) / self.rate.refill_seconds)

    def _keep(self, key: str, tokens: float, now: float) -> None:
        if tokens >= self.rate.burst:
            self._buckets.pop(key, None)  # a full bucket is the same as none
            return
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def take(self, key: str) -> None:
        """Take a token, or raise Throttled (taking nothing) saying how long until one is back."""
        with self._lock:
            now = self._clock()
            level = self._level(key, now)
            if level < 1:
                raise Throttled(self.limit, (1 - level) * self.rate.refill_seconds)
            self._keep(key, level - 1, now)

    def give_back(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            self._keep(key, self._level(key, now) + 1, now)


@dataclass(frozen=True)
class Reservation:
    """The tokens a request took: kept if it fails, given back when it succeeds."""

    taken: tuple[tuple[TokenBuckets, str], ...]

    def release(self) -> None:
        for buckets, key in self.taken:
            buckets.give_back(key)


def _buckets(limit: Limit, text: str, clock: Callable[[], float]) -> TokenBuckets | None:
    rate = RateLimit.parse(text)
    return TokenBuckets(limit, rate, clock=clock) if rate else None


class RateLimits:
    """The API's limits, built once per app from the settings. on_throttled hears of each refusal
    (the metrics count them)."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_throttled: Callable[[Limit], None] = lambda _limit: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._on_throttled = on_throttled
        self.login_per_ip = _buckets(Limit.LOGIN_PER_IP, settings.rate_limit_login_per_ip, clock)
        self.login_per_account = _buckets(
            Limit.LOGIN_PER_ACCOUNT, settings.rate_limit_login_per_account, clock
        )
        self.webhooks = _buckets(Limit.WEBHOOKS_PER_IP, settings.rate_limit_webhooks_per_ip, clock)
        self.webhook_refusals = _buckets(
            Limit.WEBHOOK_REFUSALS_PER_IP, settings.rate_limit_webhook_refusals_per_ip, clock
        )

    def _take_all(self, wanted: list[tuple[TokenBuckets | None, str]]) -> Reservation:
        taken: list[tuple[TokenBuckets, str]] = []
        try:
            for buckets, key in wanted:
                if buckets is not None:
                    buckets.take(key)
                    taken.append((buckets, key))
        except Throttled as exc:
            for buckets, key in taken:  # all or nothing
                buckets.give_back(key)
            self._on_throttled(exc.limit)
            raise
        return Reservation(tuple(taken))

    def sign_in(self, request: Request, email: str) -> Reservation:
        """Before checking a password: raises Throttled when this address or this account (whether
        it exists or not, so a refusal tells nothing about it) has failed too often. Release the
        reservation when the password was right."""
        return self._take_all(
            [
                (self.login_per_ip, client_address(request, self._settings)),
                (self.login_per_account, account_key(email)),
            ]
        )

    def webhook(self, request: Request, channel: str) -> str:
        """Before reading a webhook call: raises Throttled past the channel's ceiling for this
        address. Returns the address, for `refusals_counted`."""
        address = client_address(request, self._settings)
        self._take_all([(self.webhooks, f"{channel} {address}")])
        return address

    @contextmanager
    def refusals_counted(self, address: str) -> Iterator[None]:
        """Around a webhook's verification: raises Throttled when this address has failed it too
        often; an exception inside (a refusal) keeps the token it took, a clean exit gives it back."""
        reservation = self._take_all([(self.webhook_refusals, address)])
        yield
        reservation.release()


def account_key(email: str) -> str:
    """As sign-in matches accounts (trimmed, lower case), hashed: the table holds no addresses."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def client_address(request: Request, settings: Settings) -> str:
    """Who is calling, as the limits count them. Behind a reverse proxy, the address it wrote in
    AFTERCARE_CLIENT_IP_HEADER (in X-Forwarded-For, the entry AFTERCARE_CLIENT_IP_TRUSTED_PROXIES
    from the right: what our own outermost proxy saw; entries further left are the client's say);
    otherwise the TCP peer. IPv6 counts by /64, what one subscriber usually holds."""
    peer = request.client.host if request.client else "unknown"
    if settings.client_ip_header:
        entries = [
            entry.strip()
            for line in request.headers.getlist(settings.client_ip_header)
            for entry in line.split(",")
            if entry.strip()
        ]
        hops = settings.client_ip_trusted_proxies
        if len(entries) >= hops and _ip(entries[-hops]) is not None:
            peer = entries[-hops]
    address = _ip(peer)
    if address is None:
        return peer[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
