"""Comparing a secret someone sent with the one we expect: in constant time, and over bytes, since
hmac.compare_digest refuses a str holding non-ASCII characters (a TypeError, so a 500, for a forged
token or signature that holds one)."""

from __future__ import annotations

import hmac


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
