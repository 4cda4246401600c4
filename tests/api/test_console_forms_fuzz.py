"""Every form the console posts, fuzzed: each POST route of the console's pages, signed out and as
every role, with hostile and random values in its form fields and path parameters (some naming rows
that exist, so a form is fuzzed past its 404). The answer is a refusal or an ordinary page — never a
server error (503 only: Temporal is unreachable here, as in tests/api/conftest.py) and never a
database error's text. The routes and their fields are read from the routers, so a new form is fuzzed
the day it is added; each route's values come from a seed of its own, the same on every run."""

from __future__ import annotations

import importlib
import pkgutil
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import select

import api.pages
from api.pages.session import SESSION_COOKIE
from db.engine import SessionFactory
from db.models import (
    Compensation,
    Complaint,
    DecisionReason,
    ImprovementAction,
    Notification,
    Order,
    Refund,
    User,
)
from domain.roles import Role
from tests.api.test_console_pages import OURS
from tests.api.test_security_injection import (
    LEAK_MARKERS,
    PAYLOADS,
    World,
    _params,
    world,  # noqa: F401 — the signed-in tokens of every role
)
from tests.factories import make_compensation, make_complaint, make_order, make_refund, make_user

# Values a form's own controls send, so that some examples get past the first check.
PLAUSIBLE = [
    "", "yes", "no", "approve", "reject", "decline", "confirmed", "withdrawn", "true", "on", "1", "0",
    "100", "-5", "1.5", "2026-03", "2026-13-45", "regular", "premium", "vip", "agent", "student",
    "tech_support", "customer_service", "academic", "high", "urgent", "coupon", "zh-CN", "en",
    "{{ 7*7 }}", "{% for x in range(99999999) %}x{% endfor %}", "<script>alert(1)</script>",
    "\u202e\u0000\ud7ff", "a" * 20_000, "学员反映直播卡顿，要求退款",
]  # fmt: skip
# Sent in each field alone (the others left out, so that the form gets as far as it can with it):
# longer than any column, and with a NUL, which PostgreSQL cannot store. Unless the form refuses
# them first, either is a database error. Random values reach the same only by chance.
EDGE_VALUES = ["卡" * 20_000, "学员\x00反映"]
EXAMPLES_LET_THROUGH = 8
EXAMPLES_TURNED_AWAY = 1
CALLERS = [None, *Role]  # None: signed out


@dataclass(frozen=True)
class Form:
    path: str
    path_params: tuple[str, ...]
    fields: tuple[str, ...]


def _forms() -> Iterator[Form]:
    for info in pkgutil.iter_modules(api.pages.__path__):
        router = getattr(importlib.import_module(f"api.pages.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute) and "POST" in route.methods:
                yield Form(
                    route.path,
                    tuple(sorted(_params(route.dependant, "path_params"))),
                    tuple(sorted(_params(route.dependant, "body_params"))),
                )


FORMS = list(_forms())


def test_the_walk_finds_every_form() -> None:
    found = {form.path: form.fields for form in FORMS}
    assert "note" in found["/lead/refunds/{refund_id}/confirmation"]
    assert found["/review/{refund_id}"] == ("decision", "preset", "reason")
    assert "/admin/templates/{name}" in found and "/my/complaints/new" in found
    assert len(FORMS) >= 30


@pytest.fixture(scope="module")
def known(
    api: TestClient,
    api_sessions: SessionFactory,
    world: World,  # noqa: F811
) -> dict[str, list[str]]:
    """Path parameter → values naming rows that exist, the first of each one the signed-in student
    may act on (an order of theirs with no refund yet, their complaint), so that the student's forms
    are fuzzed past their 404 and the edge values reach as far as a form lets them. Users named are
    throwaway ones: an admin's form switching off a signed-in caller would turn the rest of the run
    away."""
    with api_sessions() as session:
        signed_in_student = session.get(User, world.student_id)
    assert signed_in_student is not None
    own_order = make_order(api_sessions, signed_in_student)
    own_complaint = make_complaint(api_sessions, signed_in_student)
    student = make_user(api_sessions, Role.STUDENT)
    make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_confirmation")
    make_compensation(
        api_sessions, make_complaint(api_sessions, student), make_user(api_sessions, Role.AGENT)
    )

    def ids(column) -> list[str]:
        with api_sessions() as session:
            return [str(value) for value in session.exec(select(column).limit(6)).all()] or ["1"]

    return {
        "order_id": [own_order.id, *ids(Order.id)],
        "refund_id": ids(Refund.id),
        "complaint_id": [own_complaint.id, *ids(Complaint.id)],
        "compensation_id": ids(Compensation.id),
        "reason_id": ids(DecisionReason.id),
        "message_id": ids(Notification.id),
        "action_id": ids(ImprovementAction.id),
        "user_id": [student.id],
        "name": ["refund_received.email", "refund_approved.inbox"],
        "category": ["service", "technical"],
        "course_type": ["regular", "premium"],
        "role": ["agent", "lead"],
    }


def _value(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.4:
        return rng.choice(PAYLOADS)
    if pick < 0.8:
        return rng.choice(PLAUSIBLE)
    return (
        "".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(rng.randint(1, 40)))
        .encode("utf-8", "ignore")
        .decode("utf-8", "ignore")
    )


def _path(form: Form, known: dict[str, list[str]], rng: random.Random | None) -> str:
    """The form's path with rows that exist (70%) or payloads; without `rng`, the first of each."""
    path = form.path
    for param in form.path_params:
        if rng is None:
            value = known.get(param, ["x"])[0]
        elif rng.random() < 0.7:
            value = rng.choice(known.get(param, ["x"]))
        else:
            value = rng.choice(PAYLOADS)
        path = path.replace(f"{{{param}}}", quote(value, safe=""))
    return path


def _turned_away(answer) -> bool:
    signed_out = answer.status_code == 303 and "/login" in answer.headers.get("location", "")
    return signed_out or answer.status_code in (401, 403)


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.path)
def test_every_console_form_refuses_or_answers_never_a_server_error(
    api: TestClient,
    world: World,  # noqa: F811
    known: dict[str, list[str]],
    form: Form,
) -> None:
    rng = random.Random(zlib.crc32(form.path.encode()))
    for caller in CALLERS:
        api.cookies.clear()
        if caller is not None:
            api.cookies.set(SESSION_COOKIE, world.tokens[caller])
        edges = [{field: value} for field in form.fields for value in EDGE_VALUES]
        examples, sent = len(edges) + EXAMPLES_LET_THROUGH, 0
        while sent < examples:
            if sent < len(edges):
                data, path = edges[sent], _path(form, known, None)
            else:
                data = {field: _value(rng) for field in form.fields if rng.random() < 0.85}
                path = _path(form, known, rng)
            answer = api.post(path, data=data, headers=OURS, follow_redirects=False)
            sent += 1
            what = (caller, path, {k: v[:80] for k, v in data.items()}, answer.status_code, answer.text[:300])
            assert answer.status_code < 500 or answer.status_code == 503, what
            assert not any(marker in answer.text for marker in LEAK_MARKERS), what
            if (sent == 1 and answer.status_code in (401, 403)) or (
                answer.status_code == 303 and "/login" in answer.headers.get("location", "")
            ):
                examples = EXAMPLES_TURNED_AWAY  # turned away before the form is read
    api.cookies.clear()
