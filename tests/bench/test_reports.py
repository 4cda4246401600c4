"""The reports benchmark's generator at a tiny scale, loaded as `make bench-reports` loads it: the counts,
the money, the projections and every hash chain must hold, so the generator cannot rot unseen
between the (slow) full-scale runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import bench.dataset
from bench import databases, reports
from bench.dataset import Dataset, Volumes, _chain_lengths, generate
from db.audit_log import verify_all
from db.engine import SessionFactory, build_engine
from domain.report_month import ReportMonth

VOLUMES = Volumes.at_scale(0.001)  # 200 refunds, 200 complaints, 2,000 audit events
END_MONTH = ReportMonth(2026, 10)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(VOLUMES, seed=7, end_month=END_MONTH)


@pytest.fixture(scope="module")
def loaded(database_url: str, dataset: Dataset) -> Iterator[SessionFactory]:
    """The dataset in a freshly migrated database (SQLite; PostgreSQL too with TEST_POSTGRES_URL)."""
    kind = "sqlite" if make_url(database_url).get_backend_name() == "sqlite" else "postgresql"
    databases.load(databases.BenchDatabase(kind, database_url), dataset)
    engine = build_engine(database_url)
    yield SessionFactory(engine)
    engine.dispose()


def test_the_volumes_are_the_issues_times_the_scale(dataset: Dataset) -> None:
    assert (VOLUMES.refunds, VOLUMES.complaints, VOLUMES.audit_events) == (200, 200, 2_000)
    assert Volumes.at_scale(1).audit_events == 2_000_000
    assert dataset.count("refunds") == 200
    assert dataset.count("complaints") == 200
    assert dataset.count("audit_events") == 2_000
    assert dataset.count("orders") == VOLUMES.orders
    assert [str(month) for month in (dataset.months[0], dataset.months[-1])] == ["2024-11", "2026-10"]


def test_the_same_seed_makes_the_same_rows(dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hashed by forked workers this time, as at full scale.
    monkeypatch.setattr(bench.dataset, "PARALLEL_FROM", 0)
    again = generate(VOLUMES, seed=7, end_month=END_MONTH, workers=2)

    def unsalted(name: str, rows: list[tuple]) -> list[tuple]:
        # argon2 salts each password hash afresh; everything else must repeat.
        return [row[:4] + row[5:] for row in rows] if name == "users" else rows

    for name, table in dataset.tables.items():
        assert unsalted(name, again.tables[name].rows) == unsalted(name, table.rows), name


def test_every_row_is_in_the_database(loaded: SessionFactory, dataset: Dataset) -> None:
    with loaded() as session:
        for name in dataset.tables:
            count = session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            assert count == dataset.count(name), name


def test_refund_amounts_add_up_and_statuses_match_their_dates(loaded: SessionFactory) -> None:
    with loaded() as session:
        rows = session.execute(
            text(
                "SELECT requested_fen, refund_amount_fen, fee_fen, amount_paid_fen, status, decided_at, "
                "refunded_at, requested_at, active_order_id, order_id FROM refunds"
            )
        ).all()
    assert len(rows) == 200
    for requested, refund, fee, paid, status, decided_at, refunded_at, requested_at, active, order in rows:
        assert requested == refund + fee
        assert 0 < requested <= paid and fee >= 0
        assert (refunded_at is not None) == (status == "refunded")
        if decided_at is not None:
            assert decided_at >= requested_at
        # The order is locked while the refund runs, and free once it ended.
        assert active == (None if status in ("refunded", "rejected", "withdrawn") else order)
    statuses = Counter(row[4] for row in rows)
    assert statuses["refunded"] > statuses["rejected"] > 0


def test_complaints_are_mostly_settled_with_root_causes_that_repeat(loaded: SessionFactory) -> None:
    with loaded() as session:
        rows = session.execute(
            text("SELECT stage, resolved_at, received_at, first_responded_at, root_cause FROM complaints")
        ).all()
    assert Counter(row[0] for row in rows).most_common(1)[0][0] == "archived"
    for stage, resolved_at, received_at, responded_at, _cause in rows:
        if stage in ("resolved", "follow_up", "archived"):
            assert resolved_at is not None and resolved_at >= received_at
        if responded_at is not None:
            assert responded_at >= received_at
    causes = Counter(row[4] for row in rows if row[4])
    assert causes.most_common(1)[0][1] > 1


def test_every_generated_chain_verifies(loaded: SessionFactory, dataset: Dataset) -> None:
    cases = {(row[1], row[2]) for row in dataset.tables["audit_events"].rows}
    # A small page makes verify_all's keyset paging cross many case boundaries.
    with loaded() as session:
        verdicts = list(verify_all(session, batch=7))
    assert [verdict.line() for verdict in verdicts if verdict.broken] == []
    assert {(verdict.case_type, verdict.case_id) for verdict in verdicts} == cases
    assert sum(verdict.events for verdict in verdicts) == 2_000


def test_chains_keep_the_first_steps_up_to_the_total() -> None:
    assert _chain_lengths([9, 9, 2, 9], 20) == [6, 6, 2, 6]
    assert sum(_chain_lengths([9, 8, 1, 3, 12, 7], 25)) == 25
    assert _chain_lengths([3, 2], 10) == [3, 2]  # fewer steps than the total allows: all of them


def test_the_docs_section_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    reports.write_docs(docs, f"{reports.BEGIN}\nfirst\n{reports.END}\n")
    docs.write_text(docs.read_text() + "\n<!-- bench:other -->\nother\n<!-- /bench:other -->\n")
    reports.write_docs(docs, f"{reports.BEGIN}\nsecond\n{reports.END}\n")
    text_now = docs.read_text()
    assert "second" in text_now and "first" not in text_now
    assert "<!-- bench:other -->\nother" in text_now
    assert text_now.startswith("# Benchmarks")


def test_the_goal_is_judged_on_the_slowest_warm_run_of_every_report() -> None:
    def run(*warm_maxima: float | None) -> reports.DatabaseRun:
        timings = [
            reports.Timing(endpoint.name, "3 months", cold=[5.0], warm=[0.1, worst])
            if worst is not None
            else reports.Timing(endpoint.name, "3 months", state="missing")
            for endpoint, worst in zip(reports.REPORTS, warm_maxima, strict=True)
        ]
        return reports.DatabaseRun("sqlite", "SQLite", timings=timings)

    # Every cold request took 5 s: shown beside the figure, not judged.
    assert reports.goal_summary(run(0.5, 1.9, 0.2, 0.3)) == "PASS (all 4)"
    assert reports.goal_summary(run(0.5, 2.1, 0.2, 0.3)).startswith("**FAIL** (1 of 4")
    assert reports.goal_summary(run(0.5, None, None, 0.3)) == "not judged yet: 2 of 4 missing, 2 PASS"
