"""Our Official Account customer-service message client against the sandbox's stand-in for WeChat,
over real HTTP; and against a peer that answers what WeChat never would."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

from devstack.processes import free_port
from devstack.sandbox_wechat import (
    DEV_APP_ID,
    DEV_OFFICIAL_APP_ID,
    DEV_OFFICIAL_APP_SECRET,
    sandbox_wechat_router,
)
from integrations.delivery import PermanentDeliveryError
from integrations.wechat_api import WeChatUnavailable
from integrations.wechat_official_messages import (
    TEXT_LIMIT_BYTES,
    OfficialAccountMessage,
    WeChatCustomerServiceMessages,
    build_official_account_messages,
    fit,
    message_text,
)
from settings import Settings
from tests.http_server import serving


@pytest_asyncio.fixture(scope="module")
async def wechat_server() -> AsyncIterator[str]:
    app = FastAPI()
    app.include_router(sandbox_wechat_router())
    async with serving(app, free_port()) as url:
        yield url


def _client(url: str, secret: str = DEV_OFFICIAL_APP_SECRET) -> WeChatCustomerServiceMessages:
    return WeChatCustomerServiceMessages(
        DEV_OFFICIAL_APP_ID, secret, base_url=f"{url}/wechat", timeout_seconds=5
    )


def new_openid() -> str:
    return "oAbC" + secrets.token_hex(12)  # 28 characters, as WeChat gives them


def _message(
    openid: str, text: str = "陈客服回复了您的反馈（编号 CP1）\n\n已为您切换到备用线路。"
) -> OfficialAccountMessage:
    return OfficialAccountMessage(
        openid=openid, text=text, message_id="complaint-CP1:complaint_first_response"
    )


async def _sandbox(url: str, method: str, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.request(method, path, **kwargs)
    response.raise_for_status()
    return response


async def _sent_to(url: str, openid: str) -> list[dict]:
    messages = (await _sandbox(url, "GET", "/sandbox/wechat-oa/messages")).json()
    return [m for m in messages if m["touser"] == openid]


async def _token_requests(url: str) -> int:
    return (await _sandbox(url, "GET", "/sandbox/wechat/token-requests")).json()[DEV_OFFICIAL_APP_ID]


async def test_messages_go_as_text_with_one_token_fetched_once_and_reused(wechat_server: str) -> None:
    official = _client(wechat_server)
    openid = new_openid()
    before = await _token_requests(wechat_server)
    answers = [await official.send(_message(openid, f"第 {n} 条通知")) for n in range(3)]
    assert answers == ["WeChat Official Account: 0 ok"] * 3
    assert await _token_requests(wechat_server) == before + 1
    sent = await _sent_to(wechat_server, openid)
    assert sent == [
        {"touser": openid, "msgtype": "text", "text": {"content": f"第 {n} 条通知"}} for n in range(3)
    ]


async def test_a_token_renewed_elsewhere_is_fetched_again_once_and_the_message_still_goes(
    wechat_server: str,
) -> None:
    official = _client(wechat_server)
    openid = new_openid()
    await official.send(_message(openid))
    # Another process forces a new token: ours is no longer good (WeChat answers 40001).
    await _sandbox(
        wechat_server,
        "POST",
        "/wechat/cgi-bin/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": DEV_OFFICIAL_APP_ID,
            "secret": DEV_OFFICIAL_APP_SECRET,
            "force_refresh": True,
        },
    )
    before = await _token_requests(wechat_server)
    await official.send(_message(openid, "第二条"))
    assert await _token_requests(wechat_server) == before + 1
    assert [m["text"]["content"] for m in await _sent_to(wechat_server, openid)][-1] == "第二条"
    # Every token expiring (the mini-program's too) is the same story.
    await _sandbox(wechat_server, "POST", "/sandbox/wechat/expire-tokens")
    await official.send(_message(openid, "第三条"))
    assert len(await _sent_to(wechat_server, openid)) == 3


async def test_outside_the_48_hour_window_the_message_is_refused_for_good(wechat_server: str) -> None:
    official = _client(wechat_server)
    openid = new_openid()
    await _sandbox(wechat_server, "PUT", f"/sandbox/wechat-oa/windows/{openid}", json={"open": False})
    with pytest.raises(PermanentDeliveryError, match=r"45015 .*48 hours"):
        await official.send(_message(openid))
    assert await _sent_to(wechat_server, openid) == []
    # The student writes to the account again: the window is open once more.
    await _sandbox(wechat_server, "PUT", f"/sandbox/wechat-oa/windows/{openid}", json={"open": True})
    await official.send(_message(openid))
    assert len(await _sent_to(wechat_server, openid)) == 1


@pytest.mark.parametrize("errcode", [-1, 45009, 45011])
async def test_a_busy_or_rate_limited_wechat_is_tried_again(wechat_server: str, errcode: int) -> None:
    official = _client(wechat_server)
    openid = new_openid()
    await _sandbox(
        wechat_server, "POST", "/sandbox/wechat-oa/faults", json={"errcode": errcode, "openid": openid}
    )
    with pytest.raises(ConnectionError, match=str(errcode)) as raised:
        await official.send(_message(openid))
    assert not isinstance(raised.value, PermanentDeliveryError)
    await official.send(_message(openid))  # the retry
    assert len(await _sent_to(wechat_server, openid)) == 1


async def test_what_wechat_would_never_deliver_is_refused_for_good(wechat_server: str) -> None:
    official = _client(wechat_server)
    with pytest.raises(PermanentDeliveryError, match=r"40003 .*not a user"):
        await official.send(_message("o-too-short"))
    openid = new_openid()
    await _sandbox(
        wechat_server, "POST", "/sandbox/wechat-oa/faults", json={"errcode": 45047, "openid": openid}
    )
    with pytest.raises(PermanentDeliveryError, match=r"45047 .*too many messages"):
        await official.send(_message(openid))
    with pytest.raises(PermanentDeliveryError, match="40125"):
        await _client(wechat_server, secret="wrong").send(_message(openid))
    assert await _sent_to(wechat_server, openid) == []


async def test_the_mini_programs_token_does_not_send_for_the_official_account(wechat_server: str) -> None:
    mini_token = (
        await _sandbox(
            wechat_server,
            "POST",
            "/wechat/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": DEV_APP_ID,
                "secret": "dev-wechat-app-secret-0123456789",
            },
        )
    ).json()["access_token"]
    answer = await _sandbox(
        wechat_server,
        "POST",
        "/wechat/cgi-bin/message/custom/send",
        params={"access_token": mini_token},
        json={"touser": new_openid(), "msgtype": "text", "text": {"content": "x"}},
    )
    assert answer.json()["errcode"] == 40001


async def test_a_long_notice_is_cut_on_a_character_and_still_delivered(wechat_server: str) -> None:
    official = _client(wechat_server)
    openid = new_openid()
    long_reply = message_text("陈客服回复了您的反馈（编号 CP1）", "您好，" + "线路已切换🙂" * 400)
    answer = await official.send(_message(openid, long_reply))
    assert answer == f"WeChat Official Account: 0 ok (text cut to {TEXT_LIMIT_BYTES} bytes)"
    [sent] = await _sent_to(wechat_server, openid)
    content = sent["text"]["content"]
    assert len(content.encode()) <= TEXT_LIMIT_BYTES and content.endswith("…")
    assert long_reply.startswith(content[:-1]) and content.startswith("陈客服回复了您的反馈（编号 CP1）\n\n")


def test_fit_keeps_short_text_and_never_splits_a_character() -> None:
    assert fit("好") == "好"
    assert fit("a" * 10, limit_bytes=10) == "a" * 10
    # 4-byte emoji: 9 bytes of room after the 3-byte ellipsis hold two of them, not two and a quarter.
    assert fit("🙂" * 5, limit_bytes=12) == "🙂🙂…"
    assert fit("好 " * 10, limit_bytes=12) == "好 好…"  # no trailing space before the ellipsis


# --- answers WeChat never gives: retried, never a crash --------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def garbled_server() -> AsyncIterator[str]:
    app = FastAPI()
    answers = {
        "html": PlainTextResponse("<html>502 Bad Gateway</html>"),
        "list": Response('["ok"]', media_type="application/json"),
        "errcode": Response('{"errcode": "0", "errmsg": "ok"}', media_type="application/json"),
        "token": Response('{"access_token": 42}', media_type="application/json"),
    }

    @app.post("/{kind}/cgi-bin/stable_token")
    async def stable_token(kind: str) -> Response:
        if kind == "token":
            return answers["token"]
        return Response('{"access_token": "T", "expires_in": 7200}', media_type="application/json")

    @app.post("/{kind}/cgi-bin/message/custom/send")
    async def custom_send(kind: str) -> Response:
        if kind == "status":
            return PlainTextResponse("upstream down", status_code=502)
        return answers[kind]

    async with serving(app, free_port()) as url:
        yield url


@pytest.mark.parametrize("kind", ["html", "list", "errcode", "token"])
async def test_an_answer_that_is_not_wechats_is_tried_again(garbled_server: str, kind: str) -> None:
    official = WeChatCustomerServiceMessages(
        "wx", "s", base_url=f"{garbled_server}/{kind}", timeout_seconds=5
    )
    with pytest.raises(WeChatUnavailable):
        await official.send(_message(new_openid()))


async def test_an_http_error_is_tried_again(garbled_server: str) -> None:
    official = WeChatCustomerServiceMessages(
        "wx", "s", base_url=f"{garbled_server}/status", timeout_seconds=5
    )
    with pytest.raises(httpx.HTTPStatusError):
        await official.send(_message(new_openid()))


def test_the_official_account_client_follows_the_settings(tmp_path) -> None:
    dev = build_official_account_messages(Settings(data_dir=tmp_path, sandbox_gateway_port=18090))
    assert dev is not None and dev.base_url == "http://127.0.0.1:18090/wechat"
    assert dev.api.app_id == DEV_OFFICIAL_APP_ID
    school = build_official_account_messages(
        Settings(
            data_dir=tmp_path,
            wechat_official_app_id="wx-school-oa",
            wechat_official_app_secret="s",
            wechat_official_api_base_url="https://wechat-proxy.school.example/",
        )
    )
    assert school is not None and (school.api.app_id, school.base_url) == (
        "wx-school-oa",
        "https://wechat-proxy.school.example",
    )
    with pytest.raises(ValueError, match="APP_SECRET"):
        build_official_account_messages(Settings(data_dir=tmp_path, wechat_official_app_id="wx-school-oa"))
    secret = "a-real-secret-0123456789abcdef0123456789"
    assert (
        build_official_account_messages(Settings(data_dir=tmp_path, dev_mode=False, jwt_secret=secret))
        is None
    )
