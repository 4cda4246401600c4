"""Keeping credentials out of the logs of the libraries that log the URLs they call.

httpx logs every request line, URL and all, at INFO; WeChat's API wants its app secret or an access
token in the query string (integrations/wechat_api.py), and a configured webhook URL may carry a
password. Apprise logs each chat room's URL at DEBUG (DingTalk's access_token, WeCom's key, Feishu's
token in the path, where no rule can tell it from a path), and urllib3 under it each request line.
So those loggers get a filter that redacts credentials in every URL and query string of a record
(domain/redaction.py), and Apprise and urllib3 are held at INFO, above the lines that print a room's
URL.

Installed on import by the modules whose calls put credentials in URLs; installing twice is once."""

from __future__ import annotations

import logging

from domain.redaction import redacted_urls_in

# The loggers that write URLs (a filter acts on its own logger's records only, not on a child's).
URL_LOGGING_LIBRARIES = ("httpx", "apprise", "urllib3.connectionpool")
# Their DEBUG lines print chat rooms' URLs, whose tokens may sit in the path (Feishu, Slack).
HELD_AT_INFO = ("apprise", "urllib3.connectionpool")


class CredentialsInUrls(logging.Filter):
    """Rewrites a record whose text holds a URL with credentials; leaves every other as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redacted_urls_in(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def guard_library_logs() -> None:
    for name in URL_LOGGING_LIBRARIES:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, CredentialsInUrls) for existing in logger.filters):
            logger.addFilter(CredentialsInUrls())
    for name in HELD_AT_INFO:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (0) included: inheriting a DEBUG root
            logger.setLevel(logging.INFO)
