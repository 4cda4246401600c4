"""What every WeChat server API call shares (api.weixin.qq.com), for the mini-program and the
Official Account alike: one app's access token and the JSON calls that carry it.

- The token comes from `POST /cgi-bin/stable_token` — the "stable" token: asking again while it is
  valid returns the same one, so the API, the worker or two workers never invalidate each other's.
  It is kept until five minutes before it expires.
- WeChat answers errors as HTTP 200 with an errcode. 40001 / 40014 / 42001 mean the token is no
  longer good (revoked, or renewed elsewhere with force_refresh): `call` fetches it again, once.
- -1 (busy) and the rate limits 45009 / 45011 are worth another try later; each caller says which
  other codes are final for its message.
- An answer that is not a JSON object with an integer errcode (a proxy's error page, a forged or
  garbled body) is WeChatUnavailable: a ConnectionError, tried again, never a crash.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from domain.redaction import redacted_url
from integrations.delivery import PermanentDeliveryError
from integrations.http_client import outbound_client
from integrations.log_hygiene import guard_library_logs

guard_library_logs()  # the secret and the access token travel in our URLs' query strings

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_INVALID = frozenset({40001, 40014, 42001})
RETRY_LATER = frozenset({-1, 45009, 45011})  # system busy, rate limits
TOKEN_MARGIN_SECONDS = 300  # a token is never used in its last five minutes


class WeChatUnavailable(ConnectionError):
    """WeChat did not give an answer we can act on; try again later."""


def errcode_of(answer: dict[str, Any]) -> int:
    """0 when the answer carries none (a success); WeChatUnavailable when it is not an integer."""
    code = answer.get("errcode", 0)
    if isinstance(code, bool) or not isinstance(code, int):
        raise WeChatUnavailable(f"WeChat answered an unreadable errcode: {code!r}"[:200])
    return code


def describe(answer: dict[str, Any]) -> str:
    return f"{answer.get('errcode')} {answer.get('errmsg')}"[:300]


class WeChatApi:
    def __init__(
        self,
        app_id: str,
        app_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._token: tuple[str, float] | None = None  # (token, monotonic time it is given up)
        self._token_lock = asyncio.Lock()

    async def post(self, path: str, payload: dict[str, Any], **params: str) -> dict[str, Any]:
        # Chinese as UTF-8, not \u escapes: some WeChat endpoints have shown the escapes verbatim.
        body = json.dumps(payload, ensure_ascii=False).encode()
        async with outbound_client(timeout=self.timeout_seconds) as client:
            response = await client.post(
                f"{self.base_url}{path}",
                content=body,
                params=params,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        return _answer(response)

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        async with outbound_client(timeout=self.timeout_seconds) as client:
            response = await client.get(f"{self.base_url}{path}", params=params)
        return _answer(response)

    async def access_token(self) -> str:
        async with self._token_lock:  # concurrent sends wait for one token request
            if self._token and time.monotonic() < self._token[1]:
                return self._token[0]
            answer = await self.post(
                "/cgi-bin/stable_token",
                {
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self.app_secret,
                    "force_refresh": False,
                },
            )
            token, expires_in = answer.get("access_token"), answer.get("expires_in")
            if not isinstance(token, str) or not token:
                code = errcode_of(answer)
                if code in RETRY_LATER or code == 0:
                    raise WeChatUnavailable(f"WeChat token: {describe(answer)}")
                raise PermanentDeliveryError(f"WeChat refused the app's credentials: {describe(answer)}")
            # A lifetime we cannot read is not trusted beyond this one use.
            lifetime = expires_in if isinstance(expires_in, int) and not isinstance(expires_in, bool) else 0
            self._token = (token, time.monotonic() + lifetime - TOKEN_MARGIN_SECONDS)
            return token

    def _forget(self, token: str) -> None:
        # Only the token WeChat refused: another send may have fetched a newer one meanwhile.
        if self._token and self._token[0] == token:
            self._token = None

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with the app's access token; a token WeChat no longer takes is fetched again, once."""
        token = await self.access_token()
        answer = await self.post(path, payload, access_token=token)
        if errcode_of(answer) in TOKEN_INVALID:
            self._forget(token)
            answer = await self.post(path, payload, access_token=await self.access_token())
        return answer


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:  # WeChat answers errors as 200 + errcode; anything else is retried
        # httpx's own message would quote the URL, secret or access token included.
        raise httpx.HTTPStatusError(
            f"WeChat answered HTTP {response.status_code} to {redacted_url(str(response.url))}",
            request=response.request,
            response=response,
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise WeChatUnavailable(f"WeChat answered no JSON object: {response.text[:200]!r}")
    return answer
