"""A video support room for a complaint, on the time-skipping server: the student is invited on
their channels with the room's link; a room that cannot be opened refuses the invitation and
records nothing; an invitation is not an answer, so the first-response clock keeps running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.complaints import VideoInvitation
from domain.notifications import Channel
from tests.temporal_env import start_time_skipping
from tests.workflows.refund_fakes import FakeActivities, notices_of
from tests.workflows.test_complaint_workflow import complaint, events, start, stop
from workflows.complaint import ComplaintWorkflow


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping() as environment:
        yield environment


def invitation(starts_at: datetime | None = None) -> VideoInvitation:
    return VideoInvitation(starts_at=starts_at, note="请准备好出现卡顿的设备", by="U-AGENT", by_name="陈客服")


async def test_the_student_is_invited_with_the_rooms_link_and_the_clock_runs_on(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    invited = await handle.execute_update(ComplaintWorkflow.invite_to_video, invitation(at))
    assert invited.room_url.startswith("https://meet.school.test/aftercare-")
    told = await notices_of(fakes, "video_invitation", 3)
    assert {n.channel for n in told} == {Channel.INBOX, Channel.EMAIL, Channel.SMS}
    assert {n.context["room_url"] for n in told} == {invited.room_url}
    assert told[0].context["starts_at"] == at.isoformat()
    [step] = [e for e in fakes.complaint_events if e.event == "video.invited"]
    assert step.detail["room_url"] == invited.room_url and step.actor == "U-AGENT"
    again = await handle.execute_update(ComplaintWorkflow.invite_to_video, invitation())
    assert again.room_url != invited.room_url  # each invitation its own room

    await env.sleep(timedelta(minutes=10, seconds=5))  # technical: answer within 10 minutes
    for _ in range(100):
        if "sla.first_response.breached" in events(fakes):
            break
        await env.sleep(timedelta(seconds=1))
    assert "sla.first_response.breached" in events(fakes)
    await stop(handle)


async def test_a_room_that_cannot_be_opened_refuses_the_invitation_and_records_nothing(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    fakes.video_rooms_down = True
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ComplaintWorkflow.invite_to_video, invitation())
    assert refused.value.cause.type == "VideoRoomUnavailable"
    assert "meeting service" in refused.value.cause.message
    assert "video.invited" not in events(fakes)
    assert not [n for n in fakes.notices if n.event.value == "video_invitation"]
    await stop(handle)
