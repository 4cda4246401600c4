"""`make dev`: migrate and seed the database, then run the whole system until Ctrl-C.

Children: the Temporal dev server (temporal-dev.yml), the dev mailbox (unless AFTERCARE_SMTP_HOST
is set), the sandbox payment gateway, the worker and the API. If one of them dies, all stop.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from db.migrate import upgrade
from devstack import seed
from devstack.dev_keys import ensure_dev_keys
from devstack.temporal_dev_config import dev_config, venv_binary
from settings import PROJECT_ROOT, Settings, get_settings

STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass
class Child:
    name: str
    process: subprocess.Popen


def wait_for_port(
    host: str, port: int, children: list[Child], timeout: float = STARTUP_TIMEOUT_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _fail_if_any_died(children)
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing answered on {host}:{port} within {timeout:.0f}s")


def wait_for_http(url: str, children: list[Child], timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _fail_if_any_died(children)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def _fail_if_any_died(children: list[Child]) -> None:
    for child in children:
        code = child.process.poll()
        if code is not None:
            raise SystemExit(f"{child.name} exited with status {code}; see the output above")


def stop_all(children: list[Child]) -> None:
    """Stop children one by one, last started first: the API, then the worker (which finishes its
    tasks against a live server), the stand-ins, and the Temporal server last."""
    # A second Ctrl-C (or SIGTERM, SIGHUP) must not cut the shutdown short and orphan children.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    for child in reversed(children):
        if child.process.poll() is not None:
            continue
        child.process.send_signal(signal.SIGTERM)
        try:
            child.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"{child.name} did not stop in time; killing it", flush=True)
            child.process.kill()
            child.process.wait()


def die_with_parent() -> None:
    """Run in each child before it starts: if the launcher itself is killed (even with SIGKILL),
    the kernel sends the child SIGTERM, so no process is left holding a port."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stand_ins(settings: Settings) -> list[tuple[str, list[str]]]:
    """The local stand-ins for outside services: the dev mailbox unless a real SMTP server is
    configured, and the sandbox payment gateway."""
    services = [("sandbox gateway", [sys.executable, "-m", "devstack.sandbox_gateway"])]
    if not settings.smtp_host:
        services.insert(0, ("dev mailbox", [sys.executable, "-m", "devstack.mailbox"]))
    return services


def main() -> int:
    settings = get_settings()
    temporal = dev_config()
    grpc_port = settings.temporal_dev_port or temporal.grpc_port
    ui_port = settings.temporal_dev_ui_port or temporal.ui_port
    temporal_db = settings.temporal_dev_db_file or temporal.db_file
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    upgrade(settings.database_url)
    seed.main()
    if settings.dev_mode:
        ensure_dev_keys(settings.data_dir)  # before any child reads them

    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": os.environ.get("TEMPORAL_ADDRESS", f"{temporal.ip}:{grpc_port}"),
        "TEMPORAL_NAMESPACE": os.environ.get("TEMPORAL_NAMESPACE", temporal.namespace),
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable
    children: list[Child] = []

    def start(name: str, args: list[str], log_file: Path | None = None) -> None:
        out = open(log_file, "ab") if log_file else None
        process = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
            start_new_session=True,  # Ctrl-C reaches only this launcher, which stops children in order
            preexec_fn=die_with_parent,
        )  # fmt: skip
        children.append(Child(name, process))

    def request_stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C, SIGTERM and a closed terminal all stop everything, in order

    for sig in STOP_SIGNALS:
        signal.signal(sig, request_stop)

    try:
        temporal_db.parent.mkdir(parents=True, exist_ok=True)
        server_args = temporal.start_dev_args(grpc_port=grpc_port, ui_port=ui_port, db_file=temporal_db)
        start("temporal dev server", [str(venv_binary("temporal")), *server_args], logs / "temporal.log")
        for name, args in stand_ins(settings):
            start(name, args)
        wait_for_port(temporal.ip, grpc_port, children)
        start("worker", [python, "worker.py"])
        start(
            "api",
            [python, "-m", "uvicorn", "api.app:create_app", "--factory",
             "--host", settings.api_host, "--port", str(settings.api_port), "--log-level", "warning"],
        )  # fmt: skip
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        wait_for_http(f"{api_url}/healthz", children)
        wait_for_port(temporal.ip, ui_port, children)
        worker_metrics = settings.worker_metrics_address
        if worker_metrics:  # a worker that cannot serve them exits, and make dev with it
            host, _, port = worker_metrics.rpartition(":")
            wait_for_port("127.0.0.1" if host in ("", "0.0.0.0") else host, int(port), children)
        metrics_line = f"  API metrics    {api_url}/metrics\n" + (
            f"  Worker metrics http://{worker_metrics}/metrics (Temporal SDK)"
            if worker_metrics
            else "  Worker metrics off (AFTERCARE_WORKER_METRICS_ADDRESS is empty)"
        )
        mail_line = (
            f"  Dev mailbox    {api_url}/dev/mail   (SMTP on 127.0.0.1:{settings.dev_mailbox_port})"
            if not settings.smtp_host
            else f"  Mail goes to   {settings.smtp_host}:{settings.smtp_port}"
        )
        print(
            "\nAftercare is running:\n"
            f"  API docs       {api_url}/docs\n"
            f"  Temporal UI    http://localhost:{ui_port}/namespaces/{temporal.namespace}/workflows\n"
            f"{mail_line}\n"
            f"  Sandbox gateway {settings.sandbox_base_url}/sandbox/refunds\n"
            f"{metrics_line}\n"
            f"  Demo accounts  student@demo, reviewer@demo, agent@demo, lead@demo, finance@demo, admin@demo,"
            f" integration@demo (password: demo)\n"
            f"  Logs           {logs}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            _fail_if_any_died(children)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    except SystemExit as exc:
        print(f"\nmake dev: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_all(children)
        print("all stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
