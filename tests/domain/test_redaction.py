"""Credentials in URLs and in text: what a log line or an error message may show of them."""

from __future__ import annotations

import pytest

from domain.redaction import REDACTED, redacted_url, redacted_urls_in, scheme_only


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=c",
            f"https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret={REDACTED}&js_code=c",
        ),
        ("https://x.test/send?access_token=t0k", f"https://x.test/send?access_token={REDACTED}"),
        ("https://qyapi.test/webhook/send?key=k3y", f"https://qyapi.test/webhook/send?key={REDACTED}"),
        (
            "postgresql+psycopg://aftercare:pa55@db.internal:5432/aftercare",
            f"postgresql+psycopg://aftercare:{REDACTED}@db.internal:5432/aftercare",
        ),
        ("https://t0ken@hook.test/x", f"https://{REDACTED}@hook.test/x"),
        ("https://hook.test/x?page=2&id=7", "https://hook.test/x?page=2&id=7"),  # nothing to hide
        ("sqlite:////srv/aftercare.db", "sqlite:////srv/aftercare.db"),
    ],
)
def test_a_url_keeps_its_place_and_loses_its_credentials(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def test_urls_and_bare_query_strings_in_a_text_are_redacted() -> None:
    line = (
        'HTTP Request: GET https://a.test/t?secret=s1 "HTTP/1.1 200 OK" then '
        '"POST /robot/send?access_token=s2&x=1 HTTP/1.1" and json://u:s3@h.test/p'
    )
    shown = redacted_urls_in(line)
    assert not any(secret in shown for secret in ("s1", "s2", "s3"))
    assert "https://a.test/t?secret=" in shown and "/robot/send?access_token=" in shown and "x=1" in shown
    assert redacted_urls_in("nothing here = fine?") == "nothing here = fine?"


def test_a_chat_rooms_url_shows_only_its_kind() -> None:
    assert scheme_only("feishu://t0k3n") == f"feishu://{REDACTED}"
    assert scheme_only("no scheme") == REDACTED
