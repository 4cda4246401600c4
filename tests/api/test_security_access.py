"""Who may do what, under attack: tokens that are forged in every way the JWT format allows, or
belong to someone switched off or moved to another role since; a student acting as staff or
reading another student's cases; forms posted from another site; a sign-in link that would send
the user elsewhere. Each refusal leaves every table as it was (Temporal is unreachable here, so a
request that slipped through to a workflow would answer 503 and fail the test).

Elsewhere, not repeated: expired, tampered, other-secret, claimed-role and unknown-user tokens
(test_auth.py: test_bad_tokens_are_refused); a student deciding a refund (test_refunds.py:
test_decisions_are_refused_for_the_wrong_role_state_or_input) or reading another's refund
(test_students_see_only_their_own_refunds) or complaint (test_complaints.py); an inactive account
signing in (test_users.py); the one refund form posted from another site (test_console_pages.py)."""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import inspect, text

import api.pages
from api.pages.session import SESSION_COOKIE
from db.engine import SessionFactory
from db.models import Complaint, Refund, User
from domain.roles import Role
from domain.timeutil import utcnow
from settings import Settings
from tests.api.helpers import auth
from tests.factories import PASSWORD, make_complaint, make_order, make_refund, make_user

OURS = {"Origin": "http://testserver"}


def _tables(sessions: SessionFactory) -> dict[str, int]:
    with sessions() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {name: session.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


def _token(user: User, settings: Settings, *, algorithm: str = "HS256", key: object = None, **claims) -> str:
    now = utcnow()
    body = {"sub": user.id, "role": user.role, "iat": now, "exp": now + timedelta(hours=1), **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key or settings.jwt_secret.get_secret_value(), algorithm=algorithm)


def _hs512(user: User, settings: Settings) -> str:
    with warnings.catch_warnings():  # PyJWT finds our test secret short for SHA-512: so it is
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return _token(user, settings, algorithm="HS512")


def _unsigned(user: User) -> str:
    """alg=none: a header and claims, no signature."""
    encode = jwt.utils.base64url_encode
    header = encode(b'{"alg":"none","typ":"JWT"}').decode()
    exp = int((utcnow() + timedelta(hours=1)).timestamp())
    claims = encode(f'{{"sub":"{user.id}","role":"{user.role}","exp":{exp}}}'.encode()).decode()
    return f"{header}.{claims}."


def test_tokens_forged_in_any_way_the_format_allows_open_nothing(
    api: TestClient, api_sessions: SessionFactory, settings: Settings
) -> None:
    admin = make_user(api_sessions, Role.ADMIN)
    attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "alg none": _unsigned(admin),
        "alg None": _unsigned(admin).replace(
            jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode(),
            jwt.utils.base64url_encode(b'{"alg":"None","typ":"JWT"}').decode(),
        ),
        "RS256, the attacker's key": _token(admin, settings, algorithm="RS256", key=attacker_key),
        "HS512 with our secret": _hs512(admin, settings),
        "HS256 with another key": _token(admin, settings, key="another-secret-0123456789abcdef0123456789"),
        "no expiry": _token(admin, settings, exp=None),
        "no subject": _token(admin, settings, sub=None),
        "someone else's id": _token(admin, settings, sub="U-NOBODY"),
        "not yet valid": _token(admin, settings, nbf=utcnow() + timedelta(hours=1)),
        "three dots": "a.b.c",
    }
    for case, token in forged.items():
        assert api.get("/api/users", headers={"Authorization": f"Bearer {token}"}).status_code == 401, case
        page = api.get(
            "/admin/users", headers={"Cookie": f"{SESSION_COOKIE}={token}"}, follow_redirects=False
        )
        assert page.status_code == 303 and page.headers["location"].startswith("/login"), case
    good = _token(admin, settings)
    assert api.get("/api/users", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_in_production_a_signing_secret_short_enough_to_guess_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Settings(dev_mode=False, jwt_secret="s3cret-but-short")
    assert not Settings(dev_mode=False, jwt_secret="x" * 32).dev_mode


def test_a_token_dies_with_its_users_rights(api: TestClient, api_sessions: SessionFactory) -> None:
    """Switched off, moved to another role, or merged into another record since it was issued: the
    API and the console both refuse the token at once, not when it expires."""
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    lead, agent = make_user(api_sessions, Role.LEAD), make_user(api_sessions, Role.AGENT)
    lead_token, agent_token = auth(api, lead), auth(api, agent)
    lead_cookie = {"Cookie": f"{SESSION_COOKIE}={lead_token['Authorization'].split()[1]}"}
    assert api.get("/api/compensations", headers=lead_token).status_code == 200
    assert api.get("/lead", headers=lead_cookie).status_code == 200
    assert api.patch(f"/api/users/{lead.id}", json={"role": "agent"}, headers=admin).status_code == 200
    assert api.get("/api/compensations", headers=lead_token).status_code == 401  # demoted: sign in again
    assert api.get("/lead", headers=lead_cookie, follow_redirects=False).status_code == 303
    assert api.patch(f"/api/users/{agent.id}", json={"is_active": False}, headers=admin).status_code == 200
    assert api.get("/api/complaints", headers=agent_token).status_code == 401

    survivor, merged = make_user(api_sessions, Role.STUDENT), make_user(api_sessions, Role.STUDENT)
    merged_token = auth(api, merged)
    merge = api.post(
        f"/api/customers/{survivor.id}/merge",
        json={"merged_id": merged.id},
        headers=auth(api, make_user(api_sessions, Role.LEAD)),
    )
    assert merge.status_code == 200, merge.text
    assert api.get("/api/me", headers=merged_token).status_code == 401


@pytest.fixture
def cases(api_sessions: SessionFactory) -> tuple[User, Refund, Complaint, User, Refund, Complaint]:
    me, other = make_user(api_sessions, Role.STUDENT), make_user(api_sessions, Role.STUDENT)
    mine = make_refund(api_sessions, make_order(api_sessions, me), status="awaiting_review")
    theirs = make_refund(api_sessions, make_order(api_sessions, other), status="awaiting_review")
    return (
        me,
        mine,
        make_complaint(api_sessions, me, text="我的直播课卡顿"),
        other,
        theirs,
        make_complaint(api_sessions, other, text="别人的秘密投诉 S3CR3T"),
    )


def test_a_student_cannot_act_as_staff_on_any_case_their_own_included(
    api: TestClient, api_sessions: SessionFactory, cases
) -> None:
    me, mine, my_complaint, other, theirs, their_complaint = cases
    student = auth(api, me)
    before = _tables(api_sessions)
    for refund, complaint in ((mine, my_complaint), (theirs, their_complaint)):
        for method, url, body in [
            ("POST", f"/api/refunds/{refund.id}/decision", {"decision": "approve", "reason": "自己批准"}),
            ("POST", f"/api/refunds/{refund.id}/confirmation", {"outcome": "confirmed", "note": "x"}),
            (
                "POST",
                f"/api/finance/tasks/FT-{refund.id}-1/resolution",
                {"outcome": "paid_offline", "reference": "R"},
            ),
            ("GET", f"/api/refunds/{refund.id}/timeline", None),  # the trail is for staff: 404
            ("GET", f"/api/refunds/{refund.id}/export", None),
            (
                "POST",
                f"/api/complaints/{complaint.id}/compensations",
                {"kind": "coupon", "amount_fen": 100_000, "reason": "x"},
            ),
            ("POST", f"/api/complaints/{complaint.id}/responses", {"text": "已解决"}),
            ("POST", f"/api/complaints/{complaint.id}/notes", {"text": "x"}),
            ("POST", f"/api/complaints/{complaint.id}/resolution", {"code": "resolved", "summary": "x"}),
            ("POST", f"/api/complaints/{complaint.id}/refund", {"reason": "x"}),
            ("GET", f"/api/complaints/{complaint.id}/timeline", None),
        ]:
            answer = api.request(method, url, json=body, headers=student)
            refused = {403, 404} if "/timeline" in url or "/export" in url else {403}
            assert answer.status_code in refused, (method, url, answer.status_code, answer.text[:200])
    for method, url, body in [
        (
            "PUT",
            "/api/compensations/quotas/agent",
            {"period": "day", "coupon_fen": 10**7, "progress_resets": 99},
        ),
        ("PATCH", f"/api/users/{me.id}", {"role": "admin"}),
        (
            "POST",
            "/api/users",
            {"email": "me2@example.test", "display_name": "x", "role": "admin", "password": "0123456789ab"},
        ),
        ("PUT", "/api/templates/refund_approved.all.zh-CN.j2", {"source": "x"}),
        ("POST", "/api/webhooks", {"url": "https://evil.example/hook", "event_types": ["*"]}),
        ("PUT", "/api/orders/O-FREE", {"student_id": me.id}),
        ("POST", "/api/customers/lookup", {"customer": {"student_id": other.id}}),
        ("POST", f"/api/customers/{me.id}/merge", {"merged_id": other.id}),
        ("GET", "/api/reports/refunds?month=2026-03", None),
        ("GET", "/api/users", None),
    ]:
        answer = api.request(method, url, json=body, headers=student)
        assert answer.status_code == 403, (method, url, answer.status_code, answer.text[:200])
    assert _tables(api_sessions) == before
    with api_sessions() as session:
        assert session.get(Refund, mine.id).status == "awaiting_review"


def test_a_student_reads_nothing_of_another_students_cases(
    api: TestClient, api_sessions: SessionFactory, cases
) -> None:
    me, mine, my_complaint, other, theirs, their_complaint = cases
    student = auth(api, me)
    cookie = {"Cookie": f"{SESSION_COOKIE}={student['Authorization'].split()[1]}"}
    # What the other student's cases hold beyond the id asked for (a 404 may say which id it was).
    unasked = ("S3CR3T", other.id, other.email, theirs.course_name)
    for url, headers, refused in [
        (f"/api/refunds/{theirs.id}", student, {404}),
        (f"/api/refunds/{theirs.id}/live", student, {403}),  # staff's view of the workflow
        (f"/api/complaints/{their_complaint.id}", student, {404}),
        (f"/api/complaints/{their_complaint.id}/live", student, {403}),
        (f"/api/customers/{other.id}/history", student, {404}),
        (f"/my/refunds/{theirs.id}", cookie, {404}),
        (f"/my/complaints/{their_complaint.id}", cookie, {404}),
        (f"/my/orders/{theirs.order_id}/refund", cookie, {404}),
        (f"/review/{theirs.id}", cookie, {403}),
        (f"/complaints/{their_complaint.id}", cookie, {403}),
    ]:
        answer = api.get(url, headers=headers, follow_redirects=False)
        assert answer.status_code in refused, (url, answer.status_code)
        assert not [secret for secret in unasked if secret in answer.text and secret not in url], url
    for url, headers in [
        ("/api/refunds", student),
        ("/api/complaints", student),
        ("/api/me/inbox", student),
        ("/api/me/orders", student),
        ("/my/refunds", cookie),
        ("/my/orders", cookie),
    ]:
        answer = api.get(url, headers=headers)
        assert answer.status_code == 200, url
        assert not any(their in answer.text for their in (theirs.id, their_complaint.id, *unasked)), url
    assert mine.id in api.get("/api/refunds", headers=student).text  # and their own, they do see
    assert my_complaint.id in api.get("/api/complaints", headers=student).text


def _console_forms() -> list[str]:
    """Every form the console takes, its path parameters filled in."""
    paths = []
    for info in pkgutil.iter_modules(api.pages.__path__):
        router = getattr(importlib.import_module(f"api.pages.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute) and "POST" in route.methods and route.path != "/login":
                paths.append(route.path.replace("{", "X").replace("}", ""))
    return paths


def test_no_console_form_is_taken_from_another_site(api: TestClient, api_sessions: SessionFactory) -> None:
    forms = _console_forms()
    assert len(forms) >= 30 and "/logout" in forms and "/review/Xrefund_id" in forms
    signed_in = {role: auth(api, make_user(api_sessions, role))["Authorization"].split()[1] for role in Role}
    before = _tables(api_sessions)
    elsewhere = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, a data: URL
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Referer": "https://evil.example/page"},
        {},  # no word of where it came from
    ]
    for role, token in signed_in.items():  # for the role a form is for, only the origin can refuse it
        api.cookies.set(SESSION_COOKIE, token)
        try:
            for path in forms:
                for headers in elsewhere:
                    answer = api.post(
                        path, data={"text": "x", "reason": "x"}, headers=headers, follow_redirects=False
                    )
                    assert answer.status_code == 403, (role.value, path, headers, answer.status_code)
            assert api.get("/my/orders", follow_redirects=False).status_code in (200, 403)  # still signed in
        finally:
            api.cookies.clear()
    assert _tables(api_sessions) == before


@pytest.mark.parametrize(
    "planted",
    [
        "//evil.example/x",
        "/\\evil.example/x",
        "/\\/evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "/%5Cevil.example",  # stays a path on this site: fine
        "/\tevil.example",
        " /evil",
        "javascript:alert(1)",
    ],
)
def test_signing_in_never_sends_the_user_to_another_site(
    api: TestClient, api_sessions: SessionFactory, planted: str
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    signed = api.post(
        "/login",
        data={"email": student.email, "password": PASSWORD, "next": planted},
        headers=OURS,
        follow_redirects=False,
    )
    api.cookies.clear()
    location = signed.headers["location"]
    assert signed.status_code == 303
    assert location == "/" or (location == planted and planted == "/%5Cevil.example"), location
    form = api.get("/login", params={"next": planted})
    assert f'value="{planted}"' not in form.text or planted == "/%5Cevil.example"
