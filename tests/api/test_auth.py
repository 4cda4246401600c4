from __future__ import annotations

from datetime import timedelta

import jwt
from fastapi.testclient import TestClient

from api.security import issue_token
from db.engine import SessionFactory
from domain.roles import Role
from domain.timeutil import utcnow
from settings import Settings
from tests.factories import PASSWORD, make_user


def login(api: TestClient, email: str, password: str = PASSWORD):
    return api.post("/api/auth/token", data={"username": email, "password": password})


def test_a_user_logs_in_with_email_and_password(api: TestClient, api_sessions: SessionFactory) -> None:
    user = make_user(api_sessions, Role.REVIEWER)
    response = login(api, user.email.upper())  # emails are matched case-insensitively
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "reviewer" and body["user_id"] == user.id
    me = api.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == user.email


def test_wrong_password_and_unknown_user_look_the_same(api: TestClient, api_sessions: SessionFactory) -> None:
    user = make_user(api_sessions, Role.STUDENT)
    wrong = login(api, user.email, "not-the-password")
    unknown = login(api, "nobody@example.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_login_form_fields_are_required(api: TestClient) -> None:
    response = api.post("/api/auth/token", data={"username": "x"})
    assert response.status_code == 422
    assert any(error["loc"][-1] == "password" for error in response.json()["detail"])


def _claims_token(settings: Settings, **overrides) -> str:
    now = utcnow()
    claims = {"sub": "nobody", "role": "admin", "iat": now, "exp": now + timedelta(hours=1), **overrides}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def test_bad_tokens_are_refused(api: TestClient, api_sessions: SessionFactory, settings: Settings) -> None:
    user = make_user(api_sessions, Role.STUDENT)
    secret = settings.jwt_secret.get_secret_value()
    good = issue_token(user_id=user.id, role=Role.STUDENT, secret=secret, ttl=timedelta(minutes=5))
    header, payload, signature = good.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"student"', b'"admin"')
    ).decode()
    cases = {
        "none": None,
        "garbage": "not-a-jwt",
        "tampered": f"{header}.{tampered_payload}.{signature}",
        "other secret": issue_token(
            user_id=user.id, role=Role.STUDENT, secret="x" * 40, ttl=timedelta(minutes=5)
        ),
        "expired": issue_token(user_id=user.id, role=Role.STUDENT, secret=secret, ttl=timedelta(seconds=-1)),
        "role changed since": _claims_token(settings, sub=user.id, role="admin"),
        "unknown user": _claims_token(settings),
    }
    for case, token in cases.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = api.get("/api/me", headers=headers)
        assert response.status_code == 401, case
    assert api.get("/api/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
