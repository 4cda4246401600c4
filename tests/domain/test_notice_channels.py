from __future__ import annotations

import pytest

from domain.complaints import COMPLAINT_NOTICE_CHANNELS
from domain.notifications import (
    FALLBACK_CHANNEL,
    MONEY_EVENTS,
    MUTABLE_CHANNELS,
    STUDENT_CHANNELS,
    Channel,
    NoticeEvent,
    channels_for,
)

POLICY = [Channel.INBOX, Channel.EMAIL, Channel.SMS]
MUTED_ALL = [Channel.INBOX, Channel.EMAIL, Channel.SMS]


@pytest.mark.parametrize("event", sorted(MONEY_EVENTS))
def test_notices_about_money_go_out_on_every_policy_channel_whatever_was_muted(event: NoticeEvent) -> None:
    assert channels_for(event, POLICY, MUTED_ALL) == POLICY


def test_other_notices_respect_mutes_but_always_reach_the_inbox() -> None:
    # Refund notices are all about money; the rule is for the others (complaint follow-ups, surveys).
    other = NoticeEvent.TEAM_REFUND_PAID
    assert other not in MONEY_EVENTS
    assert channels_for(other, POLICY, [Channel.SMS]) == [Channel.INBOX, Channel.EMAIL]
    assert channels_for(other, POLICY, MUTED_ALL) == [Channel.INBOX]
    assert Channel.INBOX not in MUTABLE_CHANNELS


def test_every_student_refund_notice_counts_as_about_money() -> None:
    student_refund_events = {e for e in NoticeEvent if e.value.startswith("refund_")}
    assert student_refund_events == MONEY_EVENTS


def test_the_official_account_is_a_student_channel_muted_like_email_but_never_for_money() -> None:
    assert Channel.WECHAT_OA in STUDENT_CHANNELS and Channel.WECHAT_OA in MUTABLE_CHANNELS
    assert Channel.WECHAT_OA in COMPLAINT_NOTICE_CHANNELS
    channels = [Channel.INBOX, Channel.WECHAT_OA]
    assert channels_for(NoticeEvent.COMPLAINT_FIRST_RESPONSE, channels, [Channel.WECHAT_OA]) == [
        Channel.INBOX
    ]
    assert channels_for(NoticeEvent.REFUND_SUCCEEDED, channels, [Channel.WECHAT_OA]) == channels
    # A refusal there (past WeChat's 48-hour window) hands the notice to no other channel: the
    # student is told on their email and phone anyway when they have them.
    assert Channel.WECHAT_OA not in FALLBACK_CHANNEL
