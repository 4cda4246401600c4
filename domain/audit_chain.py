"""The hash chain over a case's audit events: each event's hash covers its own content and the hash
of the event before it, so editing, deleting or reordering any recorded event changes every hash
after it and is caught by verification (db/audit_log.py, `python -m db.audit_log verify`).

Pure functions: the writer, the migration that chained the events recorded before, the verifier
and an exported case file all hash the same way."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Bump only with a migration that re-chains every case: old hashes would no longer verify.
CHAIN_VERSION = 1


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(
    *,
    case_type: str,
    case_id: str,
    seq: int,
    event_key: str,
    event: str,
    actor: str,
    from_status: str | None,
    to_status: str | None,
    note: str,
    detail: Mapping[str, Any],
    at: datetime,
) -> str:
    """Everything an audit event says, as one canonical JSON text (sorted keys, no spaces)."""
    return json.dumps(
        {
            "v": CHAIN_VERSION,
            "case_type": case_type,
            "case_id": case_id,
            "seq": seq,
            "event_key": event_key,
            "event": event,
            "actor": actor,
            "from_status": from_status,
            "to_status": to_status,
            "note": note,
            "detail": detail,
            "at": _instant(at),
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str | None, content: str) -> str:
    """sha256 over the previous hash (empty for a case's first event) and this event's content."""
    return hashlib.sha256(f"{prev_hash or ''}\n{content}".encode()).hexdigest()


CHAINED_FIELDS = (
    "case_type",
    "case_id",
    "seq",
    "event_key",
    "event",
    "actor",
    "from_status",
    "to_status",
    "note",
    "detail",
    "at",
)


def hash_of(event: Mapping[str, Any] | Any, prev_hash: str | None) -> str:
    """The hash an event (a row or a mapping with CHAINED_FIELDS) must carry after prev_hash."""
    if isinstance(event, Mapping):
        fields = {name: event[name] for name in CHAINED_FIELDS}
    else:
        fields = {name: getattr(event, name) for name in CHAINED_FIELDS}
    return chain_hash(prev_hash, canonical_content(**fields))


@dataclass(frozen=True)
class ChainBreak:
    """Where a case's chain stops holding: the first event whose hash or link is wrong."""

    seq: int
    problem: str


def first_break(events: Iterable[Mapping[str, Any] | Any]) -> ChainBreak | None:
    """Walk a case's events in seq order; None when every event links to the one before and its
    content hashes to what was recorded."""
    prev_hash: str | None = None
    expected_seq = 1
    for event in events:
        get = event.get if isinstance(event, Mapping) else lambda name, e=event: getattr(e, name)
        seq = get("seq")
        if seq != expected_seq:
            return ChainBreak(expected_seq, f"event {expected_seq} is missing (found {seq} in its place)")
        if get("prev_hash") != prev_hash:
            return ChainBreak(seq, "does not link to the event before it")
        recorded = get("hash")
        if hash_of(event, prev_hash) != recorded:
            return ChainBreak(seq, "its content was changed after it was recorded")
        prev_hash = recorded
        expected_seq += 1
    return None
