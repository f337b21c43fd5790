"""The whole QA gate on the corpus: each defective bundle fails exactly its stage."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.qa.gate import STAGES, QAGate
from runtime.envs import EnvBuilder
from schemas.settings import Settings
from store.bundles import bundle_hash, make_bundle, write_bundle
from tests.qa_corpus.corpus import CORPUS
from tests.snapshot import advisory_snapshot


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    snapshot = advisory_snapshot()
    root = Path(tempfile.mkdtemp(prefix="mb-corpus-"))
    root.chmod(0o755)  # the sandbox user reads bundles and environments below it
    yield Settings(data_dir=root, advisory_db=snapshot, qa_fuzz_examples=25)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", list(CORPUS))
async def test_each_bundle_fails_exactly_the_stage_it_targets(
    name: str, settings: Settings
) -> None:
    files, target = CORPUS[name]
    bundle = make_bundle(files)
    digest = bundle_hash(bundle)
    checkout = write_bundle(bundle, settings.data_path / "bundles" / digest)
    gate = QAGate(EnvBuilder(settings.data_path / "envs"), settings)

    report = await gate.run_all(checkout, bundle, digest, settings.qa_policy())

    assert [s.stage for s in report.stages] == list(STAGES)
    reasons = {s.stage: s.reason for s in report.stages}
    failed = {s.stage for s in report.stages if s.verdict == "fail"}
    assert failed == ({target} if target else set()), reasons
    assert report.verdict == ("fail" if target else "pass")
