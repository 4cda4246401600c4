from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.audit_chain import chain_hash, first_break, hash_of
from domain.redaction import REDACTED, redacted

START = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)


def _chain(*notes: str) -> list[dict]:
    events, prev = [], None
    for seq, note in enumerate(notes, start=1):
        event = {
            "case_type": "refund",
            "case_id": "RF1",
            "seq": seq,
            "event_key": f"k{seq}",
            "event": "refund.step",
            "actor": "system",
            "from_status": None,
            "to_status": "requested",
            "note": note,
            "detail": {"amount_fen": 100 * seq, "退款": "原因"},
            "at": START + timedelta(minutes=seq),
            "prev_hash": prev,
        }
        event["hash"] = hash_of(event, prev)
        prev = event["hash"]
        events.append(event)
    return events


def test_an_untouched_chain_holds() -> None:
    assert first_break(_chain("a", "b", "c")) is None
    assert first_break([]) is None


def test_each_hash_covers_the_one_before() -> None:
    one, two = _chain("a", "b")
    assert two["prev_hash"] == one["hash"]
    assert two["hash"] != hash_of(two, None)  # the same content after another event hashes differently
    assert len(one["hash"]) == 64


def test_an_edited_note_is_found_at_its_event() -> None:
    events = _chain("a", "b", "c")
    events[1]["note"] = "b, softened"
    broken = first_break(events)
    assert broken is not None and broken.seq == 2 and "changed" in broken.problem


def test_an_edited_detail_or_time_is_found() -> None:
    events = _chain("a", "b")
    events[0]["detail"] = {**events[0]["detail"], "amount_fen": 1}
    assert first_break(events).seq == 1  # type: ignore[union-attr]
    events = _chain("a", "b")
    events[1]["at"] = events[1]["at"] + timedelta(microseconds=1)
    assert first_break(events).seq == 2  # type: ignore[union-attr]


def test_a_rehashed_edit_breaks_the_next_link() -> None:
    """Whoever edits an event and recomputes its hash still breaks the link of the event after it."""
    events = _chain("a", "b", "c")
    events[1]["note"] = "forged"
    events[1]["hash"] = hash_of(events[1], events[1]["prev_hash"])
    broken = first_break(events)
    assert broken is not None and broken.seq == 3 and "link" in broken.problem


def test_a_deleted_event_is_found() -> None:
    events = _chain("a", "b", "c")
    del events[1]
    broken = first_break(events)
    assert broken is not None and broken.seq == 2 and "missing" in broken.problem


def test_the_naive_utc_sqlite_returns_hashes_like_the_aware_time() -> None:
    event = _chain("a")[0]
    naive = {**event, "at": event["at"].replace(tzinfo=None)}
    assert hash_of(naive, None) == event["hash"]
    assert chain_hash(None, "x") != chain_hash("0" * 64, "x")


def test_secrets_are_redacted_at_any_depth_and_signatures_kept() -> None:
    value = {
        "Authorization": "WECHATPAY2-SHA256-RSA2048 mchid=...",
        "headers": {"Cookie": "s=1", "Wechatpay-Signature": "abc"},
        "list": [{"access_token": "t", "refund_fee": "1.00"}],
        "apiv3_key": "k",
        "sign": "keep",
    }
    assert redacted(value) == {
        "Authorization": REDACTED,
        "headers": {"Cookie": REDACTED, "Wechatpay-Signature": "abc"},
        "list": [{"access_token": REDACTED, "refund_fee": "1.00"}],
        "apiv3_key": REDACTED,
        "sign": "keep",
    }
