from __future__ import annotations

import itertools
import re

import pytest
from jinja2 import UndefinedError

from domain.notice_variables import sample_context
from domain.notifications import (
    COMPLAINT_EVENTS,
    MONEY_EVENTS,
    STAFF_CHAT_EVENTS,
    STAFF_EVENTS,
    STAFF_INBOX_EVENTS,
    STUDENT_CHANNELS,
    Channel,
    NoticeEvent,
)
from integrations.notice_renderer import NoticeRenderer, SupportContact, TemplateProblem
from integrations.wechat_official_messages import TEXT_LIMIT_BYTES, fit, message_text

SUPPORT = SupportContact(phone="400-000-0000", email="help@school.test", hours="09:00-21:00")

CONTEXT = {
    "refund_id": "RF20261123ABCDEF0123",
    "order_id": "O-778899",
    "student_name": "林小雨",
    "course_name": "数据分析系统正价课",
    "course_type": "regular",
    "status": "awaiting_review",
    "reason": "时间冲突 <script>alert(1)</script>",
    "requested_at": "2026-11-23T02:00:00+00:00",
    "amount_paid_fen": 299_900,
    "requested_fen": 299_900,
    "fee_fen": 29_990,
    "refund_amount_fen": 269_910,
    "gateway": "wechatpay",
    "decision_reason": "符合七天内退款政策",
    "refunded_at": "2026-11-24T03:15:00+00:00",
    "expected_arrival": "2026-11-26",
    "payout_reference": None,
}


@pytest.fixture(scope="module")
def renderer() -> NoticeRenderer:
    return NoticeRenderer(SUPPORT)


STUDENT_EVENTS = sorted(MONEY_EVENTS)  # the refund notices; complaint notices are tested below


@pytest.mark.parametrize("event", STUDENT_EVENTS)
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("channel", STUDENT_CHANNELS)
def test_every_notice_renders_with_what_the_student_needs(
    renderer: NoticeRenderer, event: NoticeEvent, locale: str, channel: Channel
) -> None:
    notice = renderer.render(event, channel, locale, CONTEXT)
    assert notice.template.endswith(f".{locale}.j2")
    assert "{{" not in notice.text and "{%" not in notice.text
    if channel is Channel.SMS:  # short: who, which order, how much or why, and a number to call
        assert notice.template.startswith(f"{event.value}.sms.")
        needed = ("林小雨", "O-778899", "400-000-0000")
        assert len(notice.text) <= 200, f"{notice.template} is {len(notice.text)} characters"
    else:
        assert "O-778899" in notice.subject
        needed = ("林小雨", "O-778899", "数据分析系统正价课", "400-000-0000", "help@school.test")
    for text in needed:
        assert text in notice.text, f"{text} missing from {notice.template}"


def test_amounts_and_times_are_shown_in_yuan_and_beijing_time(renderer: NoticeRenderer) -> None:
    approved = renderer.render(NoticeEvent.REFUND_APPROVED, Channel.EMAIL, "zh-CN", CONTEXT).text
    assert "¥2,699.10" in approved and "¥299.90" in approved and "¥2,999.00" in approved
    assert "2026-11-26" in approved  # the expected arrival date
    received = renderer.render(NoticeEvent.REFUND_RECEIVED, Channel.EMAIL, "zh-CN", CONTEXT).text
    assert "2026-11-23 10:00" in received  # 02:00 UTC is 10:00 in Shanghai


def test_a_rejection_says_why(renderer: NoticeRenderer) -> None:
    for locale, channel in itertools.product(("zh-CN", "en"), STUDENT_CHANNELS):
        assert (
            "符合七天内退款政策"
            in renderer.render(NoticeEvent.REFUND_REJECTED, channel, locale, CONTEXT).text
        )


def test_html_part_escapes_what_the_student_typed(renderer: NoticeRenderer) -> None:
    notice = renderer.render(NoticeEvent.REFUND_RECEIVED, Channel.EMAIL, "zh-CN", CONTEXT)
    assert "<script>" not in notice.html
    assert "&lt;script&gt;" in notice.html
    assert "<br>" in notice.html  # line breaks survive as markup
    assert "<script>" in notice.text  # the text part is plain text, shown as typed


def test_an_unknown_locale_falls_back_to_chinese(renderer: NoticeRenderer) -> None:
    notice = renderer.render(NoticeEvent.REFUND_SUCCEEDED, Channel.INBOX, "fr", CONTEXT)
    assert notice.template == "refund_succeeded.all.zh-CN.j2"


def test_a_missing_variable_is_an_error_not_a_blank(renderer: NoticeRenderer) -> None:
    context = {key: value for key, value in CONTEXT.items() if key != "refunded_at"}
    with pytest.raises(UndefinedError, match="refunded_at"):
        renderer.render(NoticeEvent.REFUND_SUCCEEDED, Channel.EMAIL, "zh-CN", context)


@pytest.mark.parametrize("event", sorted(STAFF_INBOX_EVENTS - COMPLAINT_EVENTS))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_staff_notices_say_which_refund_and_by_when(
    renderer: NoticeRenderer, event: NoticeEvent, locale: str
) -> None:
    context = {**CONTEXT, "staff_name": "王审核", "review_due_at": "2026-11-25T02:00:00+00:00"}
    notice = renderer.render(event, Channel.INBOX, locale, context)
    assert notice.template == f"{event.value}.inbox.{locale}.j2"
    for needed in ("王审核", "RF20261123ABCDEF0123", "林小雨", "O-778899", "¥2,699.10", "2026-11-25 10:00"):
        assert needed in notice.text, f"{needed} missing from {notice.template}"


TEAM_CONTEXT = {
    **CONTEXT,
    "lead_name": "刘主管",
    "review_due_at": "2026-11-25T02:00:00+00:00",
    "reminder_count": 2,
    "finance_task_id": "FT-RF20261123ABCDEF0123-1",
    "gateway_detail": "the gateway reported abnormal",
}


@pytest.mark.parametrize("event", sorted(STAFF_CHAT_EVENTS - COMPLAINT_EVENTS))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_staff_chat_messages_name_the_refund_the_student_and_the_money(
    renderer: NoticeRenderer, event: NoticeEvent, locale: str
) -> None:
    notice = renderer.render(event, Channel.STAFF_CHAT, locale, TEAM_CONTEXT)
    assert notice.template == f"{event.value}.staff_chat.{locale}.j2"  # never a student's copy
    assert "RF20261123ABCDEF0123" in notice.subject
    for needed in ("林小雨", "O-778899", "¥2,699.10"):
        assert needed in notice.text, f"{needed} missing from {notice.template}"


def test_a_stuck_refund_message_names_the_finance_task(renderer: NoticeRenderer) -> None:
    text = renderer.render(NoticeEvent.TEAM_REFUND_STUCK, Channel.STAFF_CHAT, "zh-CN", TEAM_CONTEXT).text
    assert "FT-RF20261123ABCDEF0123-1" in text and "abnormal" in text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("channel", STUDENT_CHANNELS)
def test_a_refund_paid_by_finance_says_so_and_gives_the_reference(
    renderer: NoticeRenderer, locale: str, channel: Channel
) -> None:
    context = {**CONTEXT, "payout_reference": "BANK-0001"}
    offline = renderer.render(NoticeEvent.REFUND_SUCCEEDED, channel, locale, context).text
    assert "BANK-0001" in offline
    through_gateway = renderer.render(NoticeEvent.REFUND_SUCCEEDED, channel, locale, CONTEXT).text
    assert "BANK-0001" not in through_gateway
    assert ("原支付账户" if locale == "zh-CN" else "original payment account") in through_gateway
    assert ("原支付账户" if locale == "zh-CN" else "original payment account") not in offline.replace(
        "原支付渠道", ""
    )


def test_every_event_is_either_for_students_or_for_staff() -> None:
    assert STAFF_EVENTS == STAFF_INBOX_EVENTS | STAFF_CHAT_EVENTS
    student_events = set(NoticeEvent) - STAFF_EVENTS
    assert student_events == MONEY_EVENTS | (COMPLAINT_EVENTS - STAFF_EVENTS)


COMPLAINT_STUDENT_EVENTS = sorted(COMPLAINT_EVENTS - STAFF_EVENTS)


@pytest.mark.parametrize("event", COMPLAINT_STUDENT_EVENTS)
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("channel", STUDENT_CHANNELS)
def test_every_complaint_notice_says_whose_which_and_how_to_reach_support(
    renderer: NoticeRenderer, event: NoticeEvent, locale: str, channel: Channel
) -> None:
    notice = renderer.render(event, channel, locale, sample_context(event))
    needed = ["林小雨", "CP20261123F00D42", "400-000-0000"]
    if channel is Channel.SMS:
        assert len(notice.text) <= 200, f"{notice.template} is {len(notice.text)} characters"
    else:
        assert "CP20261123F00D42" in notice.subject
        needed += ["help@school.test", "技术问题"]
    for text in needed:
        assert text in notice.text, f"{text} missing from {notice.template}"


def test_a_complaint_acknowledgement_promises_the_response_time(renderer: NoticeRenderer) -> None:
    context = sample_context(NoticeEvent.COMPLAINT_RECEIVED)
    text = renderer.render(NoticeEvent.COMPLAINT_RECEIVED, Channel.EMAIL, "zh-CN", context).text
    assert "2026-11-23 19:15" in text and "2026-11-23 21:05" in text  # first response, resolution
    survey = renderer.render(
        NoticeEvent.COMPLAINT_FOLLOW_UP, Channel.SMS, "zh-CN", sample_context(NoticeEvent.COMPLAINT_FOLLOW_UP)
    )
    assert "https://school.example/survey/CP20261123F00D42" in survey.text


@pytest.mark.parametrize(
    ("event", "channel"),
    [
        (NoticeEvent.SLA_WARNING, Channel.INBOX),
        (NoticeEvent.SLA_BREACHED, Channel.INBOX),
        (NoticeEvent.SLA_BREACHED, Channel.STAFF_CHAT),
    ],
)
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_sla_notices_say_which_complaint_which_deadline_and_when(
    renderer: NoticeRenderer, event: NoticeEvent, channel: Channel, locale: str
) -> None:
    notice = renderer.render(event, channel, locale, sample_context(event))
    assert notice.template == f"{event.value}.{channel.value}.{locale}.j2"
    assert "CP20261123F00D42" in notice.subject and "首次响应" in notice.subject
    for needed in ("林小雨", "2026-11-23 19:15", "直播课一直卡顿"):
        assert needed in notice.text, f"{needed} missing from {notice.template}"


# --- WeChat Official Account messages -----------------------------------------------------------

# The longest free text an agent or the student may put in a notice (domain/complaints.py limits).
LONGEST = {
    "reply_text": "线路已为您切换，请刷新页面后重试。" * 250,  # 4,000 characters
    "resolution_summary": "已补发回放" * 200,
    "compensation_reason": "补偿" * 500,
    "invitation_note": "准备设备" * 125,
    "summary": "直播" * 40,
}


@pytest.mark.parametrize("event", sorted(COMPLAINT_STUDENT_EVENTS))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_complaint_notice_on_wechat_is_whole_within_what_wechat_takes_and_never_points_to_the_inbox(
    renderer: NoticeRenderer, event: NoticeEvent, locale: str
) -> None:
    """Its own short text (not the SMS's "see your inbox": a customer who only wrote to the account
    cannot log in), with the agent's words in it, and room left for the reference and the hotline."""
    context = sample_context(event)
    context.update({name: value for name, value in LONGEST.items() if name in context})
    notice = renderer.render(event, Channel.WECHAT_OA, locale, context)
    assert notice.template == f"{event.value}.wechat_oa.{locale}.j2"
    message = message_text(notice.subject, notice.text)
    assert len(message.encode()) <= TEXT_LIMIT_BYTES, f"{notice.template}: {len(message.encode())} bytes"
    assert fit(message) == message  # the sender has nothing to cut
    assert message.rstrip().endswith(("。", "."))  # the closing line survived the long text
    for absent in ("站内信", "inbox"):
        assert absent not in message, f"{notice.template} sends the student to the inbox"
    if event is NoticeEvent.COMPLAINT_FIRST_RESPONSE:
        assert "线路已为您切换" in notice.text and notice.text.count("…") == 1


@pytest.mark.parametrize("event", sorted(MONEY_EVENTS))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_refund_notice_on_wechat_is_the_full_text_and_fits(
    renderer: NoticeRenderer, event: NoticeEvent, locale: str
) -> None:
    """Refund policies do not list the channel by default; one that does sends the full text."""
    notice = renderer.render(event, Channel.WECHAT_OA, locale, CONTEXT)
    assert notice.template == f"{event.value}.all.{locale}.j2"
    assert len(message_text(notice.subject, notice.text).encode()) <= TEXT_LIMIT_BYTES


# --- admins' edits ----------------------------------------------------------------------------


def test_every_shipped_template_passes_the_check_an_edit_must_pass(renderer: NoticeRenderer) -> None:
    for name in renderer.shipped_names():
        renderer.check(name, (renderer.template_dir / name).read_text(encoding="utf-8"))


EDITABLE = "refund_approved.all.zh-CN.j2"


def blocks(subject: str, text: str) -> str:
    return f"{{% block subject %}}{subject}{{% endblock %}}{{% block text %}}{text}{{% endblock %}}"


GOOD_EDIT = blocks(
    "好消息：退款已批准（{{ order_id }}）",
    "{{ student_name }}，您的退款 {{ refund_amount_fen | yuan }} 预计 {{ expected_arrival }} 到账。"
    "客服 {{ support.phone }}",
)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (blocks("x", "{{ order_id }"), "line 1"),
        (blocks("{{ ordr_id }}", "x"), "unknown variables: ordr_id"),
        (blocks("{{ refunded_at }}", "x"), "refunded_at"),  # not known yet when a refund is approved
        ("{% block text %}{{ order_id }}{% endblock %}", "blocks: subject"),
        # The rules refuse it before the sandbox (which would, as it renders) is asked.
        (blocks("{{ support.__class__.__mro__ }}", "x"), "the attribute __mro__ is not allowed"),
        (blocks("{{ fee_fen + 'x' }}", "x"), "does not render"),
    ],
)
def test_an_edit_that_could_not_be_sent_is_refused_with_the_reason(
    renderer: NoticeRenderer, source: str, problem: str
) -> None:
    with pytest.raises(TemplateProblem, match=re.escape(problem)):
        renderer.check(EDITABLE, source)


class SavedEdits:
    def __init__(self) -> None:
        self.saved: dict[str, tuple[str, int]] = {}

    def current(self, name: str) -> tuple[str, int] | None:
        return self.saved.get(name)


def test_an_edit_in_force_is_used_for_the_next_notice_and_its_version_reported() -> None:
    edits = SavedEdits()
    renderer = NoticeRenderer(SUPPORT, overrides=edits)
    context = {**CONTEXT}
    before = renderer.render(NoticeEvent.REFUND_APPROVED, Channel.EMAIL, "zh-CN", context)
    assert before.version == 0 and "好消息" not in before.subject
    edits.saved[EDITABLE] = (GOOD_EDIT, 3)
    after = renderer.render(NoticeEvent.REFUND_APPROVED, Channel.EMAIL, "zh-CN", context)
    assert (after.template, after.version) == (EDITABLE, 3)
    assert after.subject == "好消息：退款已批准（O-778899）" and "2026-11-26" in after.text
    # SMS has its own template, untouched by this edit; English readers keep theirs too.
    assert renderer.render(NoticeEvent.REFUND_APPROVED, Channel.SMS, "zh-CN", context).version == 0
    assert renderer.render(NoticeEvent.REFUND_APPROVED, Channel.EMAIL, "en", context).version == 0
    preview = renderer.check(EDITABLE, GOOD_EDIT)
    assert "林小雨" in preview.text and "¥2,699.10" in preview.text
