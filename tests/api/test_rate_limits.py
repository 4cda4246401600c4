"""The limiter itself (api/rate_limits.py): token buckets on a clock the test moves, and which
address a request counts against. The limits on each route are tested in test_security_*."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from api.rate_limits import Limit, RateLimits, Throttled, TokenBuckets, account_key, client_address
from domain.rate_limits import RateLimit
from settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_its_burst_through_then_one_per_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(Limit.LOGIN_PER_IP, RateLimit(burst=3, period_seconds=60), clock=clock)
    for _ in range(3):
        buckets.take("a")
    with pytest.raises(Throttled) as refused:
        buckets.take("a")
    assert (refused.value.limit, refused.value.retry_after) == (Limit.LOGIN_PER_IP, 20)
    assert refused.value.headers == {"Retry-After": "20"}
    buckets.take("b")  # each key has its own bucket
    clock.now += 19
    with pytest.raises(Throttled) as still:
        buckets.take("a")
    assert still.value.retry_after == 1  # never 0: "now" would invite an instant retry
    clock.now += 1
    buckets.take("a")  # one came back
    with pytest.raises(Throttled):
        buckets.take("a")


def test_a_refused_take_takes_nothing_and_a_give_back_restores_one() -> None:
    clock = Clock()
    buckets = TokenBuckets(Limit.LOGIN_PER_IP, RateLimit(burst=2, period_seconds=3600), clock=clock)
    buckets.take("a")
    buckets.take("a")
    for _ in range(5):
        with pytest.raises(Throttled):
            buckets.take("a")
    buckets.give_back("a")
    buckets.take("a")
    buckets.give_back("a")
    buckets.give_back("a")
    buckets.give_back("a")  # never more than the burst
    buckets.take("a")
    buckets.take("a")
    with pytest.raises(Throttled):
        buckets.take("a")


def test_the_table_forgets_the_least_recently_seen_key_first_and_full_buckets_at_once() -> None:
    clock = Clock()
    buckets = TokenBuckets(Limit.LOGIN_PER_IP, RateLimit(burst=1, period_seconds=60), max_keys=2, clock=clock)
    buckets.take("old")
    buckets.take("mid")
    buckets.take("new")  # "old" is forgotten: a fresh bucket
    assert len(buckets._buckets) == 2
    buckets.take("old")
    with pytest.raises(Throttled):
        buckets.take("new")
    buckets.give_back("new")
    assert "new" not in buckets._buckets  # full again: nothing to keep


def _settings(**overrides) -> Settings:
    return Settings(
        **{"rate_limit_login_per_ip": "3/1m", "rate_limit_login_per_account": "2/1m", **overrides}
    )


def _request(peer: str = "203.0.113.9", headers: list[tuple[str, str]] = ()) -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
            "client": (peer, 50000),
        }
    )


def test_sign_in_takes_from_the_address_and_the_account_and_a_success_gives_both_back() -> None:
    throttled: list[Limit] = []
    limits = RateLimits(_settings(), on_throttled=throttled.append, clock=Clock())
    limits.sign_in(_request(), "a@x.test").release()  # successes cost nothing
    limits.sign_in(_request(), "A@X.test ")
    limits.sign_in(_request("198.51.100.1"), "a@x.test")  # the account from elsewhere
    with pytest.raises(Throttled) as refused:
        limits.sign_in(_request("192.0.2.50"), "a@x.test")
    assert refused.value.limit is Limit.LOGIN_PER_ACCOUNT
    for other in ("b", "c", "d"):  # that refusal took nothing from its address: three left
        limits.sign_in(_request("192.0.2.50"), f"{other}@x.test")
    with pytest.raises(Throttled) as from_there:
        limits.sign_in(_request("192.0.2.50"), "e@x.test")
    assert from_there.value.limit is Limit.LOGIN_PER_IP
    assert throttled == [Limit.LOGIN_PER_ACCOUNT, Limit.LOGIN_PER_IP]


def test_an_empty_setting_means_no_limit() -> None:
    limits = RateLimits(_settings(rate_limit_login_per_ip="", rate_limit_login_per_account=""))
    for _ in range(100):
        limits.sign_in(_request(), "a@x.test")


def test_webhook_refusals_keep_a_token_and_verified_calls_give_it_back() -> None:
    limits = RateLimits(
        Settings(rate_limit_webhook_refusals_per_ip="2/1m", rate_limit_webhooks_per_ip="5/1m"),
        clock=Clock(),
    )
    address = limits.webhook(_request(), "payments:alipay")
    for _ in range(3):
        with limits.refusals_counted(address):
            pass  # verified
    for _ in range(2):
        with pytest.raises(PermissionError), limits.refusals_counted(address):
            raise PermissionError("forged")
    with pytest.raises(Throttled) as refused, limits.refusals_counted(address):
        pass
    assert refused.value.limit is Limit.WEBHOOK_REFUSALS_PER_IP
    for _ in range(4):
        limits.webhook(_request(), "payments:alipay")
    with pytest.raises(Throttled) as ceiling:
        limits.webhook(_request(), "payments:alipay")
    assert ceiling.value.limit is Limit.WEBHOOKS_PER_IP
    limits.webhook(_request(), "intake_email")  # each webhook has its own ceiling


def test_the_client_is_the_tcp_peer_unless_a_proxy_header_is_configured() -> None:
    forwarded = [("X-Forwarded-For", "10.9.9.9, 203.0.113.7")]
    assert client_address(_request("192.0.2.1", forwarded), Settings()) == "192.0.2.1"
    behind = Settings(client_ip_header="X-Forwarded-For")
    # The rightmost entry is what our proxy saw; what the client wrote to the left is not believed.
    assert client_address(_request("192.0.2.1", forwarded), behind) == "203.0.113.7"
    two_proxies = Settings(client_ip_header="X-Forwarded-For", client_ip_trusted_proxies=2)
    assert client_address(_request("192.0.2.1", forwarded), two_proxies) == "10.9.9.9"
    # Fewer entries than proxies, no header, or garbage: it did not come through them; the peer.
    assert client_address(_request("192.0.2.1", forwarded[:0]), behind) == "192.0.2.1"
    assert client_address(_request("192.0.2.1", [("X-Forwarded-For", "203.0.113.7")]), two_proxies) == (
        "192.0.2.1"
    )
    assert client_address(_request("192.0.2.1", [("X-Forwarded-For", "nonsense")]), behind) == "192.0.2.1"
    several_lines = [("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-For", "203.0.113.8")]
    assert client_address(_request("192.0.2.1", several_lines), behind) == "203.0.113.8"
    real_ip = Settings(client_ip_header="X-Real-IP")
    assert client_address(_request("192.0.2.1", [("X-Real-IP", "203.0.113.5")]), real_ip) == "203.0.113.5"


def test_ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    settings = Settings()
    first = client_address(_request("2001:db8:1:2:aaaa::1"), settings)
    assert first == client_address(_request("2001:db8:1:2:bbbb::9"), settings) == "2001:db8:1:2::/64"
    assert client_address(_request("2001:db8:1:3::1"), settings) != first
    assert client_address(_request("::ffff:203.0.113.4"), settings) == "203.0.113.4"
    assert client_address(_request("testclient"), settings) == "testclient"


def test_accounts_are_kept_as_hashes_of_the_email_as_sign_in_matches_it() -> None:
    assert account_key(" Someone@Example.TEST ") == account_key("someone@example.test")
    assert "someone" not in account_key("someone@example.test")


@pytest.mark.parametrize(
    "field", ["rate_limit_login_per_ip", "rate_limit_webhooks_per_ip", "rate_limit_webhook_refusals_per_ip"]
)
def test_a_limit_setting_that_does_not_read_stops_the_start(field: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        Settings(**{field: "lots"})
    with pytest.raises(ValueError, match="PROXIES"):
        Settings(client_ip_trusted_proxies=0)
