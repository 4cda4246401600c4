"""SQL injection (and other hostile values) in every path and query parameter of every GET route of
the API and the console, as every role: the answer is a refusal (4xx) or an ordinary answer, never
a 500 or a database error, a student never sees another student's case through it, and every table
holds what it held. The routes and their parameters are read from the routers themselves, so a new
filter is probed the day it is added."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

import api.pages
import api.routes
from api.pages.session import SESSION_COOKIE
from db.engine import SessionFactory
from domain.roles import Role
from tests.factories import PASSWORD, make_complaint, make_order, make_refund, make_user

PAYLOADS = [
    "' OR '1'='1",
    "1; DROP TABLE refunds; --",
    '" OR 1=1 --',
    "%' OR 1=1 --",
    "x') UNION SELECT password_hash, email FROM users --",
    "2026-03' OR '1'='1",
    "awaiting_review' OR status LIKE '%",
    "\x00",
    "a\x00' OR 1=1 --",
    "../../etc/passwd",
    "9" * 400,
    "-1",
    "𠮷" * 50,
]
# What a database error would show if it reached an answer.
LEAK_MARKERS = (
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "Traceback",
    "syntax error",
    "OperationalError",
    "DataError",
)


@dataclass(frozen=True)
class Probe:
    path: str
    param: str
    where: str  # "path" or "query"
    page: bool  # a console page (signed in by cookie) rather than the API (bearer token)


def _params(dependant, kind: str) -> set[str]:
    found = {param.alias for param in getattr(dependant, kind)}
    for sub in dependant.dependencies:
        found |= _params(sub, kind)
    return found


def _probes() -> Iterator[Probe]:
    for package in (api.routes, api.pages):
        for info in pkgutil.iter_modules(package.__path__):
            router = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "router", None)
            for route in getattr(router, "routes", []):
                if not isinstance(route, APIRoute) or "GET" not in route.methods:
                    continue
                for where, kind in (("path", "path_params"), ("query", "query_params")):
                    for param in sorted(_params(route.dependant, kind)):
                        yield Probe(route.path, param, where, package is api.pages)


PROBES = list(_probes())


def test_the_probes_reach_every_filter() -> None:
    """The filters people use, so a refactoring that hides them from the walk above shows here."""
    found = {(probe.path, probe.param) for probe in PROBES}
    for expected in [
        ("/api/refunds", "status"),
        ("/api/complaints", "stage"),
        ("/api/compensations", "status"),
        ("/api/finance/tasks", "status"),
        ("/api/users", "role"),
        ("/api/reports/refunds", "month"),
        ("/api/reports/complaints/actions", "category"),
        ("/api/refunds/{refund_id}", "refund_id"),
        ("/api/customers/{student_id}/history", "student_id"),
        ("/complaints", "stage"),
        ("/reports", "month"),
        ("/survey/{complaint_id}", "t"),
    ]:
        assert expected in found, expected
    assert len(PROBES) >= 55


@dataclass
class World:
    """Two students with cases, and a signed-in token of every role."""

    tokens: dict[Role, str]
    victim_ids: list[str]  # the other student's cases: never in a student's answer
    student_id: str  # whom tokens[Role.STUDENT] signs in


@pytest.fixture(scope="module")
def world(api: TestClient, api_sessions: SessionFactory) -> World:
    me, victim = make_user(api_sessions, Role.STUDENT), make_user(api_sessions, Role.STUDENT)
    make_refund(api_sessions, make_order(api_sessions, me), status="awaiting_review")
    theirs = make_refund(api_sessions, make_order(api_sessions, victim), status="awaiting_review")
    their_complaint = make_complaint(api_sessions, victim)
    make_complaint(api_sessions, me)
    tokens = {}
    for role in Role:
        user = me if role is Role.STUDENT else make_user(api_sessions, role)
        answer = api.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
        tokens[role] = answer.json()["access_token"]
    return World(tokens, [theirs.id, theirs.order_id, their_complaint.id, victim.id], me.id)


def _row_counts(sessions: SessionFactory) -> dict[str, int]:
    with sessions() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {name: session.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


@pytest.fixture(scope="module")
def tables_before(api_sessions: SessionFactory, world: World) -> dict[str, int]:
    return _row_counts(api_sessions)


def _url(probe: Probe, payload: str) -> tuple[str, dict[str, str]]:
    if probe.where == "path":
        path = probe.path.replace(f"{{{probe.param}}}", quote(payload, safe=""))
        return path.replace("{", "").replace("}", ""), {}
    # Other path parameters get a plain value; the probed one is the query's.
    return probe.path.replace("{", "x").replace("}", ""), {probe.param: payload}


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p.path}?{p.param}")
def test_hostile_values_in_every_parameter_are_refused_or_harmless(
    api: TestClient, world: World, tables_before: dict[str, int], probe: Probe
) -> None:
    for payload in PAYLOADS:
        path, query = _url(probe, payload)
        for role, token in world.tokens.items():
            if probe.page:
                headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
            else:
                headers = {"Authorization": f"Bearer {token}"}
            answer = api.get(path, params=query, headers=headers, follow_redirects=False)
            what = (role.value, path, query, answer.status_code, answer.text[:200])
            live = path.endswith("/live") and answer.status_code == 503  # Temporal is down here
            assert answer.status_code < 500 or live, what
            assert not any(marker in answer.text for marker in LEAK_MARKERS), what
            if role is Role.STUDENT:
                assert not any(their in answer.text for their in world.victim_ids), what


def test_every_table_holds_what_it_held(
    api: TestClient, api_sessions: SessionFactory, tables_before: dict[str, int]
) -> None:
    """Runs after the probes (pytest keeps a module's order): nothing was dropped, added or lost."""
    assert _row_counts(api_sessions) == tables_before


def test_a_nul_in_a_sign_in_name_or_a_body_id_is_refused_never_a_500(api: TestClient, world: World) -> None:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): such a value, wherever it comes in, is a
    422 there and an ordinary miss here — never the database's error."""
    agent = {"Authorization": f"Bearer {world.tokens[Role.AGENT]}"}
    student = {"Authorization": f"Bearer {world.tokens[Role.STUDENT]}"}
    for answer in (
        api.post("/api/auth/token", data={"username": "a\x00@example.test", "password": "x"}),
        api.post("/login", data={"email": "a\x00", "password": "x"}, headers={"Origin": "http://testserver"}),
        api.post("/api/refunds/quote", json={"order_id": "O\x00' OR '1'='1"}, headers=student),
        api.post("/api/customers/lookup", json={"customer": {"email": "a\x00@example.test"}}, headers=agent),
        api.post("/api/customers/S1/merge", json={"merged_id": "S\x00"}, headers=agent),
    ):
        assert answer.status_code in (401, 404, 422), (answer.request.url, answer.status_code, answer.text)
        assert not any(marker in answer.text for marker in LEAK_MARKERS)


def test_a_body_that_cannot_be_read_is_a_422_on_the_body_never_a_400(api: TestClient, world: World) -> None:
    """Found by the fuzzer: JSON that is not UTF-8 was FastAPI's own 400 ("There was an error parsing
    the body"), and a form Starlette cannot parse its 400, which no operation declares. Bad input is a
    422 beside its field, here the body — before the caller's token is looked at, as for any JSON that
    does not parse."""
    student = {"Authorization": f"Bearer {world.tokens[Role.STUDENT]}"}
    json_type = {"Content-Type": "application/json"}
    many_fields = b"".join(
        b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(1001)
    )
    for answer, problem in (
        (
            api.post("/api/refunds/quote", content=b'{"order_id": "\xff"}', headers=student | json_type),
            "UTF-8",
        ),
        (api.put("/api/me/preferences", content=b'{"locale": "\xc3"}', headers=json_type), "UTF-8"),
        (
            api.post("/api/auth/token", content=b"a=b", headers={"Content-Type": "multipart/form-data"}),
            "Missing boundary",
        ),
        (
            api.post(
                "/api/auth/token",
                content=many_fields + b"--x--\r\n",
                headers={"Content-Type": "multipart/form-data; boundary=x"},
            ),
            "Too many fields",
        ),
    ):
        assert answer.status_code == 422, (answer.request.url, answer.text)
        [error] = answer.json()["detail"]
        assert error["loc"] == ["body"] and problem in error["msg"], error
