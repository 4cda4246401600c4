"""Opens a complaint's video support room with the configured provider."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.complaints import VideoRoom
from integrations.video_rooms import VideoRoomProvider


class VideoRoomActivities:
    def __init__(self, provider: VideoRoomProvider | None) -> None:
        self.provider = provider

    @activity.defn(name="open_video_room")
    async def open_video_room(self, invitation_id: str) -> VideoRoom:
        """The same invitation id gives the same room (a retry opens nothing new)."""
        if self.provider is None:
            raise ApplicationError(
                "video rooms are not configured (AFTERCARE_VIDEO_ROOM_BASE_URL)",
                type="VideoRoomsNotConfigured",
                non_retryable=True,
            )
        return await self.provider.open_room(invitation_id)
