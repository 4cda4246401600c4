"""The `temporal workflow list` lines README.md gives support leads, run as written through bash
(the venv's binary, pointed at this test's dev server) against workflows in each state a line must
tell apart: every line lists exactly the workflows it promises and none of the others."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.migrate import upgrade
from devstack.demo_cases import COMPLAINT_TEXT, file_complaint, first_response_within_a_minute
from devstack.temporal_dev_config import dev_config, venv_binary
from devstack.temporal_queries import ListCommand, readme_list_commands
from domain.refunds import GATEWAY_SETTLES_WITHIN
from settings import PROJECT_ROOT
from tests.integration.conftest import Stack
from tests.integration.journey import eventually, login, push_order, refund_status, request_and_approve

pytestmark = pytest.mark.integration

README_BINARY = ".venv/bin/temporal"
# A minute past the time a gateway's callback counts as late.
LATE = GATEWAY_SETTLES_WITHIN + timedelta(minutes=1)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What these lines find lives in Temporal's visibility store, not in our database: one kind of
    database is enough here."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'aftercare.db'}"
    upgrade(url)
    yield url


def clock_ahead(directory: Path, by: timedelta) -> str:
    """A PATH whose first `date` answers as if `by` had passed: the line's $(date -u …) then stands
    for a later now, while the server and the workflows keep the real one."""
    shim = directory / "date"
    shim.write_text(
        f'#!/bin/sh\nexec {shutil.which("date")} --date="+{int(by.total_seconds())} seconds" "$@"\n'
    )
    shim.chmod(0o755)
    return f"{directory}{os.pathsep}{os.environ['PATH']}"


async def listed(command: ListCommand, address: str, *, path: str | None = None) -> set[str]:
    """Run README's line as a person would paste it, against this test's server instead of make
    dev's; the ids of the workflows it lists."""
    dev = dev_config()
    line = command.command
    assert line.startswith(f"{README_BINARY} workflow list "), line
    assert f" --address {dev.address} --namespace {dev.namespace} " in line, line  # temporal-dev.yml's
    line = line.replace(README_BINARY, str(venv_binary("temporal")), 1)
    line = line.replace(f"--address {dev.address}", f"--address {address}", 1)
    # Only the flags on the line choose the server: no TEMPORAL_* from the developer's shell.
    env = {name: value for name, value in os.environ.items() if not name.startswith("TEMPORAL_")}
    if path:
        env["PATH"] = path
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f"{line} --output json",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return {row["execution"]["workflowId"] for row in json.loads(out)}


async def lists_exactly(
    command: ListCommand, address: str, expected: set[str], *, within: float = 20, path: str | None = None
) -> None:
    """Visibility follows the workflows a moment later: ask again until the answer is the one expected."""
    deadline = asyncio.get_running_loop().time() + within
    while (found := await listed(command, address, path=path)) != expected:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{command.purpose}: listed {sorted(found)}, not {sorted(expected)}")
        await asyncio.sleep(0.5)


async def visible(client: Client, query: str) -> set[str]:
    """The control: what the SDK finds, to know the others are in the state that tests a filter."""
    return {execution.id async for execution in client.list_workflows(query)}


async def ask_for_refund(stack: Stack, order_id: str) -> str:
    await push_order(stack, order_id, 199_900)
    student = await login(stack.api, "student@demo")
    asked = await stack.api.post(
        "/api/refunds", headers=student, json={"order_id": order_id, "reason": "时间冲突"}
    )
    assert asked.status_code == 202, asked.text
    refund_id = asked.json()["refund_id"]
    await status_becomes(stack, refund_id, "awaiting_review")
    return refund_id


async def status_becomes(stack: Stack, refund_id: str, status: str) -> None:
    lead = await login(stack.api, "lead@demo")

    async def reached() -> bool:
        return (await refund_status(stack, refund_id, lead))["status"] == status

    await eventually(reached, f"refund {refund_id} {status}", 60)


async def test_each_readme_query_lists_exactly_the_workflows_it_promises(
    stack: Stack, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    awaiting_review, tech_support_breached, callback_late = readme_list_commands()
    address = temporal_env.client.service_client.config.target_host
    student, admin = await login(stack.api, "student@demo"), await login(stack.api, "admin@demo")

    # Complaints first: the one-minute SLA runs while the refunds are made.
    on_time = await file_complaint(stack.api, student, "回放一直加载不出来")  # tech support, 10 min
    async with AsyncExitStack() as one_minute:
        for category in ("technical", "course_content"):
            await one_minute.enter_async_context(first_response_within_a_minute(stack.api, admin, category))
        breached = await file_complaint(stack.api, student, COMPLAINT_TEXT)
        elsewhere = await file_complaint(stack.api, student, "第三章的作业批改有误，知识点也没讲清楚")

    waiting = await ask_for_refund(stack, "O-QUERY-WAITING")
    rejected = await ask_for_refund(stack, "O-QUERY-REJECTED")
    reviewer = await login(stack.api, "reviewer@demo")
    decided = await stack.api.post(
        f"/api/refunds/{rejected}/decision", headers=reviewer, json={"decision": "reject", "reason": "不符合"}
    )
    assert decided.status_code == 200, decided.text
    refunded, _ = await request_and_approve(stack, "O-QUERY-PAID")
    await status_becomes(stack, refunded, "refunded")
    # The gateway takes the next refund but never calls back; a minute later the workflow asks the
    # gateway itself, so what follows about it must be done within that minute.
    (await stack.gateway.post("/sandbox/faults", json={"mode": "never", "count": 1})).raise_for_status()
    stuck, _ = await request_and_approve(stack, "O-QUERY-STUCK")
    await status_becomes(stack, stuck, "refunding")

    await lists_exactly(callback_late, address, {f"refund-{stuck}"}, path=clock_ahead(tmp_path, LATE))
    assert await listed(callback_late, address) == set(), "a callback is not late within its 30 minutes"
    await lists_exactly(awaiting_review, address, {f"refund-{waiting}"})

    # The breach comes a minute after filing. The other department's complaint breaches too and the
    # on-time one is in tech support, so each filter of the line keeps one of them out.
    async def distractors_in_place() -> bool:
        breached_now = await visible(temporal_env.client, "Department = 'academic' AND SlaBreached = true")
        on_time_now = await visible(
            temporal_env.client, "Department = 'tech_support' AND SlaBreached = false"
        )
        return f"complaint-{elsewhere}" in breached_now and f"complaint-{on_time}" in on_time_now

    await eventually(distractors_in_place, "the academic complaint's breach", 90)
    await lists_exactly(tech_support_breached, address, {f"complaint-{breached}"})
