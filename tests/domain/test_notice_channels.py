from __future__ import annotations

import pytest

from domain.notifications import MONEY_EVENTS, MUTABLE_CHANNELS, Channel, NoticeEvent, channels_for

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
