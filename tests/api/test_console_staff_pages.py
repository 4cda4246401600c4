"""The agents' and the lead's console without a browser, Temporal unreachable: pages by role, forms
from another site refused, every refusal shown on the page beside its field (decided before
Temporal is asked) or above the form (Temporal unavailable: 503, never a 500), and the lead's
approvals and SLA dashboard."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.pages.i18n import MESSAGES
from api.routes import complaints as complaint_routes
from api.routes import refunds as refund_routes
from api.services.sla_dashboard import DeadlineKind
from db.engine import SessionFactory
from db.models import DepartmentMember, User
from domain.compensation import CompensationKind, CompensationStatus, QuotaPeriod
from domain.complaints import (
    ComplaintCategory,
    ComplaintStage,
    Department,
    IntakeChannel,
    ResolutionCode,
    Severity,
)
from domain.refunds import DecisionReceipt, RefundStatus
from domain.roles import Role
from domain.timeutil import utcnow
from tests.api.test_console_pages import OURS, action_keys, sign_in
from tests.factories import make_compensation, make_complaint, make_order, make_refund, make_user


@pytest.fixture
def agent(api: TestClient, api_sessions: SessionFactory) -> Iterator[User]:
    """A signed-in agent who works the academic queue."""
    agent = make_user(api_sessions, Role.AGENT, name="王客服")
    with api_sessions() as session:
        session.add(DepartmentMember(department="academic", user_id=agent.id))
        session.commit()
    sign_in(api, agent.email)
    yield agent
    api.cookies.clear()


def field_error(page: str, field_id: str) -> str:
    """The message beside a field (the macro gives it the id <field>-error)."""
    found = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error beside {field_id}"
    return html.unescape(found.group(1))


def test_every_value_the_staff_pages_name_has_its_words() -> None:
    """The pages look each value up as "<kind>.<value>": a value added later needs its words."""
    for kind, values in (
        ("stage", ComplaintStage),
        ("severity", Severity),
        ("channel", IntakeChannel),
        ("category", ComplaintCategory),
        ("department", Department),
        ("resolution", ResolutionCode),
        ("compensation.kind", CompensationKind),
        ("compensation.status", CompensationStatus),
        ("quota.period", QuotaPeriod),
        ("deadline", DeadlineKind),
    ):
        for value in values:
            assert f"{kind}.{value.value}" in MESSAGES, (kind, value)


def test_each_console_opens_for_its_roles_only(api: TestClient, api_sessions: SessionFactory) -> None:
    api.cookies.clear()
    away = api.get("/complaints", follow_redirects=False)
    assert (away.status_code, away.headers["location"]) == (303, "/login?next=/complaints")
    for role, opens, refused in (
        (Role.STUDENT, [], ["/complaints", "/lead"]),
        (Role.REVIEWER, ["/review"], ["/complaints", "/lead"]),
        (Role.AGENT, ["/complaints"], ["/lead", "/review"]),
        (Role.LEAD, ["/complaints", "/lead", "/review"], []),
    ):
        sign_in(api, make_user(api_sessions, role).email)
        for path in opens:
            assert api.get(path).status_code == 200, (role, path)
        for path in refused:
            assert api.get(path).status_code == 403, (role, path)
        api.cookies.clear()
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    sign_in(api, make_user(api_sessions, Role.STUDENT).email)
    assert api.get(f"/complaints/{complaint.id}").status_code == 403
    assert (
        api.post(f"/complaints/{complaint.id}/responses", data={"text": "x"}, headers=OURS).status_code == 403
    )
    api.cookies.clear()


def test_agents_land_on_the_queue_and_leads_on_their_desk(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    for role, home in ((Role.AGENT, "/complaints"), (Role.LEAD, "/lead")):
        sign_in(api, make_user(api_sessions, role).email)
        assert api.get("/", follow_redirects=False).headers["location"] == home
        nav = api.get(home).text.split("<main>")[0]
        assert 'href="/complaints"' in nav and ('href="/lead"' in nav) == (role is Role.LEAD)
        api.cookies.clear()


def test_the_queue_shows_the_agents_departments_with_the_next_deadline_and_overdue_ones_marked(
    api: TestClient, api_sessions: SessionFactory, agent: User
) -> None:
    now = utcnow()
    student = make_user(api_sessions, Role.STUDENT)
    late = make_complaint(
        api_sessions,
        student,
        department="academic",
        severity="high",
        first_response_due_at=now - timedelta(minutes=3),
        resolution_due_at=now + timedelta(hours=20),
    )
    answered = make_complaint(
        api_sessions,
        student,
        stage="in_progress",
        department="academic",
        assigned_to=agent.id,
        first_response_due_at=now - timedelta(hours=1),
        first_responded_at=now - timedelta(hours=1),
        resolution_due_at=now + timedelta(hours=5),
    )
    elsewhere = make_complaint(api_sessions, student, department="tech_support")

    page = api.get("/complaints").text
    rows = dict(re.findall(r'<tr data-complaint="(\w+)"([^>]*)>', page))
    assert late.id in rows and answered.id in rows and elsewhere.id not in rows
    assert 'class="overdue"' in rows[late.id] and 'class="overdue"' not in rows[answered.id]
    late_row = page.split(f'data-complaint="{late.id}"')[1].split("</tr>")[0]
    assert "首次响应" in late_row and f'data-countdown="{late.first_response_due_at.isoformat()}"' in late_row
    assert "data-overdue" in late_row and "已超时" in late_row
    answered_row = page.split(f'data-complaint="{answered.id}"')[1].split("</tr>")[0]
    assert "王客服" in answered_row and "解决" in answered_row  # the resolution is what is due now
    assert answered.resolution_due_at.isoformat() in answered_row

    in_progress = api.get("/complaints?stage=in_progress").text
    assert answered.id in in_progress and late.id not in in_progress
    assert api.get("/complaints?stage=nonsense").status_code == 200  # an unknown stage: all of them
    assert "Next deadline" in api.get("/complaints?lang=en").text
    api.get("/complaints?lang=zh-CN")


def test_the_complaint_page_has_everything_the_agent_needs(
    api: TestClient, api_sessions: SessionFactory, agent: User
) -> None:
    student = make_user(api_sessions, Role.STUDENT, name="林同学")
    order = make_order(api_sessions, student)
    complaint = make_complaint(
        api_sessions,
        student,
        text="老师讲得太快，知识点没听懂",
        order_id=order.id,
        category="course_content",
        department="academic",
        severity="normal",
        first_response_due_at=utcnow() + timedelta(minutes=25),
    )
    page = api.get(f"/complaints/{complaint.id}")
    assert page.status_code == 200
    text = page.text
    assert "老师讲得太快，知识点没听懂" in text and "林同学" in text
    assert "课程内容" in text and "教研与教师" in text  # category and department, in words
    assert f'data-countdown="{complaint.first_response_due_at.isoformat()}"' in text
    assert f'href="http://localhost:8233/namespaces/aftercare/workflows/complaint-{complaint.id}"' in text
    # A form for every action on an open complaint, each posting to its own address.
    for path in ("responses", "questions", "notes", "compensations", "refund", "video-room", "transfer"):
        assert f'action="/complaints/{complaint.id}/{path}"' in text, path
    assert f'action="/complaints/{complaint.id}/escalation"' in text
    assert f'action="/complaints/{complaint.id}/resolution"' in text
    assert f'action="/complaints/{complaint.id}/reopen"' not in text  # not resolved yet
    assert f'<option value="{order.id}" selected>' in text  # the refund defaults to the complaint's order
    assert "还可直接发放：优惠券 ¥50.00，课程进度重置 3 次" in text  # the agent's quota today
    assert 'value="academic"' not in text.split('id="transfer-department"')[1].split("</select>")[0]
    english = api.get(f"/complaints/{complaint.id}?lang=en").text
    assert "Left of your quota today: ¥50.00 in coupons, 3 progress resets" in english
    api.get(f"/complaints/{complaint.id}?lang=zh-CN")

    resolved = make_complaint(api_sessions, student, stage="resolved", department="academic")
    text = api.get(f"/complaints/{resolved.id}").text
    assert f'action="/complaints/{resolved.id}/reopen"' in text
    assert f'action="/complaints/{resolved.id}/responses"' not in text
    assert api.get("/complaints/CPNOSUCH").status_code == 404


def test_a_form_from_another_site_is_refused(
    api: TestClient, api_sessions: SessionFactory, agent: User
) -> None:
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT), department="academic")
    url = f"/complaints/{complaint.id}/responses"
    assert api.post(url, data={"text": "您好"}, headers={"origin": "http://evil.example"}).status_code == 403
    assert api.post(url, data={"text": "您好"}).status_code == 403  # no origin at all
    assert (
        api.post(url, data={"text": "您好"}, headers={"referer": "http://evil.example/x"}).status_code == 403
    )


def test_refusals_are_shown_beside_their_fields_without_asking_temporal(
    api: TestClient, api_sessions: SessionFactory, agent: User
) -> None:
    """Temporal is unreachable: each of these 422s was decided before it was asked."""
    student = make_user(api_sessions, Role.STUDENT)
    order = make_order(api_sessions, student, amount_paid_fen=199_900)
    complaint = make_complaint(api_sessions, student, department="academic", order_id=order.id)
    url = f"/complaints/{complaint.id}"

    def post(path: str, **data: str):
        return api.post(f"{url}/{path}", data=data, headers=OURS, follow_redirects=False)

    empty = post("responses", text="")
    assert empty.status_code == 422 and field_error(empty.text, "respond-text")
    assert '<details id="respond" open>' in empty.text

    bad_amount = post("compensations", kind="coupon", amount_yuan="3O", reason="直播卡顿")
    assert bad_amount.status_code == 422
    assert field_error(bad_amount.text, "compensate-amount_fen") == "请输入大于 0 的金额（元，最多两位小数）"
    assert '<details id="compensate" open>' in bad_amount.text and 'value="3O"' in bad_amount.text
    assert "直播卡顿</textarea>" in bad_amount.text  # what was typed stays
    no_amount = post("compensations", kind="coupon", amount_yuan="", reason="直播卡顿")
    assert no_amount.status_code == 422 and field_error(no_amount.text, "compensate-amount_fen")
    too_big = post("compensations", kind="coupon", amount_yuan="1000.01", reason="直播卡顿")  # beyond ¥1,000
    assert too_big.status_code == 422 and field_error(too_big.text, "compensate-amount_fen")
    no_reason = post("compensations", kind="coupon", amount_yuan="30", reason="")
    assert no_reason.status_code == 422 and field_error(no_reason.text, "compensate-reason")
    stranger_order = make_order(api_sessions, make_user(api_sessions, Role.STUDENT))
    reset = post("compensations", kind="progress_reset", order_id=stranger_order.id, reason="重新学习")
    assert reset.status_code == 422 and "not an order of this complaint's student" in field_error(
        reset.text, "compensate-order_id"
    )

    too_much = post("refund", order_id=order.id, reason="不想学了", amount_yuan="5000")
    assert too_much.status_code == 422 and field_error(too_much.text, "refund-amount_fen")
    assert post("refund", order_id=order.id, reason="", amount_yuan="").status_code == 422

    assert field_error(post("transfer", department="kitchen", reason="x").text, "transfer-department")
    assert field_error(post("resolution", code="", summary="已处理").text, "resolve-code")
    assert field_error(post("escalation", reason="").text, "escalate-reason")
    assert field_error(post("notes", text="").text, "note-text")
    assert field_error(post("questions", text="").text, "ask-text")
    assert field_error(post("video-room", starts_at="tomorrow", note="").text, "video-starts_at")
    # Reopening an open complaint: this stage shows no such form, so the refusal is said above them.
    misplaced = post("reopen", reason="")
    assert misplaced.status_code == 422 and 'class="error" role="alert">' in misplaced.text
    resolved = make_complaint(api_sessions, student, stage="resolved", department="academic")
    unsaid = api.post(f"/complaints/{resolved.id}/reopen", data={"reason": ""}, headers=OURS)
    assert unsaid.status_code == 422 and field_error(unsaid.text, "reopen-reason")


def test_an_action_temporal_cannot_take_is_said_above_the_form_not_a_server_error(
    api: TestClient, api_sessions: SessionFactory, agent: User
) -> None:
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT), department="academic")
    answer = api.post(
        f"/complaints/{complaint.id}/responses",
        data={"text": "您好，正在处理"},
        headers=OURS,
        follow_redirects=False,
    )
    assert answer.status_code == 503
    assert 'class="error" role="alert">workflow service unavailable' in answer.text
    assert '<details id="respond" open>' in answer.text and "您好，正在处理</textarea>" in answer.text
    missing = api.post("/complaints/CPNOSUCH/notes", data={"text": "备注"}, headers=OURS)
    assert missing.status_code == 404


def test_an_action_sent_again_after_a_503_carries_the_same_idempotency_key(
    api: TestClient, api_sessions: SessionFactory, agent: User
) -> None:
    """A 503 may come after the action was taken: the form shown again keeps the key it was sent
    with, so sending it again is taken once (the key names the Temporal update)."""
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT), department="academic")
    shown, shown_again = (api.get(f"/complaints/{complaint.id}").text for _ in range(2))
    keys = action_keys(shown)
    assert keys and len(set(keys)) == 1 and set(keys).isdisjoint(action_keys(shown_again))
    posted = {"text": "您好，正在处理", "idempotency_key": keys[0]}
    answer = api.post(f"/complaints/{complaint.id}/responses", data=posted, headers=OURS)
    assert answer.status_code == 503
    reply_form = answer.text.split('<details id="respond" open>')[1].split("</details>")[0]
    assert action_keys(reply_form) == [keys[0]]
    mangled = api.post(
        f"/complaints/{complaint.id}/responses", data={**posted, "idempotency_key": "x"}, headers=OURS
    )
    assert mangled.status_code == 503 and keys[0] not in action_keys(mangled.text)


def test_the_lead_desk_shows_approvals_calls_and_the_sla_dashboard(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    now = utcnow()
    lead, other_lead = make_user(api_sessions, Role.LEAD, name="刘主管"), make_user(api_sessions, Role.LEAD)
    offerer = make_user(api_sessions, Role.AGENT, name="陈客服")
    student = make_user(api_sessions, Role.STUDENT, name="林同学")
    complaint = make_complaint(api_sessions, student)
    theirs = make_compensation(api_sessions, complaint, offerer, amount_fen=8_000)
    own = make_compensation(api_sessions, complaint, lead, amount_fen=60_000)
    settled = make_compensation(api_sessions, complaint, offerer, status="issued")
    call = make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_confirmation")
    waiting_review = make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_review")
    # The dashboard counts the projection: customer service has these three open, one resolved.
    service = {"department": "customer_service"}
    make_complaint(
        api_sessions, student, **service, first_response_due_at=now - timedelta(minutes=2), sla_breached=True
    )
    make_complaint(api_sessions, student, **service, first_response_due_at=now + timedelta(minutes=40))
    make_complaint(
        api_sessions,
        student,
        stage="in_progress",
        **service,
        first_responded_at=now,
        resolution_due_at=now + timedelta(hours=30),
    )
    make_complaint(api_sessions, student, stage="resolved", **service, sla_breached=True)

    sign_in(api, lead.email)
    page = api.get("/lead").text
    theirs_card = page.split(f'data-compensation="{theirs.id}"')[1].split("</article>")[0]
    assert "¥80.00" in theirs_card and "陈客服" in theirs_card and "林同学" in theirs_card
    assert 'value="approve"' in theirs_card and 'value="decline"' in theirs_card
    own_card = page.split(f'data-compensation="{own.id}"')[1].split("</article>")[0]
    assert "¥600.00" in own_card and "<form" not in own_card and "需由其他主管审批" in own_card
    assert f'data-compensation="{settled.id}"' not in page
    assert f'data-refund="{call.id}"' in page and f'data-refund="{waiting_review.id}"' not in page

    row = page.split('data-department="customer_service"')[1].split("</tr>")[0]
    counts = dict(re.findall(r'data-count="(\w+)">(?:<span[^>]*>)?(\d+)', row))
    assert counts == {"open": "3", "breached": "1", "due_within_hour": "1", "first_response_overdue": "1"}
    assert "SLA dashboard" in api.get("/lead?lang=en").text
    api.get("/lead?lang=zh-CN")
    api.cookies.clear()

    sign_in(api, other_lead.email)  # someone else's offer, for another lead: with the buttons
    assert "<form" in api.get("/lead").text.split(f'data-compensation="{own.id}"')[1].split("</article>")[0]
    api.cookies.clear()


def test_the_leads_refusals_are_shown_beside_the_item_they_concern(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    lead = make_user(api_sessions, Role.LEAD)
    student = make_user(api_sessions, Role.STUDENT)
    complaint = make_complaint(api_sessions, student)
    offer = make_compensation(api_sessions, complaint, make_user(api_sessions, Role.AGENT))
    own = make_compensation(api_sessions, complaint, lead)
    call = make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_confirmation")
    sign_in(api, lead.email)

    def post(path: str, **data: str):
        return api.post(path, data=data, headers=OURS, follow_redirects=False)

    forged = api.post(
        f"/lead/compensations/{offer.id}",
        data={"decision": "approve"},
        headers={"origin": "http://evil.example"},
    )
    assert forged.status_code == 403
    declined = post(f"/lead/compensations/{offer.id}", decision="decline", note="")
    assert declined.status_code == 422
    assert "say why the offer is declined" in field_error(declined.text, f"{offer.id}-note")
    assert field_error(post(f"/lead/compensations/{offer.id}", decision="maybe").text, f"{offer.id}-decision")
    mine = post(f"/lead/compensations/{own.id}", decision="approve", note="")
    assert mine.status_code == 403 and "another lead decides on your own offer" in mine.text
    unavailable = post(f"/lead/compensations/{offer.id}", decision="approve", note="同意")
    assert unavailable.status_code == 503 and "workflow service unavailable" in unavailable.text

    no_note = post(f"/lead/refunds/{call.id}/confirmation", outcome="confirmed", note="")
    assert no_note.status_code == 422 and field_error(no_note.text, f"{call.id}-note")
    assert field_error(
        post(f"/lead/refunds/{call.id}/confirmation", outcome="later", note="x").text, f"{call.id}-outcome"
    )
    called = post(f"/lead/refunds/{call.id}/confirmation", outcome="withdrawn", note="学员决定继续学习")
    assert called.status_code == 503 and "学员决定继续学习</textarea>" in called.text
    api.cookies.clear()


def test_a_leads_decision_sent_again_after_a_503_carries_the_same_idempotency_key(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    """The desk's offers share a key per showing (the offer's id scopes it to each); the offer whose
    decision Temporal did not confirm is shown again with the key it was sent with."""
    lead = make_user(api_sessions, Role.LEAD)
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    offerer = make_user(api_sessions, Role.AGENT)
    offer, other = (make_compensation(api_sessions, complaint, offerer) for _ in range(2))
    sign_in(api, lead.email)

    def card(page: str, compensation_id: str) -> str:
        return page.split(f'data-compensation="{compensation_id}"')[1].split("</article>")[0]

    shown = api.get("/lead").text
    key = action_keys(card(shown, offer.id))[0]
    assert action_keys(card(shown, other.id)) == [key] and key not in action_keys(api.get("/lead").text)
    sent = {"decision": "approve", "note": "同意", "idempotency_key": key}
    unavailable = api.post(f"/lead/compensations/{offer.id}", data=sent, headers=OURS)
    assert unavailable.status_code == 503
    assert action_keys(card(unavailable.text, offer.id)) == [key]
    assert action_keys(card(unavailable.text, other.id)) != [key]  # a new showing for the others
    api.cookies.clear()


def test_one_desk_key_names_a_different_update_for_each_offer(
    api: TestClient, api_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two offers decided from one showing of the desk are two decisions, not one sent twice."""
    lead = make_user(api_sessions, Role.LEAD)
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    offerer = make_user(api_sessions, Role.AGENT)
    offers = [make_compensation(api_sessions, complaint, offerer) for _ in range(2)]
    keys_taken: list[str | None] = []

    async def taken(_complaint_id: str, _offer_id: str, _body: object, actions, _lead: User) -> None:
        keys_taken.append(actions.idempotency_key)

    monkeypatch.setattr(complaint_routes, "decide_compensation", taken)
    sign_in(api, lead.email)
    key = action_keys(api.get("/lead").text)[0]
    for offer in offers:
        sent = {"decision": "approve", "note": "", "idempotency_key": key}
        assert (
            api.post(
                f"/lead/compensations/{offer.id}", data=sent, headers=OURS, follow_redirects=False
            ).status_code
            == 303
        )
    assert keys_taken == [f"{offer.id}.{key}" for offer in offers]
    api.post(f"/lead/compensations/{offers[0].id}", data={"decision": "approve"}, headers=OURS)
    assert keys_taken[-1] is None  # no key sent, none made up
    api.cookies.clear()


def test_a_call_still_being_recorded_is_said_so_on_the_desk_and_not_offered_again(
    api: TestClient, api_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lead's call taken behind a backlog (the API's 202): the desk says so in place of its form."""
    lead = make_user(api_sessions, Role.LEAD)
    student = make_user(api_sessions, Role.STUDENT)
    call = make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_confirmation")
    other = make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_confirmation")

    async def taken_behind_a_backlog(refund_id: str, *_args: object) -> DecisionReceipt:
        return DecisionReceipt(
            refund_id=refund_id, status=RefundStatus.AWAITING_CONFIRMATION, being_recorded=True
        )

    monkeypatch.setattr(refund_routes, "confirm_refund", taken_behind_a_backlog)
    sign_in(api, lead.email)
    taken = api.post(
        f"/lead/refunds/{call.id}/confirmation",
        data={"outcome": "confirmed", "note": "学员确认退款"},
        headers=OURS,
        follow_redirects=False,
    )
    assert taken.status_code == 303 and taken.headers["location"] == f"/lead?recording={call.id}"
    being_recorded = MESSAGES["lead.being_recorded"][0]
    desk = api.get(taken.headers["location"]).text
    call_card = desk.split(f'data-refund="{call.id}"')[1].split("</article>")[0]
    assert being_recorded in call_card and "<form" not in call_card
    other_card = desk.split(f'data-refund="{other.id}"')[1].split("</article>")[0]
    assert being_recorded not in other_card and "<form" in other_card
    assert being_recorded not in api.get("/lead").text
    api.cookies.clear()


def test_the_lead_desk_lists_the_open_complaints_escalated_to_that_lead(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    lead, other_lead = make_user(api_sessions, Role.LEAD), make_user(api_sessions, Role.LEAD)
    student = make_user(api_sessions, Role.STUDENT)
    mine = make_complaint(api_sessions, student, stage="in_progress", assigned_to=lead.id, sla_breached=True)
    closed = make_complaint(api_sessions, student, stage="resolved", assigned_to=lead.id)
    theirs = make_complaint(api_sessions, student, stage="in_progress", assigned_to=other_lead.id)
    api.cookies.clear()
    sign_in(api, lead.email)
    desk = api.get("/lead").text
    section = desk[desk.index('data-testid="escalated"') : desk.index('aria-labelledby="approvals"')]
    assert mine.id in section and closed.id not in section and theirs.id not in section
    api.cookies.clear()


def test_a_decision_still_being_recorded_is_said_so_and_not_offered_again(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    """Where the decision form sends a reviewer whose decision was taken behind a backlog (202)."""
    reviewer = make_user(api_sessions, Role.LEAD)  # leads decide refunds of every group
    refund = make_refund(api_sessions, make_order(api_sessions, make_user(api_sessions, Role.STUDENT)))
    with api_sessions() as session:
        session.get(type(refund), refund.id).status = "awaiting_review"
        session.commit()
    sign_in(api, reviewer.email)
    being_recorded = MESSAGES["review.being_recorded"][0]
    offered = api.get(f"/review/{refund.id}")
    assert offered.status_code == 200
    assert 'name="decision"' in offered.text and being_recorded not in offered.text
    recording = api.get(f"/review/{refund.id}?recording=true")
    assert recording.status_code == 200
    assert being_recorded in recording.text and 'name="decision"' not in recording.text
    api.cookies.clear()
