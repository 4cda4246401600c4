"""What the channels hand over, made into a complaint's text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.intake_text import (
    ChatLine,
    complaint_id_in,
    email_follow_up_text,
    email_text,
    readable,
    transcript_text,
)


def test_a_complaint_id_is_found_in_a_reply_subject_and_nowhere_it_is_part_of_a_word() -> None:
    assert complaint_id_in("Re: [CP20261123ABCDEF1234] 直播卡顿") == "CP20261123ABCDEF1234"
    assert complaint_id_in("回复：我们已收到您的反馈（编号CP20261123ABCDEF1234）") == "CP20261123ABCDEF1234"
    assert complaint_id_in("Re: XCP20261123ABCDEF1234") is None
    assert complaint_id_in("Re: CP20261123ABCDEF12345") is None
    assert complaint_id_in("Re: 直播卡顿") is None


def test_an_email_reply_keeps_only_what_is_new() -> None:
    body = (
        "补充一下：是安卓手机。\r\n\r\n"
        "On Mon, 23 Nov 2026 at 20:00, Aftercare <service@aftercare.local> wrote:\r\n"
        "> 我们已收到您的反馈\r\n"
    )
    assert email_follow_up_text("Re: Re: 反馈", body) == "补充一下：是安卓手机。"
    outlook = "好的\n\n-----Original Message-----\nFrom: Aftercare\n已收到"
    assert email_follow_up_text("RE: 反馈", outlook) == "好的"
    assert email_follow_up_text("回复：退款进度", "> 全是引用") == "退款进度"


def test_a_new_email_is_its_subject_then_its_words() -> None:
    assert email_text("Fwd: 发票", "两周了\n\n\n\n还没开\x07出来") == "发票\n\n两周了\n\n还没开出来"
    assert email_text("", "只有正文") == "只有正文"
    assert email_text("Re:", "> 引用") == ""


@given(st.text(max_size=6000))
def test_readable_text_is_bounded_and_free_of_control_characters(text: str) -> None:
    cleaned = readable(text)
    assert len(cleaned) <= 4000
    assert all(c in "\n\t" or (ord(c) >= 32 and not 0x7F <= ord(c) < 0xA0) for c in cleaned)


def chat(count: int, size: int = 100) -> list[ChatLine]:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    return [
        ChatLine(
            at=start + timedelta(seconds=30 * n),
            speaker="student" if n % 2 == 0 else "agent",
            text=f"#{n} " + "慢" * size,
        )
        for n in range(count)
    ]


def test_a_short_chat_is_whole_in_beijing_time() -> None:
    text = transcript_text(chat(2, size=3))
    assert text.split("\n") == [
        "在线客服对话记录（2026-11-23 09:00–09:00 北京时间，共 2 条）",
        "[09:00] 学员：#0 慢慢慢",
        "[09:00] 客服：#1 慢慢慢",
    ]


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=1990))
def test_a_long_chat_keeps_its_start_and_end_and_says_what_it_left_out(count: int, size: int) -> None:
    text = transcript_text(chat(count, size))
    assert len(text) <= 4000
    assert "#0 " in text  # how it began
    assert f"#{count - 1} " in text or (count > 1 and "中间省略" in text)
    if "中间省略" in text:
        left_out = int(text.split("中间省略 ")[1].split(" ")[0])
        shown = sum(f"#{n} " in text for n in range(count))
        assert shown + left_out == count
