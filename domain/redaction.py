"""What never goes into the audit trail: credentials that would let a reader act as the school
(Authorization headers, cookies, keys, tokens, passwords). Gateways' signatures stay — they sign one
message only, and they are the evidence that the gateway said what it said."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
