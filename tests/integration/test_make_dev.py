"""`make dev`'s launcher, run as a person runs it: it comes up within 60 seconds, serves the API docs
and the Temporal UI, carries the README's walk-through to `refunded`, stops every child on Ctrl-C,
and a second run finds the data of the first."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from devstack.processes import free_port
from settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

READY_LINE = "Aftercare is running"
PORT_SETTINGS = (
    "AFTERCARE_API_PORT",
    "AFTERCARE_DEV_MAILBOX_PORT",
    "AFTERCARE_SANDBOX_GATEWAY_PORT",
    "AFTERCARE_TEMPORAL_DEV_PORT",
    "AFTERCARE_TEMPORAL_DEV_UI_PORT",
    "WORKER_METRICS_PORT",  # of AFTERCARE_WORKER_METRICS_ADDRESS
)
STARTUP_SECONDS = 60


def readme_walkthrough() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", readme, re.S
    )
    assert block, "README.md lost its walk-through block"
    return block.group(1)


@pytest.fixture(scope="module")
def dev_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("make-dev")
    ports = {name: free_port() for name in ("api", "mail", "gateway", "grpc", "ui", "metrics")}
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AFTERCARE_", "TEMPORAL_"))}
    env.update(
        AFTERCARE_DATA_DIR=str(data),
        AFTERCARE_DATABASE_URL=f"sqlite:///{data / 'aftercare.db'}",
        AFTERCARE_TEMPORAL_DEV_DB_FILE=str(data / "temporal.db"),
        AFTERCARE_API_PORT=str(ports["api"]),
        AFTERCARE_DEV_MAILBOX_PORT=str(ports["mail"]),
        AFTERCARE_SANDBOX_GATEWAY_PORT=str(ports["gateway"]),
        AFTERCARE_TEMPORAL_DEV_PORT=str(ports["grpc"]),
        AFTERCARE_TEMPORAL_DEV_UI_PORT=str(ports["ui"]),
        AFTERCARE_WORKER_METRICS_ADDRESS=f"127.0.0.1:{ports['metrics']}",
        WORKER_METRICS_PORT=str(ports["metrics"]),
        API=f"http://127.0.0.1:{ports['api']}",
        UI=f"http://127.0.0.1:{ports['ui']}",
    )
    return env


@contextmanager
def launched(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while READY_LINE not in log.read_text(errors="replace"):
                assert process.poll() is None, f"make dev exited early:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"not up within {STARTUP_SECONDS}s:\n{log.read_text()}"
                time.sleep(0.25)
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # what Ctrl-C sends
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    raise


def assert_mail_to_the_complaints_inbox_becomes_a_complaint(env: dict[str, str]) -> None:
    """The dev mailbox relays it to the API, signed, as the README says."""
    message = EmailMessage()
    message["From"], message["To"] = "林同学 <lin.mail@example.cn>", "complaints@aftercare.local"
    message["Subject"] = "直播课一直卡顿"
    message.set_content("今晚的直播课一直卡顿。")
    with smtplib.SMTP("127.0.0.1", int(env["AFTERCARE_DEV_MAILBOX_PORT"]), timeout=30) as smtp:
        smtp.send_message(message)
    token = httpx.post(
        f"{env['API']}/api/auth/token", data={"username": "agent@demo", "password": "demo"}
    ).json()["access_token"]
    deadline = time.monotonic() + 30
    while True:
        queue = httpx.get(f"{env['API']}/api/complaints", headers={"Authorization": f"Bearer {token}"}).json()
        if [c for c in queue if c["channel"] == "email" and c["stage"] == "assigned"]:
            return
        assert time.monotonic() < deadline, f"no email complaint assigned: {queue}"
        time.sleep(0.5)


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_make_dev_runs_the_readme_walkthrough_and_stops_cleanly(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    with launched(dev_env, tmp_path / "first.log") as process:
        assert httpx.get(f"{dev_env['API']}/docs").status_code == 200
        assert httpx.get(f"{dev_env['UI']}/").status_code == 200
        walkthrough = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", readme_walkthrough()],
            env=dev_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert walkthrough.returncode == 0, walkthrough.stdout + walkthrough.stderr
        output = walkthrough.stdout
        assert "quote: eligible 269910 fen back" in output
        assert "我们已收到您的退款申请（订单 O-DEMO-1002）" in output
        assert '"status":"approved"' in output
        assert "refunded 269910 fen;" in output
        assert "gateway.requested → gateway.succeeded" in output
        for subject in ("我们已收到您的退款申请", "您的退款申请已通过审核", "退款已到账"):
            assert f"student@demo | {subject}（订单 O-DEMO-1002）" in output
        assert_mail_to_the_complaints_inbox_becomes_a_complaint(dev_env)
        worker_metrics = f"http://127.0.0.1:{dev_env['WORKER_METRICS_PORT']}/metrics"
        assert f"Worker metrics {worker_metrics}" in (tmp_path / "first.log").read_text()
        assert 'aftercare_refunds{status="refunded"} 1.0' in httpx.get(f"{dev_env['API']}/metrics").text
        assert [
            line
            for line in httpx.get(worker_metrics).text.splitlines()
            if line.startswith("temporal_workflow_task_execution_latency_count{")
            and 'workflow_type="RefundWorkflow"' in line
        ], "the worker's SDK metrics do not show the refund's workflow tasks"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    log = (tmp_path / "first.log").read_text()
    assert "all stopped." in log
    for name in PORT_SETTINGS:
        assert port_is_closed(int(dev_env[name])), f"{name} still served after Ctrl-C"

    # A second run reuses the data: no new seed, and the refund and its workflow are still there.
    with launched(dev_env, tmp_path / "second.log") as process:
        assert "demo seed: already there" in (tmp_path / "second.log").read_text()
        token = httpx.post(
            f"{dev_env['API']}/api/auth/token", data={"username": "student@demo", "password": "demo"}
        ).json()["access_token"]
        refunds = httpx.get(
            f"{dev_env['API']}/api/refunds", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert [(r["order_id"], r["status"]) for r in refunds] == [("O-DEMO-1002", "refunded")]
        workflows = subprocess.run(
            [str(Path(sys.executable).parent / "temporal"), "workflow", "list", "--output", "jsonl",
             "--address", f"127.0.0.1:{dev_env['AFTERCARE_TEMPORAL_DEV_PORT']}", "--namespace", "aftercare"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        listed = [json.loads(line) for line in workflows.stdout.splitlines() if line.strip()]
        ids = [w["execution"]["workflowId"] for w in listed]
        assert [i for i in ids if i.startswith("refund-")] == [f"refund-{refunds[0]['refund_id']}"]
        assert len([i for i in ids if i.startswith("complaint-")]) == 1  # the emailed one

        # Even a launcher killed outright takes its children with it: nothing keeps a port.
        process.kill()
        process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while not all(port_is_closed(int(dev_env[name])) for name in PORT_SETTINGS):
        assert time.monotonic() < deadline, "children outlived a killed launcher"
        time.sleep(0.5)
