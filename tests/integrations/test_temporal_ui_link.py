"""The console's link to a workflow in the Temporal Web UI: the dev server's UI and namespace unless
the UI's address and the clients' namespace are configured."""

from __future__ import annotations

import pytest

from integrations.temporal import workflow_ui_url
from settings import Settings


def test_by_default_the_dev_servers_ui_and_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEMPORAL_NAMESPACE", raising=False)
    assert workflow_ui_url(Settings(temporal_ui_url=None, temporal_dev_ui_port=None), "complaint-CP1") == (
        "http://localhost:8233/namespaces/aftercare/workflows/complaint-CP1"
    )
    moved = Settings(temporal_dev_ui_port=9233)
    assert workflow_ui_url(moved, "refund-RF1").startswith("http://localhost:9233/namespaces/aftercare/")


def test_a_configured_ui_and_the_namespace_the_clients_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "school.a1b2c")
    settings = Settings(temporal_ui_url="https://cloud.temporal.io/")
    assert workflow_ui_url(settings, "complaint-CP1") == (
        "https://cloud.temporal.io/namespaces/school.a1b2c/workflows/complaint-CP1"
    )
