"""Replay workflow histories against today's workflow code, to debug a workflow or to prove a change
is safe for the workflows already running.

    python -m replay FILE.json [FILE.json ...]        exported histories (Web UI download, or
                                                      `temporal workflow show -w ID -o json`)
    python -m replay --workflow-id refund-RF…         every run of a workflow, fetched from the server
    python -m replay --query "RefundStatus = 'refunding'" [--limit 100]
                                                      the workflows a visibility query finds

(`make replay ARGS="…"` runs it in the project's venv.) It prints one line per history — `ok` or
`FAILED` and why — and exits 0 when every history replayed, 1 when one did not, 2 when the histories
could not be read or fetched. The server is the one the worker uses (TEMPORAL_* / temporal.toml,
falling back to the dev server in temporal-dev.yml).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from integrations import temporal
from settings import get_settings
from worker import WORKFLOWS, workflow_runner

OK, FAILED, UNREADABLE = 0, 1, 2


@dataclass(frozen=True)
class Verdict:
    name: str  # the file, or the workflow id and run
    workflow_type: str
    events: int
    failure: str | None  # None: it replayed

    def line(self) -> str:
        what = f"{self.name} ({self.workflow_type}, {self.events} events)"
        return f"ok      {what}" if self.failure is None else f"FAILED  {what}: {self.failure}"


def replayer() -> Replayer:
    """The worker's workflows, sandbox and data converter: replay runs the code as the worker does."""
    return Replayer(
        workflows=WORKFLOWS, workflow_runner=workflow_runner(), data_converter=pydantic_data_converter
    )


def read_history(path: Path) -> WorkflowHistory:
    """An exported history file. Its name (without .json) stands for the workflow id, which the
    exported events do not carry."""
    return WorkflowHistory.from_json(path.stem, json.loads(path.read_text(encoding="utf-8")))


def workflow_type_of(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes if history.events else None
    return started.workflow_type.name if started else "?"


async def replay_histories(histories: AsyncIterator[tuple[str, WorkflowHistory]]) -> list[Verdict]:
    verdicts = []
    runner = replayer()
    async for name, history in histories:
        result = await runner.replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        verdicts.append(
            Verdict(
                name=name,
                workflow_type=workflow_type_of(history),
                events=len(history.events),
                failure=f"{type(failure).__name__}: {failure}" if failure else None,
            )
        )
    return verdicts


async def from_files(paths: Iterable[Path]) -> AsyncIterator[tuple[str, WorkflowHistory]]:
    for path in paths:
        yield str(path), read_history(path)


async def from_server(
    client: Client, query: str, limit: int | None
) -> AsyncIterator[tuple[str, WorkflowHistory]]:
    async for execution in client.list_workflows(query, limit=limit):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        yield f"{execution.id} run {execution.run_id}", await handle.fetch_history()


def server_query(args: argparse.Namespace) -> str:
    if args.workflow_id:
        escaped = args.workflow_id.replace("'", "\\'")
        return f"WorkflowId = '{escaped}'"  # every run: a continued complaint has several
    return args.query


async def run(args: argparse.Namespace) -> int:
    if args.files:
        missing = [path for path in args.files if not path.is_file()]
        if missing:
            print(f"no such history file: {', '.join(map(str, missing))}", file=sys.stderr)
            return UNREADABLE
        try:
            verdicts = await replay_histories(from_files(args.files))
        except (ValueError, KeyError) as exc:  # not JSON, or not a history
            print(f"cannot read a history: {exc}", file=sys.stderr)
            return UNREADABLE
    else:
        try:
            client = await temporal.connect(get_settings())
        except RuntimeError as exc:
            print(f"cannot reach Temporal: {exc}", file=sys.stderr)
            return UNREADABLE
        verdicts = await replay_histories(from_server(client, server_query(args), args.limit))
        if not verdicts:
            print(f"no workflow matches {server_query(args)}", file=sys.stderr)
            return UNREADABLE
    for verdict in verdicts:
        print(verdict.line())
    failed = sum(verdict.failure is not None for verdict in verdicts)
    print(f"{len(verdicts) - failed} of {len(verdicts)} histories replayed")
    return FAILED if failed else OK


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="exported history files (JSON)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--workflow-id", help="fetch every run of this workflow from the server")
    source.add_argument("--query", help="fetch the workflows this visibility query finds")
    parser.add_argument("--limit", type=int, default=None, help="at most this many workflows (--query)")
    args = parser.parse_args(argv)
    if bool(args.files) == bool(args.workflow_id or args.query):
        parser.error("give history files, or --workflow-id, or --query")
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse(argv)))


if __name__ == "__main__":
    temporal.exit_skipping_teardown(main())
