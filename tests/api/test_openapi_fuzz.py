"""The API fuzzed from its own OpenAPI schema with schemathesis: every operation in the schema, signed
out, as each role it lets through and as one it refuses, with generated input that fits the schema
and input that does not. Every answer must be no server error — 503 only where the operation
declares it: Temporal is unreachable here, as in tests/api/conftest.py, so whatever needs a workflow
answers 503 — with a status code the operation documents, in a content type it documents, with a
body its schema allows. The webhooks (gateway notifications, the mail relay, WeChat) are fuzzed like
any operation: unsigned, they are refused, in the terms their schema declares.

Bounded and reproducible: a few inputs per operation and caller, each caller's from a seed of its
own that is the same on every run, locally and in CI, and no example database (no failure of an
earlier run is replayed: a run's inputs are its seeds' alone). Some inputs name cases and rows that
exist (_known_ids), so an operation is fuzzed past its 404 too. The console's pages are not in the schema
(include_in_schema=False) and are not fuzzed here: test_console_forms_fuzz.py fuzzes their forms and
test_security_injection.py probes their parameters."""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlmodel import select

from api.app import create_app
from db.engine import SessionFactory
from db.models import DecisionReason, FinanceTask, Notification, User
from devstack.dev_keys import ensure_dev_keys
from devstack.processes import free_port
from domain.roles import Role
from settings import Settings
from tests.api.operations import Operation, api_operations
from tests.factories import PASSWORD, make_compensation, make_complaint, make_order, make_refund, make_user

# Inputs per operation and caller, each with a fixed seed of its own. A caller the operation lets
# through gets the most: that is where input reaches the services and the database. Signed out, or in
# a role it refuses, an answer is decided before the input is looked at, but for the body's parsing.
# ~400 callers of 93 operations at this budget take about 50 s on each database (docs/architecture.md).
EXAMPLES_LET_THROUGH = 7
EXAMPLES_TURNED_AWAY = 2
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# not_a_server_error passes 2xx-4xx; 503 is the answer of an operation whose workflow service (or
# WeChat, or the audit chain) is not there — status_code_conformance then holds it to its declaration.
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}}}
)
SIGNED_OUT = "signed-out"


def _callers(operation: Operation) -> list[tuple[str, int]]:
    """(caller, examples): signed out, each role the operation lets through, and one it refuses (a
    refused role is refused by the same check whatever it sends: one stands for all). An open
    operation reads no token: signed out only, and let through."""
    if not operation.secured:
        return [(SIGNED_OUT, EXAMPLES_LET_THROUGH)]
    admitted = [(role.value, EXAMPLES_LET_THROUGH) for role in Role if role in operation.admits]
    refused = [(role.value, EXAMPLES_TURNED_AWAY) for role in Role if role not in operation.admits][:1]
    return [(SIGNED_OUT, EXAMPLES_TURNED_AWAY), *admitted, *refused]


OPERATIONS = api_operations()
TARGETS = [
    pytest.param(
        operation.method,
        operation.path,
        caller,
        examples,
        id=f"{operation.method} {operation.path} as {caller}",
    )
    for operation in OPERATIONS
    for caller, examples in _callers(operation)
]


@pytest.fixture(scope="module")
def fuzz_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        jwt_secret="api-test-secret-0123456789abcdef0123456789",
        sandbox_gateway_port=free_port(),  # nothing listens there: outside services are unreachable
        # Raised far past what the fuzzer sends: hundreds of failed sign-ins and forged webhook calls
        # from one address would otherwise be 429s, and every operation after them would only be
        # throttled. The limits themselves are tested in test_rate_limits.py and test_security_*.py.
        rate_limit_login_per_ip="100000/1m",
        rate_limit_login_per_account="100000/1m",
        rate_limit_webhooks_per_ip="100000/1m",
        rate_limit_webhook_refusals_per_ip="100000/1m",
    )


@dataclass(frozen=True)
class Fuzzing:
    database: str  # sqlite or postgresql
    schema: OpenApiSchema
    tokens: dict[str, str]  # role → bearer token
    known: dict[str, list[str]]  # path parameter → ids that exist


@pytest.fixture(scope="module")
def fuzzing(fuzz_settings: Settings) -> Iterator[Fuzzing]:
    """The app as schemathesis loads it (its ASGI loader starts the app's lifespan and keeps it until
    shutdown_lifespans), with Temporal unreachable, a signed-in token of every role, and rows for
    the path parameters to name."""
    ensure_dev_keys(fuzz_settings.data_dir)
    saved = os.environ.get("TEMPORAL_ADDRESS")
    os.environ["TEMPORAL_ADDRESS"] = f"127.0.0.1:{free_port()}"
    try:
        app = create_app(fuzz_settings)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
        sessions: SessionFactory = app.state.sessions
        users = {role: make_user(sessions, role) for role in Role}
        tokens = {}
        with get_client(app) as client:
            for role, user in users.items():
                answer = client.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
                assert answer.status_code == 200, answer.text
                tokens[role.value] = answer.json()["access_token"]
            known = _known_ids(sessions, users, client, tokens)
        yield Fuzzing(fuzz_settings.database_url.split(":")[0].split("+")[0], schema, tokens, known)
    finally:
        shutdown_lifespans()
        if saved is None:
            os.environ.pop("TEMPORAL_ADDRESS", None)
        else:
            os.environ["TEMPORAL_ADDRESS"] = saved


def _known_ids(
    sessions: SessionFactory, users: dict[Role, User], client: Any, tokens: dict[str, str]
) -> dict[str, list[str]]:
    """A case of each kind belonging to the fuzzed student, and a row of each kind a path names. The
    accounts the callers sign in with are not among the users named: an admin's fuzzed PATCH
    /api/users/{id} must not switch off the caller of the operations fuzzed after it."""
    student = users[Role.STUDENT]
    order = make_order(sessions, student)
    refund = make_refund(sessions, order, status="awaiting_review")
    failed = make_refund(sessions, make_order(sessions, student), status="refund_failed")
    complaint = make_complaint(sessions, student, stage="assigned", order_id=order.id)
    offer = make_compensation(sessions, complaint, users[Role.AGENT])
    with sessions() as session:
        task = FinanceTask(
            id=f"FT-{failed.id}-1", refund_id=failed.id, kind="gateway_refused", status="open", detail="…"
        )
        message = Notification(
            id=f"inbox-{student.id}",
            case_type="refund",
            case_id=refund.id,
            event="refund_received",
            channel="inbox",
            recipient_user_id=student.id,
            locale="zh-CN",
            subject="我们已收到您的退款申请",
            body_text="……",
            status="sent",
        )
        session.add_all([task, message])
        session.commit()
        reason = session.exec(select(DecisionReason).limit(1)).one()  # the migration's defaults
        task_id, message_id, reason_id = task.id, message.id, reason.id
    subscription = client.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["refund.*"]},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert subscription.status_code == 201, subscription.text
    action = client.post(
        "/api/reports/complaints/actions",
        json={"month": "2026-03", "category": "technical", "action": "复盘直播卡顿"},
        headers={"Authorization": f"Bearer {tokens['lead']}"},
    )
    assert action.status_code == 201, action.text
    return {
        "refund_id": [refund.id, failed.id],
        "complaint_id": [complaint.id],
        "compensation_id": [offer.id],
        "student_id": [student.id, make_user(sessions, Role.STUDENT).id],
        "order_id": [order.id],
        "task_id": [task_id],
        "message_id": [message_id],
        "subscription_id": [subscription.json()["id"]],
        "user_id": [make_user(sessions, Role.REVIEWER).id],
        "group_id": ["regular-courses"],
        "name": ["refund_received.all.zh-CN.j2"],
        "action_id": [str(action.json()["id"])],
        "reason_id": [str(reason_id)],
    }


def _strategy(operation: Any, known: dict[str, list[str]]) -> st.SearchStrategy:
    """Valid and invalid input, the path naming anything at all or rows that exist."""
    names = [parameter.name for parameter in operation.path_parameters]
    choices = [known.get(name, []) for name in names]
    fixed = [dict(zip(names, combination, strict=True)) for combination in itertools.product(*choices)]
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(mode))
        if names and all(choices):
            strategies += [operation.as_strategy(mode, path_parameters=path) for path in fixed]
    return st.one_of(strategies)


def test_the_fuzzed_operations_are_the_served_ones(fuzzing: Fuzzing) -> None:
    """The parametrization was read from the routers before the app ran: it is the schema the running
    app serves, operation for operation, and every path parameter that names a row is given rows that
    exist (the others are enums, or a dev mail's key)."""
    served = [result.ok() for result in fuzzing.schema.get_all_operations()]
    assert {(operation.method.upper(), operation.path) for operation in served} == {
        (operation.method, operation.path) for operation in OPERATIONS
    }
    names = {parameter.name for operation in served for parameter in operation.path_parameters}
    assert names - set(fuzzing.known) == {"gateway", "course_type", "role", "category", "key"}


def test_the_roles_each_operation_lets_through_are_read_from_its_routes() -> None:
    """So a refactoring of require_roles that hides the roles from _operation shows here, rather
    than as every operation fuzzed as one refused role."""
    operations = {(operation.method, operation.path): operation for operation in OPERATIONS}
    assert operations["PUT", "/api/orders/{order_id}"].admits == {Role.INTEGRATION}
    assert operations["POST", "/api/refunds/{refund_id}/decision"].admits == {Role.REVIEWER, Role.LEAD}
    assert operations["GET", "/api/templates"].admits == {Role.ADMIN}  # the router's dependency
    assert operations["GET", "/api/me"].admits == set(Role) and operations["GET", "/api/me"].secured
    assert not operations["POST", "/api/auth/token"].secured
    assert [caller for caller, _ in _callers(operations["POST", "/api/refunds/{refund_id}/decision"])] == [
        SIGNED_OUT,
        "reviewer",
        "lead",
        "student",
    ]


@pytest.mark.parametrize(("method", "path", "caller", "examples"), TARGETS)
def test_fuzzed_input_gets_a_documented_answer(
    fuzzing: Fuzzing, method: str, path: str, caller: str, examples: int
) -> None:
    operation = fuzzing.schema[path][method]
    headers = {} if caller == SIGNED_OUT else {"Authorization": f"Bearer {fuzzing.tokens[caller]}"}

    # A seed of its own (the same on every run), so each role and each database is sent other inputs.
    @seed(zlib.crc32(f"{method} {path} {caller} {fuzzing.database}".encode()))
    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        # Generated bodies can be large and the strategies nested; neither is a fault of the API.
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, fuzzing.known))
    def answer_is_documented(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    answer_is_documented()
