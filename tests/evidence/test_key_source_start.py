"""A second runtime host with its own, empty data directory and only the shared key
source (the evidence public keys, no signing key) verifies a release's evidence and
starts it; pointed at a key source whose evidence key was tampered with, it refuses the
release with a clear, non-retryable error (real PostgreSQL, bundle store and evidence
rows; the runtime records the start instead of doing it, as in
``test_start_requires_evidence``)."""

from __future__ import annotations

from pathlib import Path

from schemas.settings import Settings
from store.db import Database
from store.key_source import check_key_source
from temporal import names
from tests.evidence.test_start_requires_evidence import APP, World
from tests.key_mounts import public_only_mount, tamper_evidence_keys
from workers.main import polled_queues
from workers.wiring import evidence_keys


async def _released_by_primary(db: Database, tmp_path: Path) -> tuple[str, Path]:
    """The primary host signs a passed gate; (bundle hash, the runtime hosts' key mount)."""
    primary = Settings(data_dir=tmp_path / "primary")
    check_key_source(primary, evidence=True)
    signer = World(db, tmp_path / "primary-world", primary, evidence_keys(primary))
    bundle_hash = await signer.bundle()
    await signer.passed(bundle_hash)
    return bundle_hash, public_only_mount(primary.keys_path, tmp_path / "mount")


def _host_b(db: Database, tmp_path: Path, mount: Path) -> World:
    settings = Settings(data_dir=tmp_path / "host-b", key_source_dir=mount, runtime_host="host-b")
    check_key_source(settings, evidence=True)  # what `mb worker` does first
    return World(db, tmp_path / "host-b-world", settings, evidence_keys(settings))


async def test_a_host_with_only_the_shared_key_source_verifies_and_starts(
    db: Database, tmp_path: Path
) -> None:
    bundle_hash, mount = await _released_by_primary(db, tmp_path)
    host_b = _host_b(db, tmp_path, mount)

    error = await host_b.start(bundle_hash)

    assert error.type == names.ERROR_APP_START_FAILED  # the recording runtime's answer
    assert host_b.runtime.calls == [(APP, 1)]
    assert not (mount / "evidence" / "current").exists()  # it never held a signing key


async def test_a_host_whose_key_source_was_tampered_with_refuses_the_release(
    db: Database, tmp_path: Path
) -> None:
    bundle_hash, mount = await _released_by_primary(db, tmp_path)
    tamper_evidence_keys(mount)
    host_b = _host_b(db, tmp_path, mount)

    error = await host_b.start(bundle_hash)

    assert error.type == names.ERROR_EVIDENCE_INVALID and error.non_retryable
    assert "no valid QA evidence" in str(error) and "signature does not verify" in str(error)
    assert host_b.runtime.calls == []
    assert host_b.envs.calls == []


def test_a_host_that_only_verifies_polls_only_its_runtime_queue(tmp_path: Path) -> None:
    primary = Settings(data_dir=tmp_path / "primary", runtime_host="host-a")
    check_key_source(primary, evidence=True)
    mount = public_only_mount(primary.keys_path, tmp_path / "mount")
    host_b = Settings(data_dir=tmp_path / "host-b", key_source_dir=mount, runtime_host="host-b")
    assert polled_queues(host_b) == [names.runtime_task_queue("host-b")]
    everything = [names.PIPELINE_TASK_QUEUE, names.QA_TASK_QUEUE]
    assert polled_queues(primary) == [*everything, names.runtime_task_queue("host-a")]
    full = host_b.model_copy(update={"key_source_dir": primary.keys_path})
    assert polled_queues(full) == [*everything, names.runtime_task_queue("host-b")]
    fresh = Settings(data_dir=tmp_path / "fresh", runtime_host="host-c")
    assert len(polled_queues(fresh)) == 3  # the embedded default makes its signing key
