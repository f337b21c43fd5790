"""QA gate inputs and reports: tests x3 (and, later, mutation/fuzz/static/deps)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

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
    outcomes: list[TestOutcome] = Field(description="outcome per run, in run order")


class TestsReport(BaseModel):
    """The tests-x3 stage report: every run, and the tests that were not stable."""

    __test__ = False

    stage: Literal["tests"] = "tests"
    verdict: StageVerdict
    reason: str
    runs: list[TestRun]
    flaky: list[FlakyTest] = []
    failing: list[str] = Field(default=[], description="tests that failed in every run")


class RunTestsInput(BaseModel):
    """Input of the tests-x3 activity."""

    bundle_hash: str
    runs: int | None = Field(default=None, ge=1, le=10, description="None: the worker's setting")
    timeout_s: float | None = Field(
        default=None, gt=0, description="per run; None: the worker's setting"
    )


class QAStageOutcome(BaseModel):
    """What a QA activity returns to the workflow: the verdict and where the report is.

    The full report lives in the artifact store; only its hash travels through
    workflow history.
    """

    stage: str
    verdict: StageVerdict
    summary: str
    report_hash: str


class QAGateReport(BaseModel):
    """The whole gate for one bundle (``mb qa --json``): one entry per stage."""

    bundle_hash: str
    verdict: StageVerdict
    stages: list[TestsReport]
