"""The sandbox gateway's ledger outlives a restart of the gateway: refunds as last changed, how often
each number was asked for, and what each Alipay trade was paid — from its journal, or from a ledger
file written whole before the journal."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.sandbox_gateway import SandboxLedger


def _record(number: str, **changes: object) -> dict:
    return {
        "gateway": "wechatpay",
        "out_refund_no": number,
        "trade": f"T-{number}",
        "status": "PROCESSING",
        "amount": {"refund": 100, "total": 300, "currency": "CNY"},
        **changes,
    }


def test_a_restarted_ledger_holds_what_was_kept(tmp_path: Path) -> None:
    journal = tmp_path / "data" / "sandbox-gateway.json"
    ledger = SandboxLedger(journal)
    first = _record("RF1")
    ledger.keep(first)
    ledger.count_request("RF1")
    ledger.count_request("RF1")
    ledger.keep(_record("RF2"))
    first["status"] = "SUCCESS"  # changed in place, as the gateway does, then kept again
    ledger.keep(first)
    ledger.set_trade_total("T-ALI", 9_900)

    again = SandboxLedger(journal)
    assert again.refunds == {"RF1": _record("RF1", status="SUCCESS"), "RF2": _record("RF2")}
    assert again.requests_seen == {"RF1": 2}
    assert again.trade_totals == {"T-ALI": 9_900}
    assert again.refunded_of("T-RF1") == 100
    assert len(journal.read_text().splitlines()) == 6  # one line a change: nothing rewritten


def test_a_ledger_written_whole_before_the_journal_still_loads(tmp_path: Path) -> None:
    old = tmp_path / "sandbox-gateway.json"
    pre_protocol = {"out_refund_no": "RF0", "status": "SUCCESS"}  # no gateway: from before, dropped
    whole = {
        "refunds": {"RF1": _record("RF1"), "RF0": pre_protocol},
        "requests_seen": {"RF1": 1},
        "trade_totals": {"T-ALI": 500},
    }
    old.write_text(json.dumps(whole))
    ledger = SandboxLedger(old)
    ledger.count_request("RF1")
    again = SandboxLedger(old)
    assert list(again.refunds) == ["RF1"] and again.requests_seen == {"RF1": 2}
    assert again.trade_totals == {"T-ALI": 500}
