"""The workers' metrics: the Temporal SDK's own and the pipeline's, served as Prometheus
text by the process's Temporal runtime and read back with a real parser.

Workers run the real workflows (with the scripted activities of the workflow tests) on
the time-skipping test server, connected through a runtime built by
``metrics_runtime``, as ``mb worker`` and ``mb up`` build it.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from monitoring.temporal_metrics import MetricsInterceptor, metrics_runtime
from pipeline.operations import request_deployment, request_rollback
from schemas.deployment import DeployRequest, RollbackRequest
from schemas.generation import DEFAULT_GENERATION_REPAIRS
from schemas.settings import Settings
from temporal import names
from temporal.converter import data_converter
from temporal.devserver import PortInUse, free_loopback_port
from tests.workflows.pipeline_fakes import HOST, FakePipeline
from tests.workflows.test_pipeline_workflows import _failure, _result, _settled
from workflows.registry import ALL_WORKFLOWS

OWNER = "owner-nina@example.com"  # an owner id that is personal data: never a label
PROMPT = "a tide table for our kayak club"
HISTORIES = Path(__file__).parent.parent / "histories"


class Scrape:
    """One scrape of a metrics endpoint, parsed by prometheus_client's parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(self, name: str) -> list[Sample]:
        family = self.families.get(name)
        assert family is not None, f"no {name} in:\n{self.text[:2000]}"
        return list(family.samples)

    def value(self, sample_name: str, **labels: str) -> float:
        family = sample_name.removesuffix("_total").removesuffix("_count")
        return sum(
            s.value
            for s in self.samples(family)
            if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())
        )


async def scrape(port: int) -> Scrape:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200
    return Scrape(answer.text)


@contextlib.asynccontextmanager
async def metered_workers(
    env: WorkflowEnvironment, runtime: Runtime, fake: FakePipeline
) -> AsyncIterator[None]:
    """The pipeline's workers on a client of ``runtime``, with the metrics interceptor."""
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=data_converter(),
        runtime=runtime,
    )
    async with contextlib.AsyncExitStack() as stack:
        for queue in (
            names.PIPELINE_TASK_QUEUE,
            names.QA_TASK_QUEUE,
            names.runtime_task_queue(HOST),
        ):
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=queue,
                    workflows=list(ALL_WORKFLOWS) if queue == names.PIPELINE_TASK_QUEUE else [],
                    activities=fake.activities(),
                    interceptors=[MetricsInterceptor()],
                )
            )
        yield


async def _deploy(client: Client, app_id: str, prompt: str) -> str:
    request = DeployRequest(request_id=uuid.uuid4().hex, owner_id=OWNER, prompt=prompt)
    return await request_deployment(client, app_id, request)


async def test_workers_serve_the_sdks_and_the_pipelines_metrics(
    env: WorkflowEnvironment, fake: FakePipeline, tmp_path: Path
) -> None:
    port = free_loopback_port()
    runtime = metrics_runtime(Settings(data_dir=tmp_path, worker_metrics_port=port))
    client = env.client  # awaiting results through it lets the test server skip time
    finished: list[str] = []

    async def deployed(app_id: str, prompt: str) -> str:
        finished.append(await _deploy(client, app_id, prompt))
        return finished[-1]

    async with metered_workers(env, runtime, fake):
        await _result(client, await deployed("kayak-tides", PROMPT))
        await _result(client, await deployed("kayak-tides", f"{PROMPT}, v2"))
        await request_rollback(
            client,
            "kayak-tides",
            RollbackRequest(request_id=uuid.uuid4().hex, requested_by="oncall"),
        )
        await _settled(client, "kayak-tides")
        await _failure(client, await deployed("blocked-app", "BLOCKME a fake bank login"))
        fake.qa_verdict, fake.failing_stage = "fail", "mutation"
        await _failure(client, await deployed("weak-tests", "a habit tracker"))
        fake.qa_verdict = "pass"
        await _result(client, await deployed("flaky-health", "a guest book"))
        fake.unhealthy = lambda instance_id, call: instance_id == "flaky-health-v2" and call >= 2
        await _failure(client, await deployed("flaky-health", "a guest book v2"))
        seen = await scrape(port)
        # A query on a finished deployment (the Temporal UI asks one on every visit) is
        # answered by replaying its whole history, ending included: nothing is counted.
        for workflow_id in finished:
            await client.get_workflow_handle(workflow_id).query(names.QUERY_STATUS)
        again = await scrape(port)

    # The SDK's own: task latencies, slots, polls, requests.
    for family in (
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_workflow_task_execution_latency",
        "temporal_activity_execution_latency",
        "temporal_activity_schedule_to_start_latency",
        "temporal_worker_task_slots_available",
        "temporal_num_pollers",
        "temporal_request",
    ):
        assert seen.samples(family), family

    assert seen.value("mb_deployments_total", outcome="live") == 3
    assert seen.value("mb_deployments_total", outcome="PromptBlocked") == 1
    assert seen.value("mb_deployments_total", outcome="QAGateFailed") == 1
    assert seen.value("mb_deployments_total", outcome="RolledBackAfterSwitch") == 1
    assert seen.value("mb_deployment_duration_seconds_count", outcome="live") == 3
    assert seen.value("mb_qa_gates_total", verdict="pass") == 4
    # The weak generated bundle is judged once, then once per repair (each failing too).
    judged_weak = 1 + DEFAULT_GENERATION_REPAIRS
    assert seen.value("mb_qa_gates_total", verdict="fail") == judged_weak
    for stage in ("tests", "mutation", "fuzz", "static", "deps"):
        count = seen.value("mb_qa_stage_duration_seconds_count", stage=stage)
        assert count == 4 + judged_weak, stage
    failed = seen.value("mb_qa_stage_duration_seconds_count", stage="mutation", verdict="fail")
    assert failed == judged_weak
    assert seen.value("mb_moderation_verdicts_total", subject="prompt", verdict="block") == 1
    assert seen.value("mb_moderation_verdicts_total", subject="prompt", verdict="allow") == 5
    assert (
        seen.value("mb_moderation_verdicts_total", subject="content", verdict="allow")
        == 4 + judged_weak
    )  # each repair moderated too
    assert seen.value("mb_rollbacks_total", trigger="by_hand") == 1
    assert seen.value("mb_rollbacks_total", trigger="automatic") == 1
    assert again.value("mb_deployments_total") == seen.value("mb_deployments_total") == 6

    labels = json.dumps([s.labels for f in seen.families.values() for s in f.samples])
    for personal in (OWNER, "nina", "kayak", "tide", "flaky-health", "weak-tests", "BLOCKME"):
        assert personal not in labels, personal


def test_a_taken_metrics_port_is_named_with_its_setting(tmp_path: Path) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} .*MB_WORKER_METRICS_PORT"):
            metrics_runtime(Settings(data_dir=tmp_path, worker_metrics_port=port))
