"""Signing in under attack: failed attempts are limited per client address and per account (API
token and console form share the buckets), a refusal looks the same whether the account exists or
not, successes never count, and passwords are stored as argon2 hashes only.

Elsewhere: a wrong password and an unknown account answer alike (test_auth.py:
test_wrong_password_and_unknown_user_look_the_same); a sign-in form posted from another site is
refused (test_console_pages.py); the limiter's arithmetic (test_rate_limits.py)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from api import security
from api.security import verify_password
from db.engine import SessionFactory
from db.models import User
from devstack.processes import free_port
from domain.roles import Role
from settings import Settings
from tests.api.helpers import auth
from tests.factories import PASSWORD, make_user

OURS = {"Origin": "http://testserver"}


@pytest.fixture(scope="module")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        jwt_secret="api-test-secret-0123456789abcdef0123456789",
        sandbox_gateway_port=free_port(),
        rate_limit_login_per_ip="6/1h",
        rate_limit_login_per_account="3/1h",
        client_ip_header="X-Forwarded-For",  # each test signs in from addresses of its own
    )


def token(api: TestClient, email: str, password: str, address: str):
    return api.post(
        "/api/auth/token",
        data={"username": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


def form(api: TestClient, email: str, password: str, address: str):
    return api.post(
        "/login",
        data={"email": email, "password": password, "next": "/"},
        headers={**OURS, "X-Forwarded-For": address},
        follow_redirects=False,
    )


def _counter(api: TestClient, name: str) -> float:
    line = next(line for line in api.get("/metrics").text.splitlines() if line.startswith(f"{name} "))
    return float(line.split()[-1])


def _without_numbers(text: str) -> str:
    return re.sub(r"[0-9]+", "N", text)


def _answer(response) -> tuple:
    return response.status_code, response.headers.get("Retry-After"), response.text


def test_guessing_one_accounts_password_from_many_addresses_is_slowed_and_says_nothing_of_the_account(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    user = make_user(api_sessions, Role.REVIEWER)
    nobody = "nobody-at-all@example.test"
    failures = _counter(api, "aftercare_sign_in_failures_total")
    throttled = _counter(api, 'aftercare_requests_throttled_total{limit="login_per_account"}')
    for number in range(3):  # a new address each time: only the account's bucket runs dry
        real = token(api, user.email, f"guess-{number}", f"198.51.100.{number}")
        ghost = token(api, nobody, f"guess-{number}", f"198.51.100.{100 + number}")
        assert _answer(real) == _answer(ghost) and real.status_code == 401
    for attempt in (
        lambda email: token(api, email, "guess-4", "198.51.100.50"),
        lambda email: form(api, email, "guess-4", "198.51.100.51"),  # the console shares the buckets
    ):
        real, ghost = attempt(user.email), attempt(nobody)
        assert real.status_code == ghost.status_code == 429
        assert 0 < int(real.headers["Retry-After"]) <= 1200  # one more every 20 minutes
        # The same wait, but for the moments between the two requests (each bucket ran dry when its
        # own third guess came in), and otherwise the same answer (the form shows the email typed).
        assert abs(int(real.headers["Retry-After"]) - int(ghost.headers["Retry-After"])) <= 2
        assert _without_numbers(real.text.replace(user.email, nobody)) == _without_numbers(ghost.text)
    # Even the right password waits: a guesser must not learn it was right.
    right = token(api, user.email.upper(), PASSWORD, "198.51.100.60")
    assert right.status_code == 429 and "access_token" not in right.text
    page = form(api, user.email, PASSWORD, "198.51.100.61")
    assert page.status_code == 429 and "aftercare_session" not in page.headers.get("set-cookie", "")
    assert "登录失败次数过多" in page.text
    assert _counter(api, "aftercare_sign_in_failures_total") == failures + 6
    assert _counter(api, 'aftercare_requests_throttled_total{limit="login_per_account"}') == throttled + 6
    # Other accounts sign in as ever.
    assert token(api, make_user(api_sessions, Role.AGENT).email, PASSWORD, "198.51.100.60").status_code == 200


def test_spraying_many_accounts_from_one_address_is_slowed_there_only(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    here, elsewhere = "203.0.113.20", "203.0.113.21"
    victims = [make_user(api_sessions, Role.STUDENT) for _ in range(7)]
    for victim in victims[:6]:
        assert token(api, victim.email, "123456", here).status_code == 401
    refused = token(api, victims[6].email, PASSWORD, here)  # the right password, but from here
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 600
    assert form(api, victims[6].email, PASSWORD, here).status_code == 429
    assert token(api, victims[6].email, PASSWORD, elsewhere).status_code == 200
    # The accounts themselves were tried once each: no one is locked out by a sprayer.
    assert token(api, victims[0].email, PASSWORD, elsewhere).status_code == 200


def test_successful_sign_ins_never_count_so_a_shared_office_address_is_not_held_back(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    office = "192.0.2.30"
    staff = [make_user(api_sessions, role) for role in (Role.AGENT, Role.REVIEWER, Role.LEAD)]
    for _ in range(5):
        for user in staff:
            assert token(api, user.email, PASSWORD, office).status_code == 200
            assert form(api, user.email, PASSWORD, office).status_code == 303
    assert token(api, staff[0].email, "typo", office).status_code == 401  # a typo still counts, once


def test_a_form_from_another_site_is_refused_without_checking_or_counting_a_password(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    user = make_user(api_sessions, Role.STUDENT)
    for _ in range(10):  # far past the account's 3: none of these was a guess
        foreign = api.post(
            "/login",
            data={"email": user.email, "password": "guess"},
            headers={"Origin": "https://evil.example", "X-Forwarded-For": "192.0.2.40"},
            follow_redirects=False,
        )
        assert foreign.status_code == 401
    assert token(api, user.email, PASSWORD, "192.0.2.41").status_code == 200


def test_passwords_are_stored_as_argon2_hashes_never_as_themselves(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    password = "a first password, handed over once"
    created = api.post(
        "/api/users",
        json={
            "email": "new-agent@example.test",
            "display_name": "新客服",
            "role": "agent",
            "password": password,
        },
        headers=admin,
    )
    assert created.status_code == 201 and password not in created.text
    with api_sessions() as session:
        stored = session.get(User, created.json()["user_id"])
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$") and password not in stored.password_hash
    assert verify_password(password, stored.password_hash) and not verify_password(
        "guess", stored.password_hash
    )
    # The same password hashes differently each time (a salt per hash).
    other = api.post(
        "/api/users",
        json={
            "email": "other-agent@example.test",
            "display_name": "客服",
            "role": "agent",
            "password": password,
        },
        headers=admin,
    ).json()
    with api_sessions() as session:
        assert session.get(User, other["user_id"]).password_hash != stored.password_hash
    assert token(api, "new-agent@example.test", password, "192.0.2.50").status_code == 200


def test_a_crowd_of_sign_ins_checks_a_few_passwords_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 takes 64 MiB a check: a flood of sign-ins (from many addresses, each within its limit)
    must not run forty at once."""
    inside, most = 0, 0
    lock = threading.Lock()
    real = security._hasher.verify

    def counted(password: str, password_hash: str) -> bool:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.05)
            return real(password, password_hash)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(security._hasher, "verify", counted)
    threads = [
        threading.Thread(target=security.verify_password_or_dummy, args=("guess", None)) for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == security.PASSWORD_CHECKS_AT_ONCE
