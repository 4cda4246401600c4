from __future__ import annotations

import hashlib
import hmac

from integrations.signed_post import signature, signed_headers, verify

BODY = b'{"id":"evt-1","type":"refund.refunded"}'
NOW = 1_795_000_000


def test_a_signed_body_verifies_and_anything_changed_does_not() -> None:
    headers = signed_headers("secret", BODY, now=NOW)
    timestamp, given = headers["X-Aftercare-Timestamp"], headers["X-Aftercare-Signature"]
    assert given.startswith("sha256=") and len(given) == len("sha256=") + 64
    assert verify("secret", timestamp, given, BODY, now=NOW + 10)
    assert not verify("secret", timestamp, given, BODY.replace(b"refunded", b"requested"), now=NOW)
    assert not verify("other-secret", timestamp, given, BODY, now=NOW)
    assert not verify("secret", str(NOW + 1), given, BODY, now=NOW)  # the timestamp is signed too
    assert not verify("secret", timestamp, given, BODY, now=NOW + 301)  # too old: a replay
    assert not verify("secret", "yesterday", given, BODY, now=NOW)
    assert not verify("secret", timestamp, "sha256=é" + given[8:], BODY, now=NOW)  # refused, not a TypeError


def test_the_signature_is_hmac_sha256_over_timestamp_newline_body() -> None:
    # What a receiver in any language recomputes (the README describes it).
    expected = hmac.new(b"whsec", b"1795000000\n{}", hashlib.sha256).hexdigest()
    assert signature("whsec", "1795000000", b"{}") == f"sha256={expected}"
