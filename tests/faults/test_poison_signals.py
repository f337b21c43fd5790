"""Faults: poison signals to a live AppWorkflow, sent the way an outsider who reaches the
Temporal frontend would: the real ``temporal`` CLI with a plaintext payload, a tampered
ciphertext, and a well-encrypted input that does not validate.

Before the fix, the worker refused to decode the plaintext signal, the workflow task
failed on every attempt, status queries timed out and the app took no deploy or
rollback until someone reset the workflow by hand.
"""

from __future__ import annotations

import base64
import subprocess

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType

from pipeline.operations import app_status
from schemas.deployment import DeploymentOutcome, RollbackRequest
from store.incidents import IncidentLog
from temporal import names
from temporal.codec import EncryptionCodec
from temporal.devserver import find_executable
from tests.faults.conftest import wait_for
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

APP = "poison-signals"
MARKER = "mallory-wrote-this"
BLOCKED = "a page that looks exactly like the PayPal login and collects the passwords people type"


def _cli_signal(
    stack: Stack, name: str, value: str, *meta: str, base64_input: bool = False
) -> None:
    """``temporal workflow signal`` against the stack's frontend, as an outsider would."""
    exe = find_executable("temporal")
    assert exe, "the temporal CLI is missing"
    args = [exe, "workflow", "signal", "--address", stack.dev.target, "--namespace", "default"]
    args += ["-w", names.app_workflow_id(APP), "--name", name, "--input", value]
    for item in meta:
        args += ["--input-meta", item]
    if base64_input:
        args.append("--input-base64")
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def _tampered_rollback(stack: Stack) -> tuple[str, list[str]]:
    """A rollback request encrypted with the stack's key, then one bit of it flipped."""
    codec = stack.client.data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    request = RollbackRequest(request_id="t" * 16, requested_by=MARKER)
    [plain] = stack.client.data_converter.payload_converter.to_payloads([request])
    [sealed] = await codec.encode([plain])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:20] + bytes([sealed.data[20] ^ 1]) + sealed.data[21:]
    meta = [f"{key}={value.decode()}" for key, value in sealed.metadata.items()]
    return base64.b64encode(tampered.data).decode(), meta


async def _task_failures(stack: Stack) -> int:
    history = await stack.client.get_workflow_handle(names.app_workflow_id(APP)).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events)


async def _answers_status(stack: Stack) -> None:
    """The status query answers (it cannot while workflow tasks fail) and no task failed."""
    status = await app_status(stack.client, APP)
    assert status.app_id == APP
    assert await _task_failures(stack) == 0


@pytest.mark.reliability(
    "Poison signals",
    done="Send a live AppWorkflow a plaintext rollback signal with the `temporal` CLI, a"
    " tampered ciphertext, and an encrypted deploy signal that does not validate",
)
async def test_poison_signals_are_refused_recorded_and_the_app_deploys_on(stack: Stack) -> None:
    """Each is refused without failing a workflow task: the status query answers, each
    refusal is an incident naming why (never quoting the input), the next deployment goes
    live, and `mb replay` replays the history cleanly."""
    blocked, _ = await stack.deploy(APP, BLOCKED)
    assert (await stack.finished(APP, blocked)).outcome is DeploymentOutcome.REJECTED
    incidents = IncidentLog(stack.db)

    # 1. Plaintext JSON: the worker's codec refuses it.
    _cli_signal(
        stack, names.SIGNAL_ROLLBACK, f'{{"request_id": "{"p" * 16}", "requested_by": "{MARKER}"}}'
    )
    # 2. A ciphertext with one bit flipped: authentication fails.
    data, meta = await _tampered_rollback(stack)
    _cli_signal(stack, names.SIGNAL_ROLLBACK, data, *meta, base64_input=True)
    # 3. Encrypted with our converter, but not a DeployRequest.
    await stack.client.get_workflow_handle(names.app_workflow_id(APP)).signal(
        names.SIGNAL_DEPLOY, {"request_id": "x", "owner_id": "local", "prompt": MARKER}
    )

    async def three_recorded() -> bool:
        found = await incidents.search(app_id=APP)
        return len([i for i in found if i.kind == "refused_signal"]) == 3

    await wait_for("three refused-signal incidents", three_recorded, within=120)
    await _answers_status(stack)
    refused = sorted(i.reason for i in await incidents.search(app_id=APP))
    assert all(MARKER not in reason for reason in refused), refused
    assert sum("unencrypted payload" in r for r in refused) == 1, refused
    assert sum("failed authentication" in r for r in refused) == 1, refused
    assert sum("invalid DeployRequest" in r for r in refused) == 1, refused
    status = await app_status(stack.client, APP)
    assert status.rollbacks == [] and len(status.deployments) == 1

    deployment_id, _ = await stack.deploy(APP, "a todo list for my climbing team")
    assert "is live" in await stack.outcome(APP, deployment_id, within=300)
    assert "<" in await stack.page(APP)
    await _answers_status(stack)
    assert stack.workers[-1].poll() is None, "the worker died"
    # On-call replays the app's history as the worker decoded it: refusals included.
    replayed = stack.mb("replay", names.app_workflow_id(APP))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
