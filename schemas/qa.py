"""QA gate inputs and reports: tests x3, mutation, fuzz, static analysis, dependencies.

Every stage returns a report with a ``stage`` discriminator, a ``verdict`` and
a human ``reason``; the gate combines them into one :class:`QAGateReport`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

StageVerdict = Literal["pass", "fail"]


class TestOutcome(StrEnum):
    """Outcome of one test in one run (pytest's call phase, or setup on error)."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    MISSING = "missing"  # the test did not run at all in this run


class TestRun(BaseModel):
    """One pytest run of a bundle's suite inside the sandbox."""

    __test__ = False

    index: int = Field(ge=1)
    order: Literal["fixed", "shuffled"]
    seed: int | None = Field(default=None, description="shuffle seed of this run")
    exit_code: int
    timed_out: bool = False
    duration_s: float
    outcomes: dict[str, TestOutcome] = Field(description="node id -> outcome")
    log_tail: str = Field(default="", description="last lines of output, for failures")
    hash_seed: int | None = Field(default=None, description="PYTHONHASHSEED of this run")
    random_seed: int | None = Field(default=None, description="the seed of `random` in this run")

    @property
    def counts(self) -> dict[str, int]:
        """Number of tests per outcome."""
        result: dict[str, int] = {}
        for outcome in self.outcomes.values():
            result[outcome.value] = result.get(outcome.value, 0) + 1
        return result


class FlakyTest(BaseModel):
    """A test whose outcome differed between runs."""

    nodeid: str
    outcomes: list[TestOutcome] = Field(
        description="outcome per run, in run order, then per rerun repetition"
    )
    sources: list[str] = Field(
        default=[], description="sources of nondeterminism the test was seen to touch"
    )


class Rerun(BaseModel):
    """An extra run of only the tests that touched a source of nondeterminism."""

    index: int = Field(ge=1)
    kind: Literal["repeated", "process"] = Field(
        description="repeated: each test up to N times in one process; process: once more in"
        " a new process with another PYTHONHASHSEED"
    )
    tests: int
    repetitions: int = Field(description="the most repetitions any test had")
    hash_seed: int
    random_seed: int
    exit_code: int
    timed_out: bool = False
    duration_s: float


class TestsReport(BaseModel):
    """The tests-x3 stage report: every run, and the tests that were not stable."""

    __test__ = False

    stage: Literal["tests"] = "tests"
    verdict: StageVerdict
    reason: str
    runs: list[TestRun]
    flaky: list[FlakyTest] = []
    failing: list[str] = Field(default=[], description="tests that failed in every run")
    touched: dict[str, list[str]] = Field(
        default={}, description="test -> the sources of nondeterminism it touched"
    )
    reruns: list[Rerun] = Field(default=[], description="extra runs of the tests that touched one")


GATE_STAGES = 5  # tests x3, mutation, fuzz, static, deps: run at once


class QAGateTicket(BaseModel):
    """Which QA gate a stage belongs to, for the worker's admission: the stages of one
    gate are admitted together, gates FIFO per owner and round-robin across owners."""

    app_id: str
    deployment_id: str
    owner_id: str
    attempt: int = Field(default=1, ge=1, description="the repair attempt the gate judges")
    stages: int = Field(
        default=GATE_STAGES, ge=1, le=10, description="stages the gate runs at once"
    )


class QueuedGate(BaseModel):
    """A waiting gate and its place in the admission order (1: admitted next)."""

    app_id: str
    deployment_id: str
    owner_id: str
    position: int


class RunTestsInput(BaseModel):
    """Input of the tests-x3 activity."""

    bundle_hash: str
    gate: QAGateTicket | None = Field(default=None, description="None: a stage of its own")
    runs: int | None = Field(default=None, ge=1, le=10, description="None: the worker's setting")
    timeout_s: float | None = Field(
        default=None, gt=0, description="per run; None: the worker's setting"
    )


_SEVERITY_RANK: dict[str, int] = {"LOW": 0, "MEDIUM": 1, "HIGH": 2}


class QAPolicy(BaseModel):
    """The gate's thresholds: the platform's in Settings, overridable per deployment.

    A deployment may only make the gate stricter than its floor (the platform's
    policy, or an operator's override for the app): ``weaker_than`` names what a
    request loosens, ``at_least`` raises a policy to a floor. Stricter means a
    higher mutation threshold, mutable fraction and number of fuzz examples, and a
    lower bandit severity. The timeouts do not weaken the gate (a stage that runs
    out of time fails), so within their bounds a deployment may choose them.
    """

    mutation_threshold: float = Field(
        default=0.70, ge=0, le=1, description="minimum killed / (killed + survived)"
    )
    min_mutable_fraction: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="minimum share of the code's logic lines that mutmut could mutate",
    )
    mutation_timeout_s: float = Field(
        default=600.0, gt=0, le=3000, description="must stay under the activity's 60 min"
    )
    fuzz_examples: int = Field(default=50, ge=1, le=10_000, description="per target")
    fuzz_timeout_s: float = Field(
        default=300.0, gt=0, le=1500, description="must stay under the activity's 30 min"
    )
    bandit_fail_severity: Literal["LOW", "MEDIUM", "HIGH"] = Field(
        default="HIGH", description="fail on findings of this severity or above, any confidence"
    )
    bandit_fail_severity_high_confidence: Literal["LOW", "MEDIUM", "HIGH"] = Field(
        default="MEDIUM",
        description="...and on findings of this severity or above with HIGH confidence",
    )

    def weaker_than(self, floor: QAPolicy) -> list[str]:
        """Each knob this policy sets less strictly than ``floor``, in words (empty: none)."""
        weaker = [
            f"{name} {mine} is below the minimum {least}"
            for name, mine, least in (
                ("mutation_threshold", self.mutation_threshold, floor.mutation_threshold),
                ("min_mutable_fraction", self.min_mutable_fraction, floor.min_mutable_fraction),
                ("fuzz_examples", self.fuzz_examples, floor.fuzz_examples),
            )
            if mine < least
        ]
        weaker += [
            f"{name} {mine} is laxer than the minimum {least}"
            for name, mine, least in (
                ("bandit_fail_severity", self.bandit_fail_severity, floor.bandit_fail_severity),
                (
                    "bandit_fail_severity_high_confidence",
                    self.bandit_fail_severity_high_confidence,
                    floor.bandit_fail_severity_high_confidence,
                ),
            )
            if _SEVERITY_RANK[mine] > _SEVERITY_RANK[least]
        ]
        return weaker

    def at_least(self, floor: QAPolicy) -> QAPolicy:
        """This policy with every knob weaker than ``floor`` raised to it."""
        return self.model_copy(
            update={
                "mutation_threshold": max(self.mutation_threshold, floor.mutation_threshold),
                "min_mutable_fraction": max(self.min_mutable_fraction, floor.min_mutable_fraction),
                "fuzz_examples": max(self.fuzz_examples, floor.fuzz_examples),
                "bandit_fail_severity": min(
                    self.bandit_fail_severity,
                    floor.bandit_fail_severity,
                    key=_SEVERITY_RANK.__getitem__,
                ),
                "bandit_fail_severity_high_confidence": min(
                    self.bandit_fail_severity_high_confidence,
                    floor.bandit_fail_severity_high_confidence,
                    key=_SEVERITY_RANK.__getitem__,
                ),
            }
        )


def effective_policy(requested: QAPolicy | None, floor: QAPolicy) -> QAPolicy:
    """What the gate applies: the floor, or the request made no weaker than it."""
    return floor if requested is None else requested.at_least(floor)


# --- mutation ---------------------------------------------------------------------------


class Mutant(BaseModel):
    """One mutant mutmut generated, and what the tests made of it."""

    name: str
    status: Literal[
        "killed",
        "survived",
        "no_tests",
        "timeout",
        "suspicious",
        "skipped",
        "not_checked",
        "equivalent",
    ]
    diff: str | None = Field(
        default=None,
        description="unified diff of the user's function (its file and line numbers)",
    )
    function: str | None = Field(default=None, description="the mutated function, as written")
    file: str | None = Field(default=None, description="the user's file")
    line: int | None = Field(default=None, description="the user's first changed line")
    reused: bool = Field(
        default=False, description="the outcome is an earlier run's: nothing it depends on changed"
    )
    equivalent: str | None = Field(
        default=None, description="why no test could kill it (status equivalent): the rule"
    )


class MutationReport(BaseModel):
    """The mutation stage: score, how much of the code was mutable, every survivor."""

    stage: Literal["mutation"] = "mutation"
    verdict: StageVerdict | Literal["skipped"] = Field(
        description="skipped: not judged, because the tests stage failed and mutmut could not "
        "run the same tests (set when the gate's report is assembled)"
    )
    reason: str
    score: float | None = Field(description="killed / (killed + survived); None if no mutants")
    threshold: float
    killed: int = 0
    survived: int = 0
    no_tests: int = 0
    timeouts: int = 0
    other: int = 0
    mutable_lines: int = Field(default=0, description="logic lines in functions mutmut mutates")
    logic_lines: int = Field(default=0, description="all logic lines of the app's code")
    mutable_fraction: float | None = None
    min_mutable_fraction: float
    survivors: list[Mutant] = []
    timed_out: bool = False
    duration_s: float = 0.0
    log_tail: str = ""
    baseline_failed: bool = Field(
        default=False,
        description="mutmut stopped before any mutant: the suite fails on the unmutated code",
    )
    equivalent: int = Field(
        default=0, description="survivors no test could kill (see each one's rule): not scored"
    )
    reused: int = Field(
        default=0, description="mutants whose outcome was reused from an earlier run"
    )
    reused_functions: list[str] = Field(
        default=[], description="functions whose mutants' outcomes were all reused"
    )
    moved_functions: list[str] = Field(
        default=[],
        description="decorated functions whose bodies were moved into plain functions to mutate",
    )
    unmoved_functions: dict[str, str] = Field(
        default={}, description="decorated functions left unmutated, and why"
    )


# --- fuzz -------------------------------------------------------------------------------


class FuzzFailure(BaseModel):
    """A minimal input that broke the app."""

    kind: Literal["server_error", "crash", "timeout", "schema_violation", "exception"]
    target: str = Field(description="'GET /api/items' or 'main.compute_total'")
    example: str = Field(description="the minimal failing request or call, reproducible")
    detail: str


class FuzzReport(BaseModel):
    """The fuzz stage: hypothesis over plain functions, schemathesis over the API."""

    stage: Literal["fuzz"] = "fuzz"
    verdict: StageVerdict
    reason: str
    seed: int
    examples_per_target: int
    functions: list[str] = Field(default=[], description="plain functions fuzzed")
    skipped_functions: dict[str, str] = Field(default={}, description="name -> why not fuzzed")
    operations: list[str] = Field(default=[], description="API operations fuzzed")
    examples_run: int = 0
    failures: list[FuzzFailure] = []
    timed_out: bool = False
    duration_s: float = 0.0
    log_tail: str = ""


# --- static analysis --------------------------------------------------------------------


class StaticFinding(BaseModel):
    """One bandit finding."""

    file: str
    line: int
    test_id: str
    test_name: str
    severity: Literal["LOW", "MEDIUM", "HIGH", "UNDEFINED"]
    confidence: Literal["LOW", "MEDIUM", "HIGH", "UNDEFINED"]
    text: str
    gating: bool = Field(description="whether this finding fails the gate")


class StaticReport(BaseModel):
    """The static-analysis stage (bandit)."""

    stage: Literal["static"] = "static"
    verdict: StageVerdict
    reason: str
    files_scanned: int
    findings: list[StaticFinding] = []
    policy: str = Field(description="which findings fail the gate, in words")
    bandit_version: str = ""
    duration_s: float = 0.0


# --- dependencies -----------------------------------------------------------------------


class AllowedAdvisory(BaseModel):
    """An accepted advisory, until a date (then it gates again)."""

    id: str = Field(description="advisory id or alias, e.g. PYSEC-2018-28 or CVE-2018-18074")
    package: str | None = None
    expires: date
    reason: str = ""


class DependencyFinding(BaseModel):
    """An advisory affecting an installed version."""

    package: str
    installed_version: str
    advisory_id: str
    aliases: list[str] = []
    summary: str = ""
    fixed_versions: list[str] = []
    source: str = Field(description="'osv' or 'safety'")
    allowed_until: date | None = Field(default=None, description="set when allow-listed")


class InstalledPackage(BaseModel):
    """A distribution installed in the bundle's virtualenv."""

    name: str
    version: str


class DependencyReport(BaseModel):
    """The dependency-scanning stage."""

    stage: Literal["deps"] = "deps"
    verdict: StageVerdict
    reason: str
    packages: list[InstalledPackage] = []
    findings: list[DependencyFinding] = []
    unchecked: dict[str, str] = Field(default={}, description="package -> why it was not checked")
    database: str = Field(description="which advisory data was used")
    advisories_loaded: int = 0
    sources: list[str] = []
    duration_s: float = 0.0


StageReport = Annotated[
    TestsReport | MutationReport | FuzzReport | StaticReport | DependencyReport,
    Field(discriminator="stage"),
]


class QAStageInput(BaseModel):
    """Input of each QA stage activity (the bundle and the thresholds that apply)."""

    bundle_hash: str
    deployment_id: str | None = None
    policy: QAPolicy | None = Field(default=None, description="None: the app's floor")
    app_id: str | None = Field(
        default=None, description="whose floor applies (None: the platform's)"
    )
    gate: QAGateTicket | None = Field(default=None, description="None: a stage of its own")


class QAStageOutcome(BaseModel):
    """What a QA activity returns to the workflow: the verdict and where the report is.

    The full report lives in the artifact store; only its hash travels through
    workflow history.
    """

    stage: str
    verdict: StageVerdict
    summary: str
    report_hash: str
    duration_s: float = 0.0


class RecordQAReportInput(BaseModel):
    """Assemble, persist and (on pass) sign the gate's report from the stage outcomes."""

    bundle_hash: str
    deployment_id: str
    app_id: str
    owner_id: str
    stages: list[QAStageOutcome]
    policy: QAPolicy | None = None
    attempt: int = Field(
        default=1, ge=1, description="which bundle of the deployment (from 2: repairs)"
    )


class QAGateOutcome(BaseModel):
    """The gate's verdict as the workflow sees it (the report itself is stored)."""

    verdict: StageVerdict
    summary: str
    report_hash: str
    evidence_id: str | None = Field(default=None, description="signed evidence, when passed")
    stages: list[QAStageOutcome] = []


class QAGateReport(BaseModel):
    """The whole gate for one bundle: one entry per stage (``mb qa --json``, the API)."""

    bundle_hash: str
    deployment_id: str | None = None
    verdict: StageVerdict
    stages: list[StageReport]
    policy: QAPolicy = QAPolicy()
    tool_versions: dict[str, str] = {}
    egress: list[str] = Field(
        default=[],
        description="host:port pairs the bundle declares (reached through the egress proxy "
        "once an operator approves them for the app)",
    )
    created_at: datetime | None = None
    duration_s: float = 0.0

    def stage(self, name: str) -> StageReport | None:
        """The report of one stage, if it ran."""
        return next((s for s in self.stages if s.stage == name), None)
