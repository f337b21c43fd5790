"""Record workflow histories for the replay test (run by hand after a deliberate change).

    .venv/bin/python -m tests.histories.record

Runs each scenario on the time-skipping test server with the scripted
activities of the workflow tests and saves every workflow's history as JSON
next to this file, prefixed with ``GENERATION``. Commit the files: ``tests/workflows/test_replay.py`` then
replays them against the current code, so a non-deterministic change fails CI.
Re-record only for an intended, ``workflow.patched``-guarded change; a new generation
may keep only the scenarios its patch changed (v5 keeps the deployments, v6 the
workflows new in it, v7 the refused signals and the scheduled mail delivery, v8 the
repairs of generated bundles and a hand-written bundle the gate rejects, v9 a deployment
that passes the QA gate and one that fails it: the verdict in the memo, v10 a rollback
and a refresh that ask placement for their host, v11 the first two, a review, a
rollback and a retirement publishing their status to the read model, v12 a deployment
and a repaired one whose QA stages carry their gate's ticket for the workers' admission,
v13 an app moved off a lost host: no stop on that host's queue).
``v7-qa-failed`` was recorded with the code before the generation-repair patch (a
generated bundle failing the gate): it replays without repairing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from pipeline.operations import app_status, deployment_status, request_deployment
from pipeline.privacy import start_erasure
from schemas.anomalies import AnomalyScanInput
from schemas.backups import BackupRunInput
from schemas.deployment import (
    DeployRequest,
    RefreshRequest,
    RetireRequest,
    ReviewDecision,
    RollbackRequest,
)
from schemas.keys import KeyRotationInput
from schemas.mail import MailDeliveryInput
from schemas.privacy import ExportInput
from temporal import names
from temporal.converter import data_converter
from temporal.devserver import find_executable
from temporal.search_attributes import ensure_search_attributes
from tests.workflows.pipeline_fakes import HOST, FakePipeline, fake_workers

HERE = Path(__file__).parent
GENERATION = "v13"
"""Bump when re-recording after a patched change: earlier generations stay and keep replaying."""


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(400):
        try:
            if await check():
                return
        except Exception:
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError


async def _true(condition: bool) -> bool:
    return condition


async def _finish(client: Client, workflow_id: str) -> None:
    async def started() -> bool:
        await client.get_workflow_handle(workflow_id).describe()
        return True

    await _until(started)
    try:
        await client.get_workflow_handle(workflow_id).result()
    except WorkflowFailureError:
        pass


async def _deploy(
    client: Client,
    app_id: str,
    prompt: str | None,
    *,
    bundle_hash: str | None = None,
    generation_repairs: int | None = None,
) -> str:
    request = DeployRequest(
        request_id=uuid.uuid4().hex,
        owner_id="user-1",
        prompt=prompt,
        bundle_hash=bundle_hash,
        generation_repairs=generation_repairs,
    )
    workflow_id = await request_deployment(client, app_id, request)
    await _finish(client, workflow_id)
    return workflow_id


async def _save(client: Client, name: str, workflow_ids: list[str]) -> None:
    for i, workflow_id in enumerate(workflow_ids):
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        path = HERE / f"{GENERATION}-{name}-{i}-{workflow_id.split('-')[0]}.json"
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
        print(f"wrote {path.relative_to(HERE.parent.parent)}")


async def main() -> None:
    path = find_executable("temporal-test-server")
    assert path
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=data_converter()
    ) as env:
        await ensure_search_attributes(env.client)
        fake = FakePipeline()
        async with fake_workers(env.client, fake):
            client = env.client

            happy = await _deploy(client, "happy-app", "a todo list")
            await _save(client, "happy", [names.app_workflow_id("happy-app"), happy])

            rejected = await _deploy(client, "rejected-app", "BLOCKME a fake bank login")
            await _save(client, "rejected", [rejected])

            fake.qa_verdict = "fail"
            weak = await _deploy(client, "weak-app", "a tip calculator")
            fake.qa_verdict = "pass"
            await _save(client, "qa-rejected", [weak])

            fake.content_verdict = "block"
            content = await _deploy(client, "sneaky-app", "a page for my bank club")
            fake.content_verdict = "allow"
            await _save(client, "content-blocked", [content])

            await _deploy(client, "rolled-app", "a habit tracker")
            fake.unhealthy = lambda instance_id, call: instance_id == "rolled-app-v2" and call >= 2
            rolled = await _deploy(client, "rolled-app", "a habit tracker v2")
            fake.unhealthy = lambda instance_id, call: False
            await _save(client, "rolled-back", [rolled])

            await _deploy(client, "manual-app", "an inventory")
            await _deploy(client, "manual-app", "an inventory v2")
            await client.get_workflow_handle(names.app_workflow_id("manual-app")).signal(
                names.SIGNAL_ROLLBACK,
                RollbackRequest(request_id=uuid.uuid4().hex, requested_by="oncall"),
            )

            async def rolled_back() -> bool:
                live = (await app_status(client, "manual-app")).live
                return live is not None and live.version == 1

            await _until(rolled_back)
            await _save(client, "rollback-signal", [names.app_workflow_id("manual-app")])

            request = DeployRequest(
                request_id=uuid.uuid4().hex, owner_id="user-1", prompt="FLAGME a login page"
            )
            flagged = await request_deployment(client, "review-app", request)

            async def waiting() -> bool:
                return (await deployment_status(client, flagged)).awaiting_review

            await _until(waiting)
            await client.get_workflow_handle(names.app_workflow_id("review-app")).signal(
                names.SIGNAL_REVIEW, ReviewDecision(decision="approve", reviewer="op")
            )
            await _finish(client, flagged)
            await _save(client, "review-approved", [names.app_workflow_id("review-app"), flagged])

            await _deploy(client, "guarded-app", "a recipe box")
            guarded = client.get_workflow_handle(names.app_workflow_id("guarded-app"))
            await guarded.signal(names.SIGNAL_DEPLOY, {"request_id": "x", "owner_id": "user-1"})
            await guarded.signal(names.SIGNAL_ROLLBACK, {"to_version": 0})
            await _until(lambda: _true(len(fake.refused) == 2))
            await _deploy(client, "guarded-app", "a recipe box v2")
            await _save(client, "refused-signal", [names.app_workflow_id("guarded-app")])

            await _deploy(client, "fresh-app", "a reading list")
            await client.get_workflow_handle(names.app_workflow_id("fresh-app")).signal(
                names.SIGNAL_REFRESH,
                RefreshRequest(request_id=uuid.uuid4().hex, requested_by="op", secrets=["TOKEN"]),
            )

            async def refreshed() -> bool:
                return any(r.done for r in (await app_status(client, "fresh-app")).refreshes)

            await _until(refreshed)
            await _save(client, "refresh", [names.app_workflow_id("fresh-app")])

            await _deploy(client, "castaway-app", "a packing list")
            await client.get_workflow_handle(names.app_workflow_id("castaway-app")).signal(
                names.SIGNAL_REFRESH,
                RefreshRequest(
                    request_id=uuid.uuid4().hex, requested_by="host-loss-detector", lost_host=HOST
                ),
            )

            async def moved() -> bool:
                return any(r.done for r in (await app_status(client, "castaway-app")).refreshes)

            await _until(moved)
            await _save(client, "host-lost", [names.app_workflow_id("castaway-app")])

            await _deploy(client, "gone-app", "a guest book")
            await client.get_workflow_handle(names.app_workflow_id("gone-app")).signal(
                names.SIGNAL_RETIRE,
                RetireRequest(request_id=uuid.uuid4().hex, requested_by="user-1"),
            )
            await client.get_workflow_handle(names.app_workflow_id("gone-app")).result()
            await _save(client, "retire", [names.app_workflow_id("gone-app")])

            await client.execute_workflow(
                names.ANOMALY_SCAN_WORKFLOW_TYPE,
                AnomalyScanInput(),
                id="anomaly-scan-run",
                task_queue=names.PIPELINE_TASK_QUEUE,
            )
            await _save(client, "anomaly-scan", ["anomaly-scan-run"])

            export_id = names.privacy_export_workflow_id("user-1")
            await client.execute_workflow(
                names.PRIVACY_EXPORT_WORKFLOW_TYPE,
                ExportInput(user_id="user-1", export_id="0123456789abcdef", requested_by="user-1"),
                id=export_id,
                task_queue=names.PIPELINE_TASK_QUEUE,
            )
            await _save(client, "privacy-export", [export_id])

            await client.execute_workflow(
                names.BACKUP_WORKFLOW_TYPE,
                BackupRunInput(reason="scheduled", keep=7),
                id="backup-run",
                task_queue=names.PIPELINE_TASK_QUEUE,
            )
            await _save(client, "backup", ["backup-run"])

            await client.execute_workflow(
                names.MAIL_DELIVERY_WORKFLOW_TYPE,
                MailDeliveryInput(),
                id="mail-delivery-run",
                task_queue=names.PIPELINE_TASK_QUEUE,
            )
            await _save(client, "mail-delivery", ["mail-delivery-run"])

            erasure = await start_erasure(client, "user-2", requested_by="operator:dpo")
            await erasure.result()
            await _save(client, "privacy-erasure", [erasure.id])

            # The generator repairs a generated bundle the gate failed (v8).
            fake.qa_verdict, fake.failing_stage, fake.repair_fixes_from = "fail", "mutation", 2
            repaired = await _deploy(client, "repaired-app", "a poll for lunch")
            await _save(client, "repaired", [names.app_workflow_id("repaired-app"), repaired])
            fake.repair_fixes_from = None
            exhausted = await _deploy(
                client, "unfixable-app", "a poll for dinner", generation_repairs=2
            )
            await _save(client, "repairs-exhausted", [exhausted])
            fake.repair_changes = False
            unchanged = await _deploy(client, "blueprint-app", "a poll for breakfast")
            await _save(client, "repair-unchanged", [unchanged])
            fake.repair_changes = True
            bundle = await _deploy(client, "handmade-app", None, bundle_hash="ab" * 32)
            await _save(client, "bundle-rejected", [bundle])
            fake.qa_verdict = "pass"

            await client.execute_workflow(
                names.KEY_ROTATION_WORKFLOW_TYPE,
                KeyRotationInput(target_key_id="f" * 16, requested_by="op", batch_size=2),
                id=names.KEY_ROTATION_WORKFLOW_ID,
                task_queue=names.PIPELINE_TASK_QUEUE,
            )
            await _save(client, "key-rotation", [names.KEY_ROTATION_WORKFLOW_ID])


if __name__ == "__main__":
    asyncio.run(main())
