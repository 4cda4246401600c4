"""Video support rooms: an agent opens one for a complaint and the student is invited through the
notification center. Providers are pluggable (`AFTERCARE_VIDEO_ROOM_PROVIDER`); the default, "link",
needs no API: the room is a link under a configured base URL (a self-hosted Jitsi, say), named by
an HMAC of the invitation id, so the same invitation always gets the same room and nobody can
guess another complaint's. A provider with an API (Tencent Meeting, Zoom) implements `open_room`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from domain.complaints import VideoRoom
from settings import Settings


class VideoRoomProvider(Protocol):
    name: str

    async def open_room(self, invitation_id: str) -> VideoRoom: ...


@dataclass(frozen=True)
class LinkRoomProvider:
    base_url: str
    secret: str
    name: str = "link"

    async def open_room(self, invitation_id: str) -> VideoRoom:
        digest = hmac.new(self.secret.encode(), invitation_id.encode(), hashlib.sha256).hexdigest()
        room_id = f"aftercare-{digest[:24]}"
        return VideoRoom(provider=self.name, room_id=room_id, url=f"{self.base_url.rstrip('/')}/{room_id}")


PROVIDERS = ("link",)


def build_video_rooms(settings: Settings) -> VideoRoomProvider | None:
    """The configured provider; None when video rooms are not set up (agents get a clear refusal)."""
    if settings.video_room_provider not in PROVIDERS:
        raise ValueError(
            f"AFTERCARE_VIDEO_ROOM_PROVIDER={settings.video_room_provider!r}: known providers are {PROVIDERS}"
        )
    base_url, secret = settings.effective_video_room_base_url, settings.video_room_secret_in_force
    if base_url is None or secret is None:
        return None
    return LinkRoomProvider(base_url=base_url, secret=secret)
