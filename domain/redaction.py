"""What never goes into the audit trail, a log line or an error message: credentials that would let
a reader act as the school (Authorization headers, cookies, keys, tokens, passwords — also where a
URL carries them, as WeChat's API and chat-room webhooks do). Gateways' signatures stay — they sign
one message only, and they are the evidence that the gateway said what it said."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
SECRET_NAME = re.compile(
    r"authorization|cookie|secret|password|passwd|token|api[-_]?key|private[-_]?key|apiv3", re.I
)


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redacted(value: Any) -> Any:
    """A copy of value with every secret-named field's value replaced, at any depth."""
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if is_secret_name(str(key)) else redacted(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


# Query parameters that carry credentials besides the secret-named ones: WeCom bots' `key`.
_SECRET_QUERY_NAMES = frozenset({"key"})
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s'\"<>]+", re.I)


def redacted_url(url: str) -> str:
    """The URL with its password, and the value of each query parameter that is a credential,
    replaced: `https://bot:pw@host/x?access_token=abc&n=1` → `https://bot:[redacted]@host/x?access_token=[redacted]&n=1`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
        netloc = f"{user}:{REDACTED}@{host}" if user else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        secret = [is_secret_name(name) or name.lower() in _SECRET_QUERY_NAMES for name, _ in pairs]
        if any(secret):
            query = urlencode(
                [
                    (name, REDACTED if hidden else value)
                    for (name, value), hidden in zip(pairs, secret, strict=True)
                ],
                safe="[]",
            )
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # as written (urlunsplit would drop sqlite:////'s empty host)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redacted_urls_in(text: str) -> str:
    """Every URL in a text (a log line, an error message) redacted as redacted_url says, and every
    credential in a query string standing on its own (`POST /send?key=abc HTTP/1.1`)."""
    return _QUERY_PAIR.sub(_redacted_pair, _URL.sub(lambda match: redacted_url(match.group(0)), text))


_QUERY_PAIR = re.compile(r"([?&])([^=&\s?#\"']+)=([^&\s#\"']*)")


def _redacted_pair(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    hidden = is_secret_name(name) or name.lower() in _SECRET_QUERY_NAMES
    return f"{separator}{name}={REDACTED if hidden and value else value}"


def scheme_only(url: str) -> str:
    """Nothing but the kind of URL: for chat-room URLs, whose path is their token (`feishu://…`)."""
    scheme, found, _rest = url.partition("://")
    return f"{scheme}://{REDACTED}" if found else REDACTED
