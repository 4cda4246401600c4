"""The default video-room provider: a link under the configured base URL whose room name is an
HMAC of the invitation — stable for a retry, different for every invitation, unguessable without
the secret — and the settings that choose it."""

from __future__ import annotations

import pytest

from integrations.video_rooms import LinkRoomProvider, build_video_rooms
from settings import Settings


async def test_a_room_is_stable_per_invitation_and_unguessable_without_the_secret() -> None:
    rooms = LinkRoomProvider(base_url="https://meet.school.example/", secret="s3cret")
    first = await rooms.open_room("complaint-CP1:video:1")
    assert first == await rooms.open_room("complaint-CP1:video:1")  # a retried activity
    assert first.url == f"https://meet.school.example/{first.room_id}"
    assert first.room_id.startswith("aftercare-") and len(first.room_id) == len("aftercare-") + 24
    assert "CP1" not in first.url  # nothing to guess another complaint's room from
    second = await rooms.open_room("complaint-CP1:video:2")
    other_secret = await LinkRoomProvider(base_url="https://meet.school.example", secret="x").open_room(
        "complaint-CP1:video:1"
    )
    assert len({first.room_id, second.room_id, other_secret.room_id}) == 3


def test_settings_choose_the_provider(tmp_path) -> None:
    dev = build_video_rooms(Settings(data_dir=tmp_path, sandbox_gateway_port=18090))
    assert isinstance(dev, LinkRoomProvider) and dev.base_url == "http://127.0.0.1:18090/sandbox/video"
    # Production without a base URL or with the dev secret: no rooms (an agent is told so).
    production = {"data_dir": tmp_path, "dev_mode": False, "jwt_secret": "x" * 40}
    assert build_video_rooms(Settings(**production)) is None
    assert build_video_rooms(Settings(**production, video_room_base_url="https://meet.example")) is None
    configured = build_video_rooms(
        Settings(**production, video_room_base_url="https://meet.example/", video_room_secret="prod-secret")
    )
    assert configured is not None and configured.base_url == "https://meet.example"
    with pytest.raises(ValueError, match="known providers"):
        build_video_rooms(Settings(data_dir=tmp_path, video_room_provider="zoom"))
