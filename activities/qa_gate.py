"""The QA gate's activities (tests x3 today; mutation, fuzz, static, deps to come).

The gate's logic is usable without Temporal (``mb qa DIR``) through
:class:`QAGate`; the activity class only adds artifact storage and heartbeats.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from temporalio import activity

from activities.heartbeat import keep_alive
from activities.qa.test_runs import run_tests_repeatedly
from runtime.envs import EnvBuilder, EnvBuildError, RequirementsError
from schemas.bundle import AppBundle
from schemas.qa import QAStageOutcome, RunTestsInput, TestsReport
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from temporal import names


class QAGate:
    """Runs the gate's stages on a checked-out bundle."""

    def __init__(self, envs: EnvBuilder, settings: Settings) -> None:
        self._envs = envs
        self._settings = settings

    async def tests(
        self,
        bundle_dir: Path,
        bundle: AppBundle,
        *,
        runs: int,
        timeout_s: float,
        seed_base: str,
        heartbeat: Callable[[str], None] | None = None,
    ) -> TestsReport:
        """Build the bundle's environment and run its suite ``runs`` times in the sandbox."""
        try:
            env = await self._envs.ensure(bundle.file("requirements.txt") or "")
        except RequirementsError as err:
            return TestsReport(verdict="fail", reason=f"requirements.txt: {err}", runs=[])
        s = self._settings
        return await run_tests_repeatedly(
            bundle_dir,
            env,
            runs=runs,
            timeout_s=timeout_s,
            seed_base=seed_base,
            work_dir=s.data_path / "qa",
            uid=s.sandbox_uid,
            gid=s.sandbox_gid,
            memory_mb=s.app_memory_mb,
            pids=s.app_pids,
            cpu=s.app_cpu,
            use_cgroups=s.sandbox_cgroups,
            heartbeat=heartbeat,
        )


class QAActivities:
    """QA activities (on the ``mb-qa`` queue): reports go to the artifact store."""

    def __init__(
        self, bundles: BundleCache, artifacts: ArtifactStore, envs: EnvBuilder, settings: Settings
    ) -> None:
        self._bundles = bundles
        self._artifacts = artifacts
        self._settings = settings
        self._gate = QAGate(envs, settings)

    @activity.defn(name=names.ACTIVITY_RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> QAStageOutcome:
        """Tests x3 (fixed order, then shuffled); a failing gate is a result, not an error."""
        bundle_dir, bundle = await self._bundles.checkout(input.bundle_hash)
        try:
            async with keep_alive("tests x3"):
                report = await self._gate.tests(
                    bundle_dir,
                    bundle,
                    runs=input.runs or self._settings.qa_test_runs,
                    timeout_s=input.timeout_s or self._settings.qa_test_timeout_s,
                    seed_base=input.bundle_hash,
                    heartbeat=activity.heartbeat,
                )
        except EnvBuildError:
            raise  # infrastructure (index unreachable...): let Temporal retry
        digest = await self._artifacts.put("qa-tests", report.model_dump_json().encode())
        return QAStageOutcome(
            stage="tests", verdict=report.verdict, summary=report.reason, report_hash=digest
        )
