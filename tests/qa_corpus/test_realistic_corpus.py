"""The realistic corpus itself is well formed, and each bundle is what its manifest says.

These tests check the corpus, not the QA gate: every bundle loads, the manifest is
complete and balanced, the bundles' own suites pass with plain pytest (outside the
sandbox, in a scratch copy, with the bundle's own environment), and each defect is
real where that is cheap to show: the order-dependent test fails alone, the random one
fails for some seeds only, the weak suite lets a behaviour-changing mutant through, the
crashing request answers 500, bandit reports the finding, the snapshot holds the
advisory of the pin. ``bench/qa_corpus.py`` measures the gate on the corpus.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from activities.qa.advisories import load_advisories
from activities.qa.static import scan_static
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder, parse_requirements
from schemas.settings import Settings
from store.bundles import load_bundle_dir
from tests.qa_corpus.realistic import APPS, STAGES, CorpusEntry, load_corpus
from tests.snapshot import advisory_snapshot

CORPUS = load_corpus()
BY_NAME = {entry.name: entry for entry in CORPUS}
SOUND = [e.name for e in CORPUS if e.target is None]
DEFECTIVE = [e.name for e in CORPUS if e.target is not None]
# Suites that must pass as they are: all but the one whose defect is a randomly failing test.
STABLE_SUITES = [e.name for e in CORPUS if e.flaky_kind != "random"]
RUN_TIMEOUT_S = 240

# Run inside the bundle's environment: call one test function with `random` seeded 0..N-1
# and print how many seeds made it fail.
RANDOM_PROBE = """
import importlib.util, inspect, random, sys
path, name, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, ".")
spec = importlib.util.spec_from_file_location("probe_module", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
test = getattr(module, name)
assert not inspect.signature(test).parameters, "only fixture-free tests can be probed"
failed = 0
for seed in range(seeds):
    random.seed(seed)
    try:
        test()
    except AssertionError:
        failed += 1
print(failed)
"""

# Run inside the bundle's environment: send one request to the app in-process, print the status.
CRASH_PROBE = """
import importlib, json, sys
from fastapi.testclient import TestClient
module_name, attribute = sys.argv[1].split(":")
request = json.loads(sys.argv[2])
app = getattr(importlib.import_module(module_name), attribute)
client = TestClient(app, raise_server_exceptions=False)
response = client.request(
    request["method"], request["path"],
    json=request.get("json"), data=request.get("data"), params=request.get("params"),
)
print(response.status_code)
"""


class BundleEnvs:
    """The bundles' virtualenvs, built once per requirements file for this module."""

    def __init__(self, root: Path) -> None:
        self._builder = EnvBuilder(root)
        self._envs: dict[str, PythonEnv] = {}

    async def get(self, entry: CorpusEntry) -> PythonEnv:
        requirements = (entry.path / "requirements.txt").read_text(encoding="utf-8")
        if requirements not in self._envs:
            self._envs[requirements] = await self._builder.ensure(requirements)
        return self._envs[requirements]


@pytest.fixture(scope="module")
async def envs() -> AsyncIterator[BundleEnvs]:
    root = Path(tempfile.mkdtemp(prefix="mb-realistic-envs-"))
    yield BundleEnvs(root)
    shutil.rmtree(root, ignore_errors=True)


def scratch_copy(entry: CorpusEntry, tmp_path: Path) -> Path:
    """The bundle in a fresh directory, away from this repository's conftest files."""
    copy = tmp_path / entry.name
    shutil.copytree(entry.path, copy)
    return copy


def run_in(env: PythonEnv, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` of the bundle's environment in ``cwd``, with a data dir of its own."""
    data = cwd.parent / f"{cwd.name}-data"
    data.mkdir(exist_ok=True)
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd.parent),
        "MICROAPP_DATA_DIR": str(data),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [str(env.python), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def pytest_args(*extra: str) -> tuple[str, ...]:
    return ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *extra)


def tail(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-30:])


# --- the manifest --------------------------------------------------------------------


def test_the_manifest_lists_every_bundle_directory() -> None:
    directories = {p.name for p in APPS.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert directories == set(BY_NAME)
    assert len(BY_NAME) == len(CORPUS), "a bundle is listed twice"


def test_the_corpus_is_big_enough_and_balanced() -> None:
    assert len(CORPUS) >= 24
    assert len(SOUND) >= 12
    assert len(DEFECTIVE) >= 12
    per_stage = Counter(e.target for e in CORPUS if e.target is not None)
    assert set(per_stage) == set(STAGES)
    assert min(per_stage.values()) >= 2, per_stage


def test_a_third_of_each_class_is_held_out_across_the_stages() -> None:
    held_out_sound = [n for n in SOUND if BY_NAME[n].part == "held-out"]
    held_out_defective = [n for n in DEFECTIVE if BY_NAME[n].part == "held-out"]
    assert len(held_out_sound) >= len(SOUND) // 3
    assert len(held_out_defective) >= len(DEFECTIVE) // 3
    for stage in STAGES:
        parts = {e.part for e in CORPUS if e.target == stage}
        assert parts == {"tuning", "held-out"}, f"{stage}: {parts}"


@pytest.mark.parametrize("name", list(BY_NAME))
def test_every_bundle_loads_with_the_bundle_loader(name: str) -> None:
    bundle = load_bundle_dir(BY_NAME[name].path)
    assert bundle.manifest.name != "app", "microapp.toml names the app"
    assert bundle.file("requirements.txt") is not None


# --- the bundles' own tests -------------------------------------------------------------


@pytest.mark.parametrize("name", STABLE_SUITES)
async def test_the_bundles_own_tests_pass_with_plain_pytest(
    name: str, envs: BundleEnvs, tmp_path: Path
) -> None:
    entry = BY_NAME[name]
    env = await envs.get(entry)
    result = run_in(env, scratch_copy(entry, tmp_path), *pytest_args())
    assert result.returncode == 0, tail(result)
    assert " passed" in result.stdout


# --- each defect is real ------------------------------------------------------------------


@pytest.mark.parametrize("name", [e.name for e in CORPUS if e.flaky_kind == "order"])
async def test_an_order_dependent_test_fails_on_its_own(
    name: str, envs: BundleEnvs, tmp_path: Path
) -> None:
    entry = BY_NAME[name]
    assert entry.flaky_test is not None
    env = await envs.get(entry)
    result = run_in(env, scratch_copy(entry, tmp_path), *pytest_args(entry.flaky_test))
    assert result.returncode == 1, tail(result)
    assert "1 failed" in result.stdout


@pytest.mark.parametrize("name", [e.name for e in CORPUS if e.flaky_kind == "random"])
async def test_a_random_test_fails_for_some_seeds_only(
    name: str, envs: BundleEnvs, tmp_path: Path
) -> None:
    entry = BY_NAME[name]
    assert entry.flaky_test is not None
    path, function = entry.flaky_test.split("::")
    env = await envs.get(entry)
    seeds = 60
    copy = scratch_copy(entry, tmp_path)
    result = run_in(env, copy, "-c", RANDOM_PROBE, path, function, str(seeds))
    assert result.returncode == 0, tail(result)
    failed = int(result.stdout.split()[-1])
    assert 0 < failed < seeds


@pytest.mark.parametrize("name", [e.name for e in CORPUS if e.surviving_mutant is not None])
async def test_a_weak_suite_lets_a_mutant_through(
    name: str, envs: BundleEnvs, tmp_path: Path
) -> None:
    entry = BY_NAME[name]
    mutant = entry.surviving_mutant
    assert mutant is not None
    copy = scratch_copy(entry, tmp_path)
    source = (copy / mutant.file).read_text(encoding="utf-8")
    assert source.count(mutant.old) == 1, f"{mutant.old!r} must occur once in {mutant.file}"
    (copy / mutant.file).write_text(source.replace(mutant.old, mutant.new), encoding="utf-8")
    result = run_in(await envs.get(entry), copy, *pytest_args())
    assert result.returncode == 0, tail(result)


@pytest.mark.parametrize("name", [e.name for e in CORPUS if e.crash is not None])
async def test_a_valid_request_crashes_the_app(name: str, envs: BundleEnvs, tmp_path: Path) -> None:
    entry = BY_NAME[name]
    assert entry.crash is not None
    request = entry.crash.model_dump(by_alias=True, exclude_none=True)
    entrypoint = load_bundle_dir(entry.path).manifest.entrypoint
    env = await envs.get(entry)
    copy = scratch_copy(entry, tmp_path)
    result = run_in(env, copy, "-c", CRASH_PROBE, entrypoint, json.dumps(request))
    assert result.returncode == 0, tail(result)
    assert result.stdout.split()[-1] == "500", tail(result)


@pytest.mark.parametrize("name", [e.name for e in CORPUS if e.bandit is not None])
def test_bandit_reports_the_finding(name: str) -> None:
    entry = BY_NAME[name]
    report = scan_static(entry.path, policy=Settings().qa_policy())
    found = [f for f in report.findings if f.test_id == entry.bandit]
    assert found, report.reason
    assert {f.file for f in found} == {entry.bandit_file}
    assert all(f.severity in ("MEDIUM", "HIGH") and f.confidence == "HIGH" for f in found)


@pytest.mark.parametrize("name", [e.name for e in CORPUS if e.pin is not None])
def test_the_pin_has_the_advisory_in_the_snapshot(name: str) -> None:
    entry = BY_NAME[name]
    assert entry.pin is not None
    pins = parse_requirements((entry.path / "requirements.txt").read_text(encoding="utf-8"))
    assert entry.pin in pins
    package, version = entry.pin.split("==")
    matches = load_advisories(advisory_snapshot()).match(package, version)
    assert entry.advisory in {m.advisory.id for m in matches}


def test_no_other_exact_pin_has_an_advisory() -> None:
    database = load_advisories(advisory_snapshot())
    for entry in CORPUS:
        requirements = (entry.path / "requirements.txt").read_text(encoding="utf-8")
        for line in parse_requirements(requirements):
            requirement = Requirement(line)
            pinned = [s.version for s in requirement.specifier if s.operator == "=="]
            if not pinned or line == entry.pin:
                continue
            matches = database.match(requirement.name, pinned[0])
            assert not matches, (entry.name, line, [m.advisory.id for m in matches])
