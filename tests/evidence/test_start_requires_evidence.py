"""Evidence before start, fast: the start activity refuses a bundle without valid signed
QA evidence before it checks out the bundle, builds an environment or asks the runtime
to start anything (real PostgreSQL, evidence keys and bundle store; the environment
builder and the sandbox runtime are the real classes with ``ensure``/``start`` recording
the call instead of doing the work)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.qa.evidence import EvidenceService
from activities.runtime_activities import RuntimeActivities
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder
from runtime.errors import AppStartError
from runtime.sandbox import SandboxRuntime
from schemas.qa import QAGateReport, StaticReport, TestsReport
from schemas.runtime import InstanceInfo, StartInstanceInput
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.bundles import make_bundle
from store.db import Database
from store.keyring import EvidenceKeys, SigningKeyRing
from store.qa_reports import QAReportRepository
from store.release_secrets import ReleaseSecrets
from temporal import names
from workers.wiring import sandbox_runtime, secret_store

APP = "tips-app"
FILES = {
    "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    "requirements.txt": "fastapi\n",
    "tests/test_main.py": "import main\n\ndef test_app():\n    assert main.app\n",
}


class RecordingEnvs(EnvBuilder):
    """The real builder, but ``ensure`` only records (and hands back this interpreter)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.calls: list[str] = []

    async def ensure(self, requirements_txt: str) -> PythonEnv:
        self.calls.append(requirements_txt)
        return PythonEnv(key="recorded", path=Path(sys.prefix))


class RecordingRuntime(SandboxRuntime):
    """The real sandbox runtime, but ``start`` only records the request."""

    calls: list[tuple[str, int]]

    @classmethod
    def like(cls, settings: Settings) -> RecordingRuntime:
        """The runtime a worker with ``settings`` builds, recording instead of starting."""
        spy = cls.__new__(cls)
        spy.__dict__.update(vars(sandbox_runtime(settings)))
        spy.calls = []
        return spy

    async def start(self, **kwargs: Any) -> InstanceInfo:
        self.calls.append((kwargs["app_id"], kwargs["version"]))
        raise AppStartError("recorded instead of started")


class World:
    def __init__(
        self,
        db: Database,
        tmp_path: Path,
        settings: Settings | None = None,
        keys: EvidenceKeys | None = None,
    ) -> None:
        """A host's start activity; ``settings`` and ``keys`` default to one of its own."""
        self.db = db
        self.artifacts = ArtifactStore(db)
        self.bundles = BundleCache(self.artifacts, tmp_path / "bundles")
        self.evidence = EvidenceService(
            QAReportRepository(db), self.artifacts, keys or SigningKeyRing(tmp_path / "keys")
        )
        settings = settings or Settings(data_dir=tmp_path / "data")
        self.envs = RecordingEnvs(tmp_path / "envs")
        self.runtime = RecordingRuntime.like(settings)
        self.activities = RuntimeActivities(
            self.runtime,
            self.bundles,
            self.envs,
            self.evidence,
            secret_store(settings, db),
            ReleaseSecrets(db),
            drain_s=0,
        )

    async def bundle(self) -> str:
        return await self.bundles.put(make_bundle(FILES))

    async def passed(self, bundle_hash: str, app_id: str = APP, deployment: str = "d1") -> str:
        """Sign evidence the way a passed gate does; returns its id."""
        report = QAGateReport(
            bundle_hash=bundle_hash,
            verdict="pass",
            stages=[
                TestsReport(verdict="pass", reason="3/3 runs passed", runs=[]),
                StaticReport(verdict="pass", reason="clean", files_scanned=1, policy="HIGH"),
            ],
        )
        digest = await self.artifacts.put("qa-report", report.model_dump_json().encode())
        row = await self.evidence.sign(
            report, report_hash=digest, app_id=app_id, deployment_id=deployment
        )
        return row.id

    async def start(self, bundle_hash: str) -> ApplicationError:
        with pytest.raises(ApplicationError) as info:
            await ActivityEnvironment().run(
                self.activities.start_instance,
                StartInstanceInput(app_id=APP, version=1, bundle_hash=bundle_hash),
            )
        return info.value


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return World(db, tmp_path)


async def _no_evidence(world: World, bundle_hash: str) -> None:
    del world, bundle_hash


async def _forged_signature(world: World, bundle_hash: str) -> None:
    evidence_id = await world.passed(bundle_hash)
    async with world.db.connection() as conn:
        row = await (
            await conn.execute("SELECT payload FROM qa_evidence WHERE id = %s", (evidence_id,))
        ).fetchone()
        assert row is not None
        forged = Ed25519PrivateKey.generate().sign(row["payload"].encode())
        await conn.execute(
            "UPDATE qa_evidence SET signature = %s WHERE id = %s", (forged, evidence_id)
        )


async def _another_apps_evidence(world: World, bundle_hash: str) -> None:
    await world.passed(bundle_hash, app_id="mallory-app")


async def _altered_report(world: World, bundle_hash: str) -> None:
    evidence_id = await world.passed(bundle_hash)
    async with world.db.connection() as conn:
        await conn.execute(
            "UPDATE artifacts SET data = %s WHERE sha256 ="
            " (SELECT report_sha256 FROM qa_evidence WHERE id = %s)",
            (b'{"verdict": "pass"}', evidence_id),
        )


async def _failed_gate_payload(world: World, bundle_hash: str) -> None:
    evidence_id = await world.passed(bundle_hash)
    async with world.db.connection() as conn:
        await conn.execute(
            "UPDATE qa_evidence SET payload = replace(payload, '\"pass\"', '\"fail\"')"
            " WHERE id = %s",
            (evidence_id,),
        )


@pytest.mark.parametrize(
    "forge",
    [
        _no_evidence,
        _forged_signature,
        _another_apps_evidence,
        _altered_report,
        _failed_gate_payload,
    ],
    ids=["none", "forged-signature", "another-apps", "altered-report", "edited-payload"],
)
@pytest.mark.reliability(
    "Evidence before start",
    done="Start a release with no, forged, another app's, altered or edited QA evidence",
)
async def test_without_valid_evidence_nothing_is_started(world: World, forge: Any) -> None:
    """Refused (EvidenceInvalid, not retried) before the bundle is checked out, an
    environment built or the runtime asked to start anything."""
    bundle_hash = await world.bundle()
    await forge(world, bundle_hash)

    error = await world.start(bundle_hash)

    assert error.type == names.ERROR_EVIDENCE_INVALID and error.non_retryable
    assert "no valid QA evidence" in str(error)
    assert world.runtime.calls == []
    assert world.envs.calls == []


async def test_with_valid_evidence_the_runtime_is_asked_to_start(world: World) -> None:
    """The control: the same path with signed evidence reaches the runtime."""
    bundle_hash = await world.bundle()
    await world.passed(bundle_hash)

    error = await world.start(bundle_hash)

    assert error.type == names.ERROR_APP_START_FAILED  # the recording runtime's answer
    assert world.runtime.calls == [(APP, 1)]
    assert world.envs.calls == ["fastapi\n"]
