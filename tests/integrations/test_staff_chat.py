"""Staff chat through Apprise's json:// plugin, posting to the sandbox's chat-room stand-in."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from devstack.processes import free_port
from devstack.school_systems import STAFF_CHAT_PATH, school_systems_router
from integrations.staff_chat import StaffChat
from tests.http_server import serving


async def test_a_message_reaches_the_room_with_its_title() -> None:
    room = FastAPI()
    room.include_router(school_systems_router())
    port = free_port()
    async with serving(room, port) as url:
        chat = StaffChat([f"json://127.0.0.1:{port}{STAFF_CHAT_PATH}"])
        answer = await chat.send("【退款到账】RF1 ¥2,699.10", "退款 RF1 已完成。")
        async with httpx.AsyncClient(base_url=url) as client:
            [message] = (await client.get(STAFF_CHAT_PATH)).json()
    assert answer == "posted to 1 chat room(s)"
    assert (message["title"], message["message"]) == ("【退款到账】RF1 ¥2,699.10", "退款 RF1 已完成。")


async def test_a_room_that_cannot_be_reached_is_a_transient_failure() -> None:
    chat = StaffChat([f"json://127.0.0.1:{free_port()}{STAFF_CHAT_PATH}"])
    with pytest.raises(ConnectionError):
        await chat.send("title", "text")


def test_a_url_apprise_cannot_use_stops_start_up_without_showing_its_token() -> None:
    with pytest.raises(ValueError, match="scheme 'nosuchchat'") as refused:
        StaffChat(["nosuchchat://very-secret-token"])
    assert "very-secret-token" not in str(refused.value)
    with pytest.raises(ValueError):
        StaffChat([])
