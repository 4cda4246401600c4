"""Capability links stay out of access logs. The follow-up survey's link carries `t`, an HMAC that lets
whoever holds it answer the survey without signing in; an access log line (uvicorn's, at INFO) would
hand it to anyone who reads the logs. The filter masks it and leaves the rest of the line alone."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

# path prefix → the query parameters on it that grant access
CAPABILITY_PARAMETERS = {"/survey/": frozenset({"t"})}
MASK = "***"


def masked(path_and_query: str) -> str:
    path, _, query = path_and_query.partition("?")
    secret = next((names for prefix, names in CAPABILITY_PARAMETERS.items() if path.startswith(prefix)), None)
    if not query or secret is None:
        return path_and_query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name in secret for name, _ in pairs):
        return path_and_query
    return f"{path}?" + urlencode(
        [(name, MASK if name in secret else value) for name, value in pairs], safe="*"
    )


class CapabilityLinkFilter(logging.Filter):
    """For uvicorn's access logger, whose records carry (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], masked(args[2]), *args[3:])
        return True


CAPABILITY_LINK_FILTER = CapabilityLinkFilter()


def mask_capability_links() -> None:
    """Install the filter on uvicorn's access logger (once, however many apps are created)."""
    logging.getLogger("uvicorn.access").addFilter(CAPABILITY_LINK_FILTER)
