"""The team's chat rooms, reached through Apprise: DingTalk (dingtalk://), WeCom group bots
(wecombot://), Feishu (feishu://), Slack (slack://), or any HTTP endpoint (json://).

AFTERCARE_STAFF_CHAT_URLS lists the rooms, separated by spaces. A URL Apprise cannot parse stops
the worker at start-up, so a typo never surfaces as silently missing messages.
"""

from __future__ import annotations

import apprise

from integrations.delivery import PermanentDeliveryError
from integrations.log_hygiene import guard_library_logs

guard_library_logs()  # a room's URL is its secret, and Apprise logs it


class StaffChat:
    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise ValueError("staff chat needs at least one Apprise URL")
        self.rooms = apprise.Apprise()
        for url in urls:
            if not self.rooms.add(url):
                scheme = url.split("://", 1)[0]
                # Only the scheme: the rest of a chat URL is usually its secret token.
                raise ValueError(f"not a usable Apprise URL (scheme {scheme!r}) in AFTERCARE_STAFF_CHAT_URLS")
        self.room_count = len(urls)

    async def send(self, title: str, text: str) -> str:
        """Post to every room. Apprise says only whether all posts went through; a failure is taken
        as transient and retried (a room that did receive the message may then see it twice)."""
        if not text.strip():
            raise PermanentDeliveryError("an empty staff-chat message")
        if not await self.rooms.async_notify(title=title, body=text):
            raise ConnectionError(f"Apprise could not post to every one of {self.room_count} chat room(s)")
        return f"posted to {self.room_count} chat room(s)"
