"""The OpenAPI schema documents every refusal the app gives: 401 wherever a token is needed, 403
wherever a role is turned away, 503 wherever the workflow service is asked, each in the shape it
is answered in (api/errors.py) — and the answers of real requests are the ones documented. The
fuzzer (test_openapi_fuzz.py) found them undocumented; these hold them, whatever it generates."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from db.engine import SessionFactory
from domain.roles import Role
from tests.api.helpers import auth
from tests.api.operations import Operation, api_operations
from tests.factories import make_order, make_refund, make_user

OPERATIONS = api_operations()
REFUSAL = {"$ref": "#/components/schemas/Refusal"}


@pytest.fixture(scope="module")
def schema(api: TestClient) -> dict[str, Any]:
    return api.app.openapi()


def _responses(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return schema["paths"][path][method.lower()]["responses"]


def _label(operation: Operation) -> str:
    return f"{operation.method} {operation.path}"


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.secured], ids=_label)
def test_an_operation_that_needs_a_token_documents_401(schema: dict[str, Any], operation: Operation) -> None:
    refusal = _responses(schema, operation.method, operation.path)["401"]
    assert refusal["content"]["application/json"]["schema"] == REFUSAL


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.admits != set(Role)], ids=_label)
def test_an_operation_that_turns_roles_away_documents_403(
    schema: dict[str, Any], operation: Operation
) -> None:
    refusal = _responses(schema, operation.method, operation.path)["403"]
    assert refusal["content"]["application/json"]["schema"] == REFUSAL


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.temporal], ids=_label)
def test_an_operation_that_asks_the_workflow_service_documents_503(
    schema: dict[str, Any], operation: Operation
) -> None:
    assert "503" in _responses(schema, operation.method, operation.path)


def test_every_documented_refusal_says_what_its_body_is(schema: dict[str, Any]) -> None:
    """No refusal documented by its code alone: a client learns what it will read."""
    bare = [
        f"{method.upper()} {path} {code}"
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        for code, response in operation["responses"].items()
        if code.startswith(("4", "5")) and not response.get("content")
    ]
    assert bare == []


def _documented(schema: dict[str, Any], method: str, path: str, answer: Response) -> None:
    """The answer's status and content type are the operation's documented ones."""
    responses = _responses(schema, method, path)
    assert str(answer.status_code) in responses, (method, path, answer.status_code, sorted(responses))
    content_type = answer.headers["content-type"].split(";")[0]
    assert content_type in responses[str(answer.status_code)]["content"], (method, path, content_type)


def test_refusals_of_real_requests_are_the_documented_ones(
    api: TestClient, api_sessions: SessionFactory, schema: dict[str, Any]
) -> None:
    student = auth(api, make_user(api_sessions, Role.STUDENT))
    admin_user = make_user(api_sessions, Role.ADMIN)
    admin = auth(api, admin_user)
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    cases: list[tuple[str, str, Response, int]] = [
        ("GET", "/api/me", api.get("/api/me"), 401),
        ("GET", "/api/users", api.get("/api/users", headers=student), 403),
        (
            "POST",
            "/api/refunds/{refund_id}/decision",
            api.post("/api/refunds/RF-NONE/decision", json={"decision": "approve"}, headers=lead),
            404,
        ),
        (
            "PATCH",
            "/api/users/{user_id}",
            api.patch(f"/api/users/{admin_user.id}", json={"role": "agent"}, headers=admin),
            409,
        ),
        # Nothing listens where WeChat and the workflow service would be (tests/api/conftest.py).
        ("PUT", "/api/me/wechat", api.put("/api/me/wechat", json={"code": "abc"}, headers=student), 503),
        (
            "POST",
            "/api/complaints",
            api.post("/api/complaints", json={"text": "直播一直卡顿，请尽快处理"}, headers=student),
            503,
        ),
        ("GET", "/dev/mail/{key}", api.get("/dev/mail/none"), 404),
    ]
    for method, path, answer, status in cases:
        assert answer.status_code == status, (method, path, answer.text)
        _documented(schema, method, path, answer)
        assert isinstance(answer.json()["detail"], str)  # Refusal


def test_the_webhooks_refusals_are_the_documented_ones(api: TestClient, schema: dict[str, Any]) -> None:
    """Unsigned calls: each webhook refuses in its own terms, and those are the documented ones."""
    wechat_check = {"signature": "x", "timestamp": "1", "nonce": "n", "echostr": "e"}
    cases = [
        ("GET", "/api/intake/wechat", api.get("/api/intake/wechat", params=wechat_check), 403),
        ("POST", "/api/intake/email", api.post("/api/intake/email", content=b"{}"), 401),
        (
            "POST",
            "/api/payments/{gateway}/notify",
            api.post("/api/payments/wechatpay/notify", content=b"{}"),
            401,
        ),
        (
            "POST",
            "/api/payments/{gateway}/notify",
            api.post("/api/payments/alipay/notify", content=b"a=b"),
            401,
        ),
    ]
    for method, path, answer, status in cases:
        assert answer.status_code == status, (method, path, answer.text)
        _documented(schema, method, path, answer)


def test_an_audit_trail_export_is_documented_as_json_or_csv(
    api: TestClient, api_sessions: SessionFactory, schema: dict[str, Any]
) -> None:
    refund = make_refund(api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)))
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    for file_format in ("json", "csv"):
        answer = api.get(f"/api/refunds/{refund.id}/export", params={"format": file_format}, headers=lead)
        assert answer.status_code == 200, answer.text
        _documented(schema, "GET", "/api/refunds/{refund_id}/export", answer)
