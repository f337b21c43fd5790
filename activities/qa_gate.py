"""The QA gate: five stage activities (on the ``mb-qa`` queue) and the gate's logic.

:class:`QAGate` runs the stages on a checked-out bundle without Temporal
(``mb qa DIR`` uses it); :class:`QAActivities` adds artifact storage and
heartbeats. Each stage stores its report in the artifact store and returns
only its verdict, summary and the report's hash.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from pydantic import TypeAdapter
from temporalio import activity

from activities.heartbeat import keep_alive
from activities.qa.deps import AllowListError, load_allowlist, scan_dependencies
from activities.qa.fuzz import run_fuzz
from activities.qa.mutation import run_mutation
from activities.qa.static import scan_static
from activities.qa.test_runs import run_seed, run_tests_repeatedly
from activities.qa.workspace import SandboxUser
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder, EnvBuildError, RequirementsError
from runtime.limits import ResourceLimits
from runtime.uids import UidPool
from schemas.bundle import AppBundle
from schemas.qa import (
    DependencyReport,
    FuzzReport,
    MutationReport,
    QAGateReport,
    QAPolicy,
    QAStageInput,
    QAStageOutcome,
    RunTestsInput,
    StageReport,
    StaticReport,
    TestsReport,
)
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from temporal import names

STAGES = ("tests", "mutation", "fuzz", "static", "deps")
Heartbeat = Callable[[str], None]


class QAGate:
    """Runs the gate's stages on a checked-out bundle (no Temporal, no database)."""

    def __init__(self, envs: EnvBuilder, settings: Settings) -> None:
        self._envs = envs
        self._settings = settings
        s = settings
        self.user = SandboxUser(
            uids=UidPool.from_settings(s),
            limits=ResourceLimits(
                memory_mb=s.app_memory_mb,
                pids=s.app_pids,
                cpu=s.app_cpu,
                use_cgroups=s.sandbox_cgroups,
            ),
        )

    async def environment(self, bundle: AppBundle) -> PythonEnv | RequirementsError:
        """The bundle's virtualenv, or the bundle's fault in its requirements."""
        try:
            return await self._envs.ensure(bundle.file("requirements.txt") or "")
        except RequirementsError as err:
            return err

    async def tests(
        self,
        bundle_dir: Path,
        bundle: AppBundle,
        *,
        runs: int,
        timeout_s: float,
        seed_base: str,
        heartbeat: Heartbeat | None = None,
    ) -> TestsReport:
        """Tests x3: the suite in a fixed order, then in seeded shuffles."""
        env = await self.environment(bundle)
        if isinstance(env, RequirementsError):
            return TestsReport(verdict="fail", reason=f"requirements.txt: {env}", runs=[])
        s = self._settings
        return await run_tests_repeatedly(
            bundle_dir,
            env,
            runs=runs,
            timeout_s=timeout_s,
            seed_base=seed_base,
            work_dir=s.data_path / "qa",
            uids=self.user.uids,
            memory_mb=self.user.limits.memory_mb,
            pids=self.user.limits.pids,
            cpu=self.user.limits.cpu,
            use_cgroups=self.user.limits.use_cgroups,
            heartbeat=heartbeat,
        )

    async def mutation(
        self, bundle_dir: Path, bundle: AppBundle, policy: QAPolicy, heartbeat: Heartbeat | None
    ) -> MutationReport:
        """mutmut in the sandbox, with all the cores this worker is given."""
        env = await self.environment(bundle)
        if isinstance(env, RequirementsError):
            return MutationReport(
                verdict="fail",
                reason=f"requirements.txt: {env}",
                score=None,
                threshold=policy.mutation_threshold,
                min_mutable_fraction=policy.min_mutable_fraction,
            )
        return await run_mutation(
            bundle_dir,
            env,
            policy=policy,
            work_dir=self._settings.data_path / "qa",
            user=self.user,
            max_children=self._settings.qa_cores or os.cpu_count() or 1,
            heartbeat=heartbeat,
        )

    async def fuzz(
        self,
        bundle_dir: Path,
        bundle: AppBundle,
        policy: QAPolicy,
        seed_base: str,
        heartbeat: Heartbeat | None,
    ) -> FuzzReport:
        """hypothesis over plain functions, schemathesis over the app's OpenAPI schema."""
        env = await self.environment(bundle)
        seed = run_seed(seed_base, 0)
        if isinstance(env, RequirementsError):
            return FuzzReport(
                verdict="fail",
                reason=f"requirements.txt: {env}",
                seed=seed,
                examples_per_target=policy.fuzz_examples,
            )
        return await run_fuzz(
            bundle_dir,
            env,
            policy=policy,
            seed=seed,
            work_dir=self._settings.data_path / "qa",
            user=self.user,
            entrypoint=bundle.manifest.entrypoint,
            heartbeat=heartbeat,
        )

    async def static(self, bundle_dir: Path, policy: QAPolicy) -> StaticReport:
        """bandit over the bundle's source (it parses, it never runs the code)."""
        return await asyncio.to_thread(scan_static, bundle_dir, policy=policy)

    async def deps(self, bundle: AppBundle) -> DependencyReport:
        """The installed versions of the bundle's virtualenv against the advisory database."""
        s = self._settings
        env = await self.environment(bundle)
        if isinstance(env, RequirementsError):
            return DependencyReport(
                verdict="fail", reason=f"requirements.txt: {env}", database=str(s.advisory_path)
            )
        try:
            allow = load_allowlist(s.advisory_allowlist) if s.advisory_allowlist else []
        except AllowListError as err:  # never scan with a half-read allow-list
            return DependencyReport(verdict="fail", reason=str(err), database=str(s.advisory_path))
        return await scan_dependencies(
            env,
            database=s.advisory_path,
            allow=allow,
            today=date.today(),
            safety_api_key=s.safety_api_key.get_secret_value() if s.safety_api_key else None,
        )

    async def run_all(
        self, bundle_dir: Path, bundle: AppBundle, bundle_hash: str, policy: QAPolicy
    ) -> QAGateReport:
        """Every stage at once (``mb qa``); the verdict is pass only if all pass."""
        started = time.monotonic()
        await self.environment(bundle)  # build once, before the stages race for it
        s = self._settings
        stages: list[StageReport] = list(
            await asyncio.gather(
                self.tests(
                    bundle_dir,
                    bundle,
                    runs=s.qa_test_runs,
                    timeout_s=s.qa_test_timeout_s,
                    seed_base=bundle_hash,
                ),
                self.mutation(bundle_dir, bundle, policy, None),
                self.fuzz(bundle_dir, bundle, policy, bundle_hash, None),
                self.static(bundle_dir, policy),
                self.deps(bundle),
            )
        )
        return assemble_report(
            bundle_hash, None, stages, policy, duration_s=time.monotonic() - started
        )


class QAActivities:
    """QA stage activities: a failing stage is a result (a verdict), not an error."""

    def __init__(
        self, bundles: BundleCache, artifacts: ArtifactStore, envs: EnvBuilder, settings: Settings
    ) -> None:
        self._bundles = bundles
        self._artifacts = artifacts
        self._settings = settings
        self._gate = QAGate(envs, settings)

    @activity.defn(name=names.ACTIVITY_RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> QAStageOutcome:
        """Tests x3 (fixed order, then shuffled)."""
        s = self._settings

        async def stage(bundle_dir: Path, bundle: AppBundle) -> StageReport:
            return await self._gate.tests(
                bundle_dir,
                bundle,
                runs=input.runs or s.qa_test_runs,
                timeout_s=input.timeout_s or s.qa_test_timeout_s,
                seed_base=input.bundle_hash,
                heartbeat=activity.heartbeat,
            )

        return await self._stage("tests", input.bundle_hash, stage)

    @activity.defn(name=names.ACTIVITY_RUN_MUTATION)
    async def run_mutation(self, input: QAStageInput) -> QAStageOutcome:
        """Mutation testing: are the bundle's tests strong enough to notice a change?"""
        policy = input.policy or self._settings.qa_policy()
        return await self._stage(
            "mutation",
            input.bundle_hash,
            lambda d, b: self._gate.mutation(d, b, policy, activity.heartbeat),
        )

    @activity.defn(name=names.ACTIVITY_RUN_FUZZ)
    async def run_fuzz(self, input: QAStageInput) -> QAStageOutcome:
        """Fuzz testing of the app's functions and API."""
        policy = input.policy or self._settings.qa_policy()
        return await self._stage(
            "fuzz",
            input.bundle_hash,
            lambda d, b: self._gate.fuzz(d, b, policy, input.bundle_hash, activity.heartbeat),
        )

    @activity.defn(name=names.ACTIVITY_RUN_STATIC)
    async def run_static(self, input: QAStageInput) -> QAStageOutcome:
        """Static analysis with bandit."""
        policy = input.policy or self._settings.qa_policy()
        return await self._stage(
            "static", input.bundle_hash, lambda d, b: self._gate.static(d, policy)
        )

    @activity.defn(name=names.ACTIVITY_RUN_DEPS)
    async def run_deps(self, input: QAStageInput) -> QAStageOutcome:
        """Known vulnerabilities in the installed dependencies."""
        return await self._stage("deps", input.bundle_hash, lambda d, b: self._gate.deps(b))

    async def _stage(
        self,
        name: str,
        bundle_hash: str,
        run: Callable[[Path, AppBundle], Awaitable[StageReport]],
    ) -> QAStageOutcome:
        started = time.monotonic()
        bundle_dir, bundle = await self._bundles.checkout(bundle_hash)
        try:
            async with keep_alive(f"qa {name}"):
                report = await run(bundle_dir, bundle)
        except EnvBuildError:
            raise  # infrastructure (the index is unreachable...): let Temporal retry
        digest = await self._artifacts.put(f"qa-{name}", report.model_dump_json().encode())
        return QAStageOutcome(
            stage=name,
            verdict=report.verdict,
            summary=report.reason,
            report_hash=digest,
            duration_s=round(time.monotonic() - started, 3),
        )


_STAGE_REPORT: TypeAdapter[StageReport] = TypeAdapter(StageReport)


def parse_stage_report(data: bytes) -> StageReport:
    """A stored stage report, whichever stage it is."""
    return _STAGE_REPORT.validate_json(data)


def assemble_report(
    bundle_hash: str,
    deployment_id: str | None,
    stages: list[StageReport],
    policy: QAPolicy,
    *,
    duration_s: float,
) -> QAGateReport:
    """One report from the stage reports; pass only if all five stages ran and passed."""
    present = {s.stage for s in stages}
    verdict = (
        "pass" if present == set(STAGES) and all(s.verdict == "pass" for s in stages) else "fail"
    )
    return QAGateReport(
        bundle_hash=bundle_hash,
        deployment_id=deployment_id,
        verdict=verdict,
        stages=sorted(stages, key=lambda s: STAGES.index(s.stage)),
        policy=policy,
        tool_versions=tool_versions(stages),
        duration_s=round(duration_s, 3),
    )


def tool_versions(stages: list[StageReport]) -> dict[str, str]:
    """The QA tools' versions, as installed in the bundle's environment and the worker."""
    versions: dict[str, str] = {}
    for stage in stages:
        if isinstance(stage, DependencyReport):
            wanted = {"pytest", "pytest-json-report", "mutmut", "hypothesis", "schemathesis"}
            versions.update({p.name: p.version for p in stage.packages if p.name.lower() in wanted})
        if isinstance(stage, StaticReport) and stage.bandit_version:
            versions["bandit"] = stage.bandit_version
    return dict(sorted(versions.items()))
