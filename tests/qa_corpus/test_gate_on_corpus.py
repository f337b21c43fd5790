"""The QA gate on the realistic corpus: the staged copy keeps every suite's meaning, and on the
tuning part every stage judges every bundle as the manifest says.

Only the tuning part is asserted here; the held-out part is measured by
``bench/qa_corpus.py`` and reported, never tuned on.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.qa.gate import STAGES, QAGate
from activities.qa.mutation_staging import stage_bundle
from runtime.envs import EnvBuilder
from schemas.settings import Settings
from store.bundles import bundle_hash, load_bundle_dir, write_bundle
from tests.qa_corpus.test_realistic_corpus import (
    BY_NAME,
    CORPUS,
    STABLE_SUITES,
    BundleEnvs,
    envs,
    pytest_args,
    run_in,
    tail,
)
from tests.snapshot import advisory_snapshot

__all__ = ["envs"]  # the module-scoped fixture, shared with the corpus's own tests

TUNING = [e.name for e in CORPUS if e.part == "tuning"]
# CI's time budget holds one tuning bundle per expected verdict (sound, and each stage
# a defect targets), the quickest of each; MB_QA_CORPUS_FULL=1 judges them all
# (bench/qa_corpus.py always does).
ONE_PER_TARGET = ["bill_splitter", "cart_cookie", "expenses", "name_badges", "rsvp", "team_picker"]
JUDGED = TUNING if os.environ.get("MB_QA_CORPUS_FULL") == "1" else ONE_PER_TARGET


def test_ci_judges_a_tuning_bundle_of_every_expected_verdict() -> None:
    tuning = {e.name: e.target for e in CORPUS if e.part == "tuning"}
    assert set(ONE_PER_TARGET) <= set(tuning)
    assert {tuning[name] for name in ONE_PER_TARGET} == set(tuning.values())


@pytest.mark.parametrize("name", STABLE_SUITES)
async def test_every_suite_passes_on_the_copy_staged_for_mutation(
    name: str, envs: BundleEnvs, tmp_path: Path
) -> None:
    """The transform moves handler bodies without changing what any suite sees."""
    entry = BY_NAME[name]
    layout = stage_bundle(entry.path, tmp_path / name)
    assert layout.moved, "every corpus app has decorated functions"
    (tmp_path / name / "pyproject.toml").unlink()  # mutmut's config, not the app's
    result = run_in(await envs.get(entry), tmp_path / name, *pytest_args())
    assert result.returncode == 0, tail(result)


@pytest.fixture(scope="module")
def gate_settings() -> Iterator[Settings]:
    root = Path(tempfile.mkdtemp(prefix="mb-corpus-gate-"))
    root.chmod(0o755)  # the sandbox user reads bundles and environments below it
    yield Settings(data_dir=root, advisory_db=advisory_snapshot())
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", JUDGED)
async def test_the_gate_judges_each_tuning_bundle_as_the_manifest_says(
    name: str, gate_settings: Settings
) -> None:
    entry = BY_NAME[name]
    bundle = load_bundle_dir(entry.path)
    digest = bundle_hash(bundle)
    checkout = write_bundle(bundle, gate_settings.data_path / "bundles" / digest)
    gate = QAGate(EnvBuilder(gate_settings.data_path / "envs"), gate_settings)

    report = await gate.run_all(checkout, bundle, digest, gate_settings.qa_policy())

    verdicts = {s.stage: s.verdict for s in report.stages}
    reasons = {s.stage: s.reason[:500] for s in report.stages}
    expected = {stage: "fail" if stage == entry.target else "pass" for stage in STAGES}
    if entry.target == "tests" and verdicts["mutation"] == "skipped":
        expected["mutation"] = "skipped"  # mutmut could not run the suite the tests stage failed
    assert verdicts == expected, reasons
    assert report.verdict == ("pass" if entry.target is None else "fail")
