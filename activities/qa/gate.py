"""The QA gate's logic: the five stages run on a checked-out bundle, without Temporal
(``mb qa DIR`` and the stage activities both use it), and one report assembled from
the stage reports."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from pydantic import TypeAdapter

from activities.qa.deps import AllowListError, load_allowlist, scan_dependencies
from activities.qa.fuzz import run_fuzz
from activities.qa.mutation import run_mutation
from activities.qa.mutation_reuse import ReuseCache
from activities.qa.static import scan_static
from activities.qa.test_runs import run_seed, run_tests_repeatedly
from activities.qa.workspace import SandboxUser
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder, RequirementsError
from runtime.limits import ResourceLimits
from runtime.uids import UidPool
from schemas.bundle import AppBundle
from schemas.qa import (
    DependencyReport,
    FuzzReport,
    MutationReport,
    QAGateReport,
    QAPolicy,
    StageReport,
    StaticReport,
    TestsReport,
)
from schemas.settings import Settings

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

    @property
    def reuse(self) -> ReuseCache | None:
        """Where mutation outcomes are kept for later runs (None: switched off)."""
        s = self._settings
        return ReuseCache(s.data_path / "qa" / "mutation-reuse") if s.qa_mutation_reuse else None

    async def mutation(
        self, bundle_dir: Path, bundle: AppBundle, policy: QAPolicy, heartbeat: Heartbeat | None
    ) -> MutationReport:
        """mutmut in the sandbox, with all the cores this worker is given, reusing the
        outcomes of earlier runs where nothing they depend on changed."""
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
            reuse=self.reuse,
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
            bundle_hash,
            None,
            stages,
            policy,
            duration_s=time.monotonic() - started,
            egress=bundle.manifest.egress,
        )


_STAGE_REPORT: TypeAdapter[StageReport] = TypeAdapter(StageReport)


def parse_stage_report(data: bytes) -> StageReport:
    """A stored stage report, whichever stage it is."""
    return _STAGE_REPORT.validate_json(data)


def not_judged_after_tests(stages: list[StageReport]) -> list[StageReport]:
    """The stage reports, the mutation stage marked not judged (``skipped``) when the tests
    stage failed and mutmut could not run the same tests on the unmutated code.

    The tests stage judges the suite itself (failing, flaky, order-dependent tests);
    mutmut needs that suite to pass before it can test any mutant, so the same defect
    would otherwise fail a second stage. The gate still fails (on the tests stage);
    a mutation stage that did test mutants keeps its verdict, weak tests included.
    """
    tests_failed = any(isinstance(s, TestsReport) and s.verdict == "fail" for s in stages)
    if not tests_failed:
        return stages
    return [
        s.model_copy(
            update={
                "verdict": "skipped",
                "reason": "not judged: the tests stage failed, and mutmut needs the same tests "
                f"to pass on the unmutated code ({s.reason})",
            }
        )
        if isinstance(s, MutationReport) and s.verdict == "fail" and s.baseline_failed
        else s
        for s in stages
    ]


def assemble_report(
    bundle_hash: str,
    deployment_id: str | None,
    stages: list[StageReport],
    policy: QAPolicy,
    *,
    duration_s: float,
    egress: tuple[str, ...] = (),
) -> QAGateReport:
    """One report from the stage reports; pass only if all five stages ran and passed.

    A mutation stage whose failure is the tests stage's is reported as not judged
    (:func:`not_judged_after_tests`).
    """
    stages = not_judged_after_tests(stages)
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
        egress=list(egress),
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
