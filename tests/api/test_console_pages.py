"""The web console's rules, without a browser (Temporal unreachable): sign-in by cookie, a form
from another site refused, `next` kept on this site, pages by role, the language switch."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import select

from api.services.intake import intake_id
from db.engine import SessionFactory
from db.models import Complaint, IntakeMessage, Refund
from domain.complaints import IntakeChannel
from domain.roles import Role
from tests.factories import PASSWORD, make_complaint, make_order, make_refund, make_user

OURS = {"origin": "http://testserver"}


def sign_in(api: TestClient, email: str, next_path: str = "/") -> None:
    signed = api.post(
        "/login",
        data={"email": email, "password": PASSWORD, "next": next_path},
        headers=OURS,
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def action_keys(page: str) -> list[str]:
    """The Idempotency-Keys of a page's action forms, in order."""
    return re.findall(r'name="idempotency_key" value="([^"]*)"', page)


def test_pages_send_visitors_to_sign_in_and_back_only_to_this_site(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    api.cookies.clear()
    away = api.get("/my/refunds?x=1", follow_redirects=False)
    assert (away.status_code, away.headers["location"]) == (303, "/login?next=/my/refunds%3Fx%3D1")
    wrong = api.post("/login", data={"email": student.email, "password": "nope"}, headers=OURS)
    assert wrong.status_code == 401 and "邮箱或密码不正确" in wrong.text
    elsewhere = api.post(
        "/login",
        data={"email": student.email, "password": PASSWORD, "next": "//evil.example/x"},
        headers=OURS,
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/"
    cookie = elsewhere.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert api.get("/my/orders").status_code == 200
    assert api.get("/review").status_code == 403  # a student's session does not open the reviewer's pages
    api.post("/logout", headers=OURS)
    api.cookies.clear()


def test_a_form_posted_from_another_site_is_refused_and_changes_nothing(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    sign_in(api, student.email)
    url = f"/my/orders/{order.id}/refund"
    forged = api.post(url, data={"reason": "x"}, headers={"origin": "http://evil.example"})
    assert forged.status_code == 403
    assert api.post(url, data={"reason": "x"}).status_code == 403  # no origin at all
    # From our own page: refused for its amount, the error beside the field (Temporal never asked).
    too_much = api.post(url, data={"reason": "工作调动", "amount_yuan": "99999"}, headers=OURS)
    assert too_much.status_code == 422 and 'id="amount_fen-error"' in too_much.text
    assert api.get("/my/refunds").text.count("/my/refunds/RF") == 0
    api.cookies.clear()


def test_the_quote_is_shown_before_asking_and_the_language_switches(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student, amount_paid_fen=199_900)
    sign_in(api, student.email)
    quote = api.get(f"/my/orders/{order.id}/refund")
    assert quote.status_code == 200 and "¥1,799.10" in quote.text and "预计退回" in quote.text
    english = api.get(f"/my/orders/{order.id}/refund?lang=en")
    assert "You get back" in english.text and "aftercare_lang=en" in english.headers["set-cookie"]
    assert "You get back" in api.get(f"/my/orders/{order.id}/refund").text  # remembered
    assert api.get("/my/orders/O-NOT-MINE/refund").status_code == 404
    api.cookies.clear()


def test_the_refund_form_offers_the_reasons_in_the_readers_language_and_refuses_others(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    sign_in(api, student.email)
    url = f"/my/orders/{order.id}/refund"
    chinese = api.get(f"{url}?lang=zh-CN").text
    assert '<option value="schedule_conflict">时间冲突，没空上课</option>' in chinese
    english = api.get(f"{url}?lang=en").text
    assert '<option value="bought_by_mistake">Bought by mistake or twice</option>' in english
    made_up = api.post(url, data={"reason": "工作调动", "reason_code": "boredom"}, headers=OURS)
    assert made_up.status_code == 422 and 'id="reason_code-error"' in made_up.text
    assert api.get("/my/refunds").text.count("/my/refunds/RF") == 0
    api.cookies.clear()


def test_a_refund_asked_for_again_goes_to_the_orders_refund_in_progress(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    """Temporal unreachable: the refund is not taken and the form says so (503, not a conflict), the
    reason kept. Asked for an order whose refund is in progress (a double click, or again after no
    answer), the student is taken to that refund and told it is already under way; none is added."""
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    sign_in(api, student.email)
    url = f"/my/orders/{order.id}/refund"
    sent = {"reason": "工作调动，没时间上课"}
    unavailable = api.post(url, data=sent, headers=OURS)
    assert unavailable.status_code == 503
    assert 'class="error" role="alert">' in unavailable.text
    assert "工作调动，没时间上课</textarea>" in unavailable.text
    assert api.get("/my/refunds").text.count("/my/refunds/RF") == 0
    in_progress = make_refund(api_sessions, order, status="awaiting_review")
    again = api.post(url, data=sent, headers=OURS, follow_redirects=False)
    shown_at = f"/my/refunds/{in_progress.id}?asked_again=1"
    assert (again.status_code, again.headers["location"]) == (303, shown_at)
    assert "这笔订单的退款已在处理中" in api.get(shown_at).text
    assert "这笔订单的退款已在处理中" not in api.get(f"/my/refunds/{in_progress.id}").text
    assert api.get("/my/refunds").text.count("/my/refunds/RF") == 1
    with api_sessions() as session:  # refunded since: the link no longer says it is under way
        ended = session.get(Refund, in_progress.id)
        assert ended is not None
        ended.status, ended.active_order_id = "refunded", None
        session.add(ended)
        session.commit()
    assert "这笔订单的退款已在处理中" not in api.get(shown_at).text
    api.cookies.clear()


def test_the_students_forms_refuse_what_the_api_refuses_beside_the_field(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    """Text too long for its column, or with a control character, is refused beside its field (422)
    as POST /api/complaints and /api/refunds refuse it, and nothing is written. The forms used to
    pass it on, and PostgreSQL answered with a database error (a 500)."""
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student)
    sign_in(api, student.email)
    for text, why in [("卡" * 4001, "at most 4000 characters"), ("视频打不开\x00了", "control character")]:
        filed = api.post("/my/complaints/new", data={"text": text, "order_id": ""}, headers=OURS)
        assert filed.status_code == 422 and 'id="text-error"' in filed.text and why in filed.text
    for reason, why in [("卡" * 2001, "at most 2000 characters"), ("工作\x00调动", "control character")]:
        asked = api.post(f"/my/orders/{order.id}/refund", data={"reason": reason}, headers=OURS)
        assert asked.status_code == 422 and 'id="reason-error"' in asked.text and why in asked.text
    with api_sessions() as session:
        assert session.exec(select(Complaint).where(Complaint.student_id == student.id)).first() is None
    assert api.get("/my/refunds").text.count("/my/refunds/RF") == 0
    api.cookies.clear()


def test_the_admin_edits_sla_and_policies_through_the_apis_checks(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = make_user(api_sessions, Role.ADMIN)
    sign_in(api, make_user(api_sessions, Role.AGENT).email)
    assert api.get("/admin/sla").status_code == 403
    api.cookies.clear()
    sign_in(api, admin.email)
    before = api.get("/admin/sla").text
    backwards = {"first_response_minutes": "30", "resolution_minutes": "10", "department": "tech_support"}
    refused = api.post("/admin/sla/technical", data=backwards, headers=OURS)
    assert refused.status_code == 422 and 'id="resolution_minutes-error"' in refused.text
    assert api.get("/admin/sla").text == before  # nothing saved
    broken = {"window": "days_after_start", "fee_bp": "1000", "notice_channels": ["inbox"]}  # no window_days
    refused = api.post("/admin/policies/trial", data=broken, headers=OURS)
    assert refused.status_code == 422 and "window_days is required" in refused.text
    draft = "{% block subject %}{{ undefined_thing }}{% endblock %}{% block text %}x{% endblock %}"
    bad = api.post(
        "/admin/templates/refund_received.all.zh-CN.j2",
        data={"source": draft, "action": "save"},
        headers=OURS,
    )
    assert bad.status_code == 422 and 'id="source-error"' in bad.text
    assert "v1" not in api.get("/admin/templates/refund_received.all.zh-CN.j2").text  # still the default
    api.cookies.clear()


def test_the_admin_adds_staff_on_the_page(api: TestClient, api_sessions: SessionFactory) -> None:
    sign_in(api, make_user(api_sessions, Role.ADMIN).email)
    short = {"email": "x@school.test", "display_name": "新同事", "role": "finance", "password": "short"}
    refused = api.post("/admin/users", data=short, headers=OURS)
    assert refused.status_code == 422 and 'id="password-error"' in refused.text and "新同事" in refused.text
    made = api.post("/admin/users", data={**short, "password": "long-enough-password"}, headers=OURS)
    assert made.status_code == 200 and "x@school.test" in made.text  # followed back to the list
    api.cookies.clear()


def test_the_admin_edits_the_review_routing_rules_on_the_page(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    sign_in(api, make_user(api_sessions, Role.ADMIN).email)
    page = api.get("/admin/routing")
    assert page.status_code == 200 and "regular-courses" in page.text
    for broken, why in (
        ("[{", "not JSON"),
        (
            '[{"priority": 1, "group_id": "regular-courses", "course_type": "regular"}]',
            "must have no conditions",
        ),
    ):
        refused = api.post("/admin/routing", data={"rules": broken}, headers=OURS)
        assert refused.status_code == 422 and why in refused.text and 'id="rules-error"' in refused.text
    assert api.get("/admin/routing").text == page.text  # nothing changed
    api.cookies.clear()


def test_the_admin_sets_a_compensation_quota_in_yuan(api: TestClient, api_sessions: SessionFactory) -> None:
    sign_in(api, make_user(api_sessions, Role.ADMIN).email)
    page = api.get("/admin/quotas")
    assert page.status_code == 200 and 'value="50.00"' in page.text  # the agents' ¥50 a day
    for bad in (
        {"period": "day", "coupon_yuan": "lots", "progress_resets": "3"},
        {"period": "year", "coupon_yuan": "50", "progress_resets": "3"},
    ):
        assert api.post("/admin/quotas/agent", data=bad, headers=OURS).status_code == 422
    assert (
        api.post(
            "/admin/quotas/student",
            data={"period": "day", "coupon_yuan": "1", "progress_resets": "1"},
            headers=OURS,
        ).status_code
        == 422
    )
    saved = api.post(
        "/admin/quotas/agent",
        data={"period": "week", "coupon_yuan": "80.5", "progress_resets": "4"},
        headers=OURS,
    )
    assert saved.status_code == 200 and 'value="80.50"' in saved.text
    restored = {
        "period": "day",
        "coupon_yuan": "50",
        "progress_resets": "3",
    }  # other tests count on the default
    assert api.post("/admin/quotas/agent", data=restored, headers=OURS).status_code == 200
    api.cookies.clear()


def test_a_students_message_sent_again_after_a_503_carries_its_key_and_its_text(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    """Temporal did not confirm the message (it may have taken it all the same): the page says so
    (503, not a conflict), keeps what the student wrote and the key it was sent with, so sending it
    again adds it once."""
    student = make_user(api_sessions, Role.STUDENT)
    complaint = make_complaint(api_sessions, student)
    sign_in(api, student.email)
    page = f"/my/complaints/{complaint.id}"
    shown, shown_again = (api.get(page).text for _ in range(2))
    key = action_keys(shown)[0]
    assert action_keys(shown) == [key] and key not in action_keys(shown_again)
    sent = {"text": "老师，补课的时间定了吗？", "idempotency_key": key}
    unavailable = api.post(f"{page}/messages", data=sent, headers=OURS)
    assert unavailable.status_code == 503
    assert 'class="error" role="alert">workflow service unavailable' in unavailable.text
    assert action_keys(unavailable.text) == [key] and "补课的时间定了吗？</textarea>" in unavailable.text
    mangled = api.post(f"{page}/messages", data={**sent, "idempotency_key": "x"}, headers=OURS)
    assert mangled.status_code == 503 and key not in action_keys(mangled.text)
    empty = api.post(f"{page}/messages", data={**sent, "text": ""}, headers=OURS)
    assert empty.status_code == 422 and action_keys(empty.text) == [key]
    api.cookies.clear()


def test_the_complaint_form_sent_again_goes_to_the_complaint_its_key_filed(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    """Temporal unreachable: nothing was filed, the form says so (503) with the text and key kept. A
    key that filed a complaint before (a double click) goes to that complaint, Temporal not asked."""
    student = make_user(api_sessions, Role.STUDENT)
    sign_in(api, student.email)
    key = action_keys(api.get("/my/complaints/new").text)[0]
    sent = {"text": "课程视频一直加载不出来", "order_id": "", "idempotency_key": key}
    unavailable = api.post("/my/complaints/new", data=sent, headers=OURS)
    assert unavailable.status_code == 503
    assert 'class="error" role="alert">workflow service unavailable' in unavailable.text
    assert action_keys(unavailable.text) == [key] and "课程视频一直加载不出来</textarea>" in unavailable.text
    with api_sessions() as session:
        assert session.exec(select(Complaint).where(Complaint.student_id == student.id)).first() is None
    filed = make_complaint(api_sessions, student)
    with api_sessions() as session:
        delivery = intake_id(IntakeChannel.WEB_FORM, f"{student.id}:{key}")
        session.add(
            IntakeMessage(
                id=delivery,
                channel="web_form",
                student_id=student.id,
                complaint_id=filed.id,
                outcome="complaint",
            )
        )
        session.commit()
    again = api.post("/my/complaints/new", data=sent, headers=OURS, follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, f"/my/complaints/{filed.id}")
    api.cookies.clear()
