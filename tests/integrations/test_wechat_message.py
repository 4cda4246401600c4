"""Our WeChat subscribe-message client against the sandbox's stand-in for WeChat's server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from devstack.processes import free_port
from devstack.sandbox_wechat import DEV_APP_ID, DEV_APP_SECRET, DEV_TEMPLATES, sandbox_wechat_router
from integrations.delivery import PermanentDeliveryError
from integrations.wechat_message import (
    WeChatMessage,
    WeChatSubscribeMessages,
    WeChatTemplate,
    build_wechat,
    message_values,
)
from settings import Settings
from tests.http_server import serving
from tests.integrations.test_notice_renderer import CONTEXT

TEMPLATES = {event: WeChatTemplate(**spec) for event, spec in DEV_TEMPLATES.items()}


@pytest_asyncio.fixture(scope="module")
async def wechat_server() -> AsyncIterator[str]:
    app = FastAPI()
    app.include_router(sandbox_wechat_router())
    async with serving(app, free_port()) as url:
        yield url


def _client(url: str, secret: str = DEV_APP_SECRET) -> WeChatSubscribeMessages:
    return WeChatSubscribeMessages(DEV_APP_ID, secret, TEMPLATES, base_url=f"{url}/wechat", timeout_seconds=5)


def _message(openid: str, event: str = "refund_approved", **context: object) -> WeChatMessage:
    return WeChatMessage(
        openid=openid,
        event=event,
        text="林小雨同学，您的退款申请已通过审核……",
        message_id=f"refund-RF1:{event}:wechat",
        values=message_values({**CONTEXT, **context}),
    )


async def _sent(url: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get("/sandbox/wechat/messages")).json()


async def test_a_bound_student_gets_the_events_template_with_values_that_fit(wechat_server: str) -> None:
    wechat = _client(wechat_server)
    openid = await wechat.openid_for("login-code-1")
    assert openid.startswith("o") and openid == await wechat.openid_for("login-code-1")
    long_name = "数据分析系统正价课（2026 秋季周末班，含一对一辅导与就业指导）"
    answer = await wechat.send(_message(openid, course_name=long_name))
    assert answer.startswith("WeChat msgid ")
    sent = (await _sent(wechat_server))[-1]
    assert (sent["touser"], sent["template_id"], sent["page"]) == (
        openid,
        "dev-tmpl-refund_approved",
        "pages/refund/detail",
    )
    assert sent["data"]["character_string2"] == {"value": "O-778899"}
    assert sent["data"]["amount3"] == {"value": "¥2,699.10"}
    course = sent["data"]["thing1"]["value"]
    assert len(course) == 20 and course.endswith("…") and long_name.startswith(course[:-1])


async def test_an_expired_token_is_fetched_again_and_the_message_still_goes(wechat_server: str) -> None:
    wechat = _client(wechat_server)
    openid = await wechat.openid_for("login-code-2")
    await wechat.send(_message(openid))
    async with httpx.AsyncClient(base_url=wechat_server) as client:
        assert (await client.post("/sandbox/wechat/expire-tokens")).json()["expired"] >= 1
    before = len(await _sent(wechat_server))
    await wechat.send(_message(openid, event="refund_succeeded"))
    assert len(await _sent(wechat_server)) == before + 1


@pytest.mark.parametrize(("errcode", "outcome"), [(43101, PermanentDeliveryError), (-1, ConnectionError)])
async def test_a_refused_subscription_is_final_and_a_busy_wechat_is_retried(
    wechat_server: str, errcode: int, outcome: type[Exception]
) -> None:
    wechat = _client(wechat_server)
    openid = await wechat.openid_for("login-code-3")
    async with httpx.AsyncClient(base_url=wechat_server) as client:
        await client.post("/sandbox/wechat/faults", json={"errcode": errcode})
    with pytest.raises(outcome, match=str(errcode)):
        await wechat.send(_message(openid))


async def test_what_wechat_would_never_deliver_is_refused_for_good(wechat_server: str) -> None:
    wechat = _client(wechat_server)
    with pytest.raises(PermanentDeliveryError, match="40003"):  # nobody logged in with this openid
        await wechat.send(_message("o-stranger"))
    with pytest.raises(PermanentDeliveryError, match="no WeChat template"):
        await wechat.send(_message(await wechat.openid_for("login-code-4"), event="review_reminder"))
    with pytest.raises(PermanentDeliveryError, match="40125"):
        await _client(wechat_server, secret="wrong").send(_message("o-any"))
    with pytest.raises(PermanentDeliveryError, match="40029"):
        await wechat.openid_for("")


def test_the_wechat_client_follows_the_settings(tmp_path) -> None:
    dev = build_wechat(Settings(data_dir=tmp_path, sandbox_gateway_port=18090))
    assert dev is not None and dev.base_url == "http://127.0.0.1:18090/wechat"
    school = build_wechat(
        Settings(
            data_dir=tmp_path,
            wechat_app_id="wx123",
            wechat_app_secret="s",
            wechat_templates={"refund_received": {"template_id": "T1", "fields": {"thing1": "course"}}},
        )
    )
    assert school is not None and school.templates["refund_received"].template_id == "T1"
    secret = "a-real-secret-0123456789abcdef0123456789"
    assert build_wechat(Settings(data_dir=tmp_path, dev_mode=False, jwt_secret=secret)) is None
