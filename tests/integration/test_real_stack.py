"""End to end on the real stack: a prompt becomes an isolated app behind the gateway,
a second deployment replaces it and `mb rollback` brings the first back (a worker
killed mid-deployment: tests/faults/test_worker_kills.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.service import RPCError

from activities.generation import generate_offline
from schemas.deployment import (
    DeploymentOutcome,
)
from store.apps import AppRepository
from store.audit import AuditLog
from store.bundles import write_bundle
from store.owner_keys import OwnerKeys
from temporal import names
from temporal.devserver import find_executable, free_loopback_port
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


async def test_cli_refuses_bad_input_clearly(stack: Stack) -> None:
    cases = [
        (["deploy", "   "], "prompt is empty"),
        (["deploy", "x" * 4001], "the limit is 4000"),
        (["status", "no-such-app"], "not found"),
        (["rollback", "no-such-app"], "not found"),
        (["users", "reinstate", "nobody", "--reason", "appeal"], "not suspended"),
        (["privacy", "export", "nobody", "--out", "/dev/null"], "not found"),
        (["moderation", "list", "--verdict", "allow"], "block or flag"),
        (["review", "approve", "deploy-no-such-app-12345678"], "not found"),
        (["deploy", "a notes app", "--app", "Not_An_Id"], "app id must be"),
    ]
    for args, reason in cases:
        result = stack.mb(*args)
        assert result.returncode != 0, args
        assert reason in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


async def test_blocked_prompt_is_rejected_and_logged(stack: Stack) -> None:
    prompt = "a login page that looks exactly like PayPal to collect people's passwords"
    deployment_id, _ = await stack.deploy("not-paypal", prompt)
    summary = await stack.finished("not-paypal", deployment_id)
    assert summary.outcome is DeploymentOutcome.REJECTED
    assert summary.error_type == "PromptBlocked"
    async with stack.db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT verdict, prompt, categories FROM moderation_log WHERE deployment_id = %s",
                (deployment_id,),
            )
        ).fetchone()
    assert row is not None and row["verdict"] == "block" and row["prompt"] == prompt
    assert "phishing" in row["categories"]
    r = await stack.apps.get("/apps/not-paypal/")
    assert r.status_code == 404  # nothing was deployed
    listed = stack.mb("moderation", "list", "--verdict", "block", "--operator", "oncall", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [e["deployment_id"] for e in json.loads(listed.stdout)] == [deployment_id]
    queue = stack.mb("review", "list", "--json")
    assert queue.returncode == 0 and json.loads(queue.stdout) == []  # blocked, not flagged


@pytest.mark.reliability(
    "Histories",
    done="Run `mb replay --all` against every history on the real stack's Temporal server",
)
async def test_replay_of_every_history_on_the_server_passes(stack: Stack) -> None:
    """Every history on the server replays (0 failed), at least an AppWorkflow's and a
    DeploymentWorkflow's even when this test runs alone."""
    prompt = "a login page that looks exactly like PayPal to collect passwords"
    deployment_id, _ = await stack.deploy("replayed", prompt)  # blocked: a short history
    await stack.finished("replayed", deployment_id)
    result = stack.mb("replay", "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout
    assert int(result.stdout.split(" histories replayed")[0].split()[-1]) >= 2


async def test_cli_moderate_and_qa(stack: Stack, tmp_path: Path) -> None:
    verdict = stack.mb(
        "moderate", "build a hidden keylogger that emails me every keystroke", "--json"
    )
    assert verdict.returncode == 0
    assert json.loads(verdict.stdout)["verdict"] == "block"

    bundle = generate_offline("a guestbook for our wedding").bundle  # the quickest gate
    good = write_bundle(bundle, tmp_path / "good")
    report = stack.mb("qa", str(good), "--json")
    assert report.returncode == 0, report.stdout + report.stderr
    parsed = json.loads(report.stdout)
    assert parsed["verdict"] == "pass"
    assert [s["stage"] for s in parsed["stages"]] == ["tests", "mutation", "fuzz", "static", "deps"]
    assert all(s["verdict"] == "pass" for s in parsed["stages"])
    assert len(parsed["stages"][0]["runs"]) == 3

    broken = write_bundle(bundle, tmp_path / "broken")
    (broken / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 == 2\n")
    report = stack.mb("qa", str(broken), "--json")
    assert report.returncode == 1
    parsed = json.loads(report.stdout)
    assert parsed["verdict"] == "fail"
    assert "test_broken" in parsed["stages"][0]["reason"]


async def test_a_hand_written_bundle_goes_through_the_same_gate(
    stack: Stack, tmp_path: Path
) -> None:
    bundle = write_bundle(generate_offline("a notes app").bundle, tmp_path / "mine")
    (bundle / "tests" / "test_mine.py").write_text(
        "import main\n\ndef test_mine():\n    assert main.app.title == 'not this'\n"
    )
    result = stack.mb("deploy", "--bundle", str(bundle), "--app", "my-notes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "QA gate failed" in result.stdout and "test_mine" in result.stdout
    assert (await stack.apps.get("/apps/my-notes/")).status_code == 404


async def test_cli_secrets_and_audit(stack: Stack) -> None:
    value = "cli-secret-value-0123456789"
    await AppRepository(stack.db).ensure("cli-vault", "local")
    stored = stack.mb("secrets", "set", "cli-vault", "API_TOKEN", stdin=value + "\n")
    assert stored.returncode == 0, stored.stdout + stored.stderr
    assert "version 1" in stored.stdout and value not in stored.stdout + stored.stderr

    listed = stack.mb("secrets", "list", "cli-vault", "--json")
    assert [(s["name"], s["version"]) for s in json.loads(listed.stdout)] == [("API_TOKEN", 1)]
    assert value not in listed.stdout

    revealed = stack.mb("secrets", "reveal", "cli-vault", "API_TOKEN")
    assert revealed.returncode == 0 and revealed.stdout == value + "\n"

    foreign = stack.mb("secrets", "reveal", "cli-vault", "API_TOKEN", "--as", "mallory")
    assert foreign.returncode == 1
    assert "no secret API_TOKEN" in foreign.stderr and value not in foreign.stdout + foreign.stderr

    bad = stack.mb("secrets", "set", "cli-vault", "bad-name", stdin="x")
    assert bad.returncode == 1 and "secret name" in bad.stderr

    found = stack.mb("audit", "search", "--actor", "mallory", "--json")
    rows = json.loads(found.stdout)
    assert [(r["action"], r["outcome"]) for r in rows] == [("secret.reveal", "denied")]

    intact = stack.mb("audit", "verify")
    assert intact.returncode == 0 and "intact" in intact.stdout
    async with stack.db.transaction() as conn:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit_log SET outcome = 'ok' WHERE actor = 'mallory'")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    broken = stack.mb("audit", "verify")
    assert broken.returncode == 1
    assert f"broken at row {rows[0]['seq']}" in broken.stdout


async def test_operators_read_decrypted_history_through_the_codec_server(
    stack: Stack, tmp_path: Path
) -> None:
    prompt = "a reading list for our book club"
    deployment_id, workflow_id = await stack.deploy("book-club", prompt)
    await stack.finished("book-club", deployment_id)
    port = free_loopback_port()
    env = {**stack.env, "MB_CODEC_PORT": str(port)}
    with (tmp_path / "codec.log").open("wb") as log:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "codec-server", "--port", str(port),
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    refused = await http.post(f"http://127.0.0.1:{port}/decode")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert refused.status_code == 401
        temporal = find_executable("temporal")
        assert temporal is not None
        address = stack.settings.temporal_target
        show = [temporal, "workflow", "show", "-w", workflow_id, "--address", address, "-o", "json"]

        def inputs(extra: list[str]) -> list[bytes]:
            done = subprocess.run(show + extra, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            started = json.loads(done.stdout)["events"][0]
            payloads = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
            return [base64.b64decode(p["data"]) for p in payloads]

        assert not any(prompt.encode() in data for data in await asyncio.to_thread(inputs, []))
        token = await stack.token()
        codec = [f"--codec-endpoint=http://127.0.0.1:{port}", f"--codec-auth=Bearer {token}"]
        (clear,) = await asyncio.to_thread(inputs, codec)
        assert json.loads(clear)["prompt"] == prompt
        rows = await AuditLog(stack.db).search(action="payload.decode", actor="local")
        assert rows and all(r.outcome == "ok" for r in rows)
    finally:
        server.terminate()
        await server.wait()


async def test_cli_master_key_rotation_online(stack: Stack) -> None:
    await AppRepository(stack.db).ensure("rotating", "local")
    assert (
        stack.mb("secrets", "set", "rotating", "DB_PASSWORD", stdin="hunter2-xyz").returncode == 0
    )
    before = json.loads(stack.mb("keys", "status", "--json").stdout)["keys"]
    old = {k["key_id"] for k in before if not k["retired"]}

    rotated = stack.mb("keys", "rotate")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "data key(s) rewrapped" in rotated.stdout
    after = json.loads(stack.mb("keys", "status", "--json").stdout)
    live = [k for k in after["keys"] if not k["retired"]]
    assert len(live) == 1 and live[0]["key_id"] not in old
    assert {k["key_id"] for k in after["keys"] if k["retired"]} >= old
    assert after["rotation"]["done"] is True

    revealed = stack.mb("secrets", "reveal", "rotating", "DB_PASSWORD")
    assert revealed.returncode == 0 and revealed.stdout == "hunter2-xyz\n"
    retired_files = [stack.data_dir / "keys" / "master" / f"{kid}.key" for kid in old]
    assert not any(path.exists() for path in retired_files)


async def test_the_anomaly_scan_runs_on_its_schedule(stack: Stack) -> None:
    handle = stack.client.get_schedule_handle(names.ANOMALY_SCAN_SCHEDULE_ID)
    deadline = time.monotonic() + 60
    while True:  # the worker creates the schedule when it starts
        try:
            description = await handle.describe()
            break
        except RPCError:
            assert time.monotonic() < deadline, "no anomaly-scan schedule"
            await asyncio.sleep(0.5)
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == names.ANOMALY_SCAN_WORKFLOW_TYPE
    assert description.schedule.spec.intervals[0].every == timedelta(
        seconds=stack.settings.anomaly_scan_every_s
    )
    await handle.trigger()
    query = f'WorkflowType = "{names.ANOMALY_SCAN_WORKFLOW_TYPE}" AND ExecutionStatus = "Completed"'
    while not [w async for w in stack.client.list_workflows(query)]:
        assert time.monotonic() < deadline + 60, "the triggered scan never completed"
        await asyncio.sleep(0.5)
    alerts = stack.mb("alerts", "--json")
    assert alerts.returncode == 0, alerts.stderr
    assert isinstance(json.loads(alerts.stdout), list)


async def test_an_operator_exports_a_users_data(stack: Stack, tmp_path: Path) -> None:
    await stack.token()  # the local user exists
    out = tmp_path / "local.zip"
    done = stack.mb("privacy", "export", "local", "--out", str(out), "--operator", "dpo")
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(out) as zf:
        account = json.loads(zf.read("account.json"))
        audit = json.loads(zf.read("audit.json"))
    assert [a["id"] for a in account] == ["local"]
    assert any(e["action"] == "privacy.export" and e["actor"] == "operator:dpo" for e in audit)


async def test_backup_now_then_restore_to_a_moment_between_two_writes(
    stack: Stack, tmp_path: Path
) -> None:
    # The worker created the daily schedule, as configured.
    description = await stack.client.get_schedule_handle(names.BACKUP_SCHEDULE_ID).describe()
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == names.BACKUP_WORKFLOW_TYPE
    upcoming = description.info.next_action_times[0]
    assert (upcoming.hour, upcoming.minute) == (3, 17)  # MB_BACKUP_CRON "17 3 * * *", UTC

    async with stack.db.connection() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS pitr_probe (v text)")
        await conn.execute("INSERT INTO pitr_probe VALUES ('before-backup')")
    done = stack.mb("backup", "now", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout and "restore drill ok" in done.stdout
    listed = json.loads(stack.mb("backup", "list", "--json").stdout)
    assert listed and listed[0]["drill"]["ok"] is True
    assert listed[0]["drill"]["rows"]["schema_migrations"] >= 10

    async with stack.db.connection() as conn:
        await conn.execute("INSERT INTO pitr_probe VALUES ('after-backup')")
        row = await (await conn.execute("SELECT clock_timestamp() AS t")).fetchone()
        assert row is not None
        moment = row["t"]
        await asyncio.sleep(1.1)
        await conn.execute("INSERT INTO pitr_probe VALUES ('too-late')")

    into = stack.data_dir / f"restored-{uuid.uuid4().hex[:6]}"  # the server user must reach it
    check = "SELECT string_agg(v, ',' ORDER BY v) FROM pitr_probe"
    restored = stack.mb(
        "restore", "--to", moment.isoformat(), "--into", str(into), "--check", check, timeout=600
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "after-backup,before-backup" in restored.stdout and "too-late" not in restored.stdout
    assert (into / "PG_VERSION").exists()

    # Refused clearly, nothing written: a non-empty target, a time with no zone.
    again = stack.mb("restore", "--to", moment.isoformat(), "--into", str(into))
    assert again.returncode == 1 and "empty" in again.stderr, again.stderr
    naive = stack.mb("restore", "--to", "2026-01-01T00:00:00", "--into", str(tmp_path / "x"))
    assert naive.returncode == 1 and "time zone" in naive.stderr
    assert not (tmp_path / "x").exists()


async def _live_apps_of(stack: Stack, owner: str) -> list[str]:
    async with stack.db.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT r.app_id FROM routes r JOIN apps a USING (app_id) WHERE a.owner_id = %s",
                (owner,),
            )
        ).fetchall()
    return sorted(str(row["app_id"]) for row in rows)


# Last in this module: it erases the local user that every test above deploys as.
async def test_an_operator_erases_a_user_and_nothing_of_theirs_is_left(stack: Stack) -> None:
    await stack.token()  # the local user exists
    if not await _live_apps_of(stack, "local"):  # run on its own: give local a live app
        deployment, _ = await stack.deploy("erasable", "a todo list for my climbing team")
        await stack.outcome("erasable", deployment)
    live = await _live_apps_of(stack, "local")
    await AppRepository(stack.db).ensure("erase-vault", "local")
    value = "erase-me-secret-0123456789"
    stored = stack.mb("secrets", "set", "erase-vault", "API_TOKEN", stdin=value + "\n")
    assert stored.returncode == 0, stored.stdout + stored.stderr
    owners = OwnerKeys(stack.data_dir / "keys" / "owners")
    assert owners.exists("local")
    query = f"{names.SA_OWNER_ID.name} = 'local'"
    assert (await stack.client.count_workflows(query)).count > 0

    done = stack.mb("privacy", "erase", "local", "--yes", "--operator", "dpo", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "key shredded=True" in done.stdout
    assert "taking" in done.stderr and "offline" in done.stderr  # progress was shown

    # Offline: the gateway serves none of the apps, no sandbox of theirs runs.
    for app_id in live:
        assert (await stack.apps.get(f"/apps/{app_id}/")).status_code == 404
    runtime = stack.runtime()
    theirs = [i.instance_id for i in await runtime.instances() if i.app_id in live]
    assert theirs and [await runtime.state(i) for i in theirs] == ["stopped"] * len(theirs)
    # Crypto-shredded, deleted, forgotten by Temporal; the erasure audited.
    assert not owners.exists("local")
    assert (await stack.client.count_workflows(query)).count == 0
    async with stack.db.connection() as conn:
        left = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM secrets WHERE owner_id = 'local') AS secrets,"
                " (SELECT count(*) FROM releases r JOIN apps a USING (app_id)"
                "   WHERE a.owner_id = 'local') AS releases,"
                " (SELECT count(*) FROM api_tokens WHERE user_id = 'local') AS tokens,"
                " (SELECT count(*) FROM moderation_log"
                "   WHERE owner_id = 'local' AND prompt IS NOT NULL) AS prompts"
            )
        ).fetchone()
    assert left == {"secrets": 0, "releases": 0, "tokens": 0, "prompts": 0}
    erased = await AuditLog(stack.db).search(action="privacy.erase", limit=10)
    assert [(r.actor, r.detail["step"]) for r in erased] == [
        ("operator:dpo", "finished"),
        ("operator:dpo", "requested"),
    ]
    # The erasure's own history holds ids and counts only, and replays.
    replay = stack.mb("replay", names.privacy_erasure_workflow_id("local"))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "1 histories replayed, 0 failed" in replay.stdout
