"""What the system benches share around a run: the `--set SETTING=VALUE` option, and where a run's
figures are kept — a JSON file under .data/bench/ and, unless told not to, its own section of
docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from bench.workflows_report import write_section
from settings import PROJECT_ROOT

BENCHMARKS_DOC = PROJECT_ROOT / "docs" / "benchmarks.md"
RESULTS_DIR = PROJECT_ROOT / ".data" / "bench"


def key_value(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key, value


def add_settings_option(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=key_value,
        metavar="SETTING=VALUE",
        help=f"a Settings field for every process, e.g. {example}",
    )


def keep(result: dict[str, Any], kind: str, doc_section: tuple[tuple[str, str], str] | None) -> None:
    """Write the run's JSON (and print it), then its table between the markers, if given."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"bench: results in {out}")
    if doc_section is not None:
        markers, text = doc_section
        write_section(BENCHMARKS_DOC, markers, text)
        print(f"bench: table written to {BENCHMARKS_DOC}")
