"""No configured secret — nor a user's password, a token we issued or one WeChat gave us — appears in
any log record (at DEBUG, every logger) or in the text of an exception, while the representative
flows run: settings loaded from the environment and shown, signing in (right and wrong), a signed
gateway notification (good and forged) with configured WeChat Pay keys, the mail relay's and
WeChat's webhooks, /metrics with its token, an SMTP send with a password (and a refused one),
WeChat's API (the app secret and the access token travel in query strings; and when WeChat answers
an error), and staff chat through Apprise."""

from __future__ import annotations

import base64
import json
import logging
import time
import traceback
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.wecombot import NotifyWeComBot
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Request, Response

from api.app import create_app
from api.security import hash_password
from db.engine import SessionFactory, build_engine
from devstack.dev_keys import WECHATPAY_MCHID, DevKeys, ensure_dev_keys
from devstack.mailbox import MaildirHandler
from devstack.processes import free_port
from devstack.sandbox_wechat import DEV_TEMPLATES, sandbox_wechat_router
from domain.roles import Role
from integrations import signed_post, wechat_official
from integrations.delivery import PermanentDeliveryError
from integrations.mail import SmtpMailer
from integrations.staff_chat import StaffChat
from integrations.wechat_message import build_wechat
from settings import Settings
from tests.api.signed_callbacks import wechatpay_notification
from tests.factories import make_order, make_refund, make_user
from tests.http_server import serving
from tests.integrations.test_wechat_message import _message
from worker import smtp_config

SECRETS = {
    "AFTERCARE_JWT_SECRET": "jwt-secret-N0T-F0R-L0GS-0123456789abcdef0123",
    "AFTERCARE_METRICS_TOKEN": "metrics-token-N0T-F0R-L0GS",
    "AFTERCARE_SMTP_PASSWORD": "smtp-pa55-N0T-F0R-L0GS",
    "AFTERCARE_WECHATPAY_APIV3_KEY": "apiv3KeyN0TF0RL0GS0123456789abcd",  # 32 bytes, as WeChat Pay's are
    "AFTERCARE_COMMERCE_HOOK_SECRET": "commerce-N0T-F0R-L0GS",
    "AFTERCARE_VIDEO_ROOM_SECRET": "video-N0T-F0R-L0GS",
    "AFTERCARE_INTAKE_SECRET": "intake-N0T-F0R-L0GS",
    "AFTERCARE_WECHAT_OFFICIAL_TOKEN": "oatokenN0TF0RL0GS",
    "AFTERCARE_WECHAT_APP_SECRET": "wechat-app-N0T-F0R-L0GS-0123",
    "AFTERCARE_WECHAT_OFFICIAL_APP_SECRET": "wechat-oa-N0T-F0R-L0GS-0123",
    "AFTERCARE_ALIYUN_SMS_ACCESS_KEY_SECRET": "aliyun-N0T-F0R-L0GS",
}
CHAT_TOKEN = "dingtalkT0kenN0TF0RL0GS"
CHAT_KEY = "wecomK3yN0TF0RL0GS"
FEISHU_TOKEN = "feishuT0kenN0TF0RL0GS"
WRONG_PASSWORD = "Wr0ng-N0T-F0R-L0GS"  # a name, not the text, in the tracebacks' source lines
DATABASE_PASSWORD = "db-pa55-N0T-F0R-L0GS"
WECHAT_APP_ID = "wxsecretstest00001"
MAIL = json.dumps(
    {"from": "a@example.test", "to": ["complaints@aftercare.local"], "text": "x", "message_id": "m1"}
).encode()


class Accounts:
    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        password = SECRETS["AFTERCARE_SMTP_PASSWORD"].encode()
        return AuthResult(success=auth_data.password == password, handled=False)


@pytest.fixture
def mail_relay(tmp_path: Path):
    port = free_port()
    controller = Controller(
        MaildirHandler(tmp_path / "mail"),
        hostname="127.0.0.1",
        port=port,
        authenticator=Accounts(),
        auth_require_tls=False,  # loopback only
        auth_required=True,
    )
    controller.start()
    yield port
    controller.stop()


def _chat_room() -> FastAPI:
    room = FastAPI()

    @room.post("/{room}")
    async def post(room: str, request: Request) -> Response:
        await request.body()
        return Response(status_code=500 if room == "broken" else 200)

    @room.post("/open-apis/bot/v2/hook/{token}/")  # Feishu's, moved here: the token in the path
    @room.post("/robot/send")  # DingTalk's, moved here
    @room.post("/cgi-bin/webhook/send")  # WeCom's, moved here
    async def bot(request: Request) -> dict:
        await request.body()
        return {"errcode": 0, "errmsg": "ok", "code": 0}

    return room


@pytest_asyncio.fixture
async def outside(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """WeChat's stand-in (with our app's id and secret) and a chat room, on loopback."""
    wechat = FastAPI()
    wechat.include_router(
        sandbox_wechat_router(
            app_id=WECHAT_APP_ID,
            app_secret=SECRETS["AFTERCARE_WECHAT_APP_SECRET"],
            official_app_secret=SECRETS["AFTERCARE_WECHAT_OFFICIAL_APP_SECRET"],
        )
    )

    @wechat.get("/broken/sns/jscode2session")
    async def broken() -> Response:
        return Response("bad gateway", status_code=502)

    async with serving(wechat, free_port()) as wechat_url, serving(_chat_room(), free_port()) as room_url:
        yield wechat_url, room_url


def _key_files(directory: Path, keys: DevKeys) -> dict[str, str]:
    merchant = directory / "merchant.pem"
    merchant.write_bytes(
        keys.wechatpay_merchant.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    platform = directory / "platform.pem"
    platform.write_bytes(
        keys.wechatpay_platform.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return {
        "AFTERCARE_WECHATPAY_MCHID": WECHATPAY_MCHID,
        "AFTERCARE_WECHATPAY_MERCHANT_SERIAL": "MERCHANT-SERIAL-1",
        "AFTERCARE_WECHATPAY_PRIVATE_KEY_FILE": str(merchant),
        "AFTERCARE_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE": str(platform),
        "AFTERCARE_WECHATPAY_PLATFORM_SERIAL": "PLATFORM-SERIAL-1",
    }


def _private_key_lines(keys: DevKeys) -> list[str]:
    """Lines of the private keys' PEM: none may be logged either."""
    lines = []
    for key in (keys.wechatpay_merchant, keys.alipay_app):
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        lines += [line for line in pem.splitlines()[1:-1] if len(line) > 40]
    return lines


# The relay takes the password without TLS: it is on loopback, and the password is what is watched.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_no_secret_is_logged_or_put_in_an_error(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
    tmp_path: Path,
    mail_relay: int,
    outside: tuple[str, str],
) -> None:
    wechat_url, room_url = outside
    keys = ensure_dev_keys(tmp_path / "data")
    environment = {
        **SECRETS,
        **_key_files(tmp_path, keys),
        "AFTERCARE_DATABASE_URL": database_url,
        "AFTERCARE_DATA_DIR": str(tmp_path / "data"),
        "AFTERCARE_SANDBOX_GATEWAY_PORT": str(free_port()),  # nothing there
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nor here: the API answers 503 after verifying
        "AFTERCARE_SMTP_HOST": "127.0.0.1",
        "AFTERCARE_SMTP_PORT": str(mail_relay),
        "AFTERCARE_SMTP_USERNAME": "aftercare",
        "AFTERCARE_WECHAT_APP_ID": WECHAT_APP_ID,
        "AFTERCARE_WECHAT_API_BASE_URL": f"{wechat_url}/wechat",
        "AFTERCARE_WECHAT_TEMPLATES": json.dumps(DEV_TEMPLATES),
        # Apprise logs DingTalk's, WeCom's and Feishu's URLs, token and key included, at DEBUG; the last
        # answers 500 (its password must not show in the warning either).
        "AFTERCARE_STAFF_CHAT_URLS": f"dingtalk://{CHAT_TOKEN} wecombot://{CHAT_KEY} feishu://{FEISHU_TOKEN} "
        f"json://chat:{CHAT_TOKEN}@{room_url.split('://')[1]}/broken",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # The chat services Apprise knows live at fixed addresses on the Internet; here, on loopback.
    monkeypatch.setattr(NotifyDingTalk, "notify_url", f"{room_url}/robot/send?access_token={{token}}")
    monkeypatch.setattr(NotifyWeComBot, "notify_url", f"{room_url}/cgi-bin/webhook/send?key={{key}}")
    monkeypatch.setattr(NotifyFeishu, "notify_url", f"{room_url}/open-apis/bot/v2/hook/{{token}}/")
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []

    def failed(exc: BaseException) -> None:
        errors.append("".join(traceback.format_exception(exc)))

    # --- settings, loaded and shown --------------------------------------------------------------
    settings = Settings()
    assert settings.jwt_secret.get_secret_value() == SECRETS["AFTERCARE_JWT_SECRET"]
    production_like = Settings(
        database_url=f"postgresql+psycopg://aftercare:{DATABASE_PASSWORD}@db.internal/aftercare",
        commerce_hook_url=f"https://hook:{DATABASE_PASSWORD}@commerce.internal/hooks",
    )
    logging.getLogger("settings").debug("settings in force: %r / %s", settings, production_like)

    # --- the API: sign-in, tokens, webhooks, a gateway notification ------------------------------
    user_password = "a-users-own-pa55word-N0T-F0R-L0GS"
    engine = build_engine(database_url)
    sessions = SessionFactory(engine)
    student = make_user(sessions, Role.STUDENT)
    with sessions() as session:
        student.password_hash = hash_password(user_password)
        session.add(student)
        session.commit()
    refund = make_refund(sessions, make_order(sessions, student), status="refunding")
    api_port = free_port()
    async with serving(create_app(settings), api_port) as api_url, httpx.AsyncClient(base_url=api_url) as api:
        wrong = await api.post(
            "/api/auth/token", data={"username": student.email, "password": WRONG_PASSWORD}
        )
        assert wrong.status_code == 401
        signed_in = await api.post(
            "/api/auth/token", data={"username": student.email, "password": user_password}
        )
        issued = signed_in.json()["access_token"]
        bearer = {"Authorization": f"Bearer {issued}"}
        assert (await api.get("/api/me", headers=bearer)).status_code == 200
        bound = await api.put("/api/me/wechat", json={"code": "login-code-1"}, headers=bearer)
        assert bound.status_code == 200, bound.text  # jscode2session: our app secret in the query
        metrics_token = SECRETS["AFTERCARE_METRICS_TOKEN"]
        assert (
            await api.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        ).status_code == 200
        assert (await api.get("/metrics", headers={"Authorization": "Bearer guess"})).status_code == 401

        apiv3 = SECRETS["AFTERCARE_WECHATPAY_APIV3_KEY"].encode()
        body, headers = wechatpay_notification(keys, refund, apiv3_key=apiv3, serial="PLATFORM-SERIAL-1")
        good = await api.post("/api/payments/wechatpay/notify", content=body, headers=headers)
        assert good.status_code == 503  # verified; Temporal is not running here
        forged = await api.post("/api/payments/wechatpay/notify", content=body + b" ", headers=headers)
        assert forged.status_code == 401

        relayed = signed_post.signed_headers(SECRETS["AFTERCARE_INTAKE_SECRET"], MAIL)
        assert (await api.post("/api/intake/email", content=MAIL, headers=relayed)).status_code == 503
        stamp = str(int(time.time()))
        token = SECRETS["AFTERCARE_WECHAT_OFFICIAL_TOKEN"]
        echo = {
            "signature": wechat_official.signature(token, stamp, "n"),
            "timestamp": stamp,
            "nonce": "n",
            "echostr": "e",
        }
        assert (await api.get("/api/intake/wechat", params=echo)).text == "e"
    engine.dispose()

    # --- the worker's side: mail with a password, WeChat's API, staff chat -----------------------
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@aftercare.test", "s@example.test", "x"
    message.set_content("x")
    config = smtp_config(settings)
    await SmtpMailer(config).send(message)
    try:
        await SmtpMailer(config.__class__(**{**config.__dict__, "password": WRONG_PASSWORD})).send(message)
    except (aiosmtplib.SMTPException, PermanentDeliveryError) as exc:
        failed(exc)
    else:
        raise AssertionError("a wrong SMTP password was taken")

    wechat = build_wechat(settings)
    assert wechat is not None
    openid = await wechat.openid_for("login-code-2")
    sent = await wechat.send(_message(openid))
    assert sent.startswith("WeChat msgid ")
    wechat.api.base_url = f"{wechat_url}/broken"  # WeChat answers an error page
    try:
        await wechat.openid_for("login-code-3")
    except httpx.HTTPError as exc:
        failed(exc)
    else:
        raise AssertionError("an error page was taken for an answer")
    access_token = wechat.api._token[0] if wechat.api._token else ""
    assert access_token

    chat = StaffChat(settings.effective_staff_chat_urls)
    try:
        await chat.send("退款已到账", "RF1 ¥2,699.10")
    except ConnectionError as exc:  # the broken room
        failed(exc)

    # --- what was written --------------------------------------------------------------------------
    logged = [record.getMessage() for record in caplog.records]
    logged += [
        "".join(traceback.format_exception(*record.exc_info)) for record in caplog.records if record.exc_info
    ]
    assert any("HTTP Request" in line for line in logged)  # httpx was heard at DEBUG: the check sees it
    assert len(errors) == 3
    secrets = [
        *SECRETS.values(),
        CHAT_TOKEN,
        CHAT_KEY,
        FEISHU_TOKEN,
        DATABASE_PASSWORD,
        user_password,
        WRONG_PASSWORD,
        issued,
        access_token,
        base64.b64encode(apiv3).decode(),
        *_private_key_lines(keys),
    ]
    for text in [*logged, *errors, repr(settings), str(settings), repr(production_like)]:
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, (leaked, text[:500])
    # And the redaction kept what an operator needs: the host called and what was refused.
    assert any("jscode2session" in line and "[redacted]" in line for line in logged)
    assert "db.internal" in repr(production_like)
    assert json.dumps(settings.model_dump(mode="json"))  # settings still serialise (secrets masked)
