"""Flaky tests caught with a known probability: the tracer finds the tests that touch a
source of nondeterminism, and only those are observed again until the targets are met."""

from __future__ import annotations

import json
import py_compile
import random
import subprocess
import sys
from pathlib import Path

import pytest

from activities.qa import pytest_nondeterminism
from activities.qa.flaky_detection import (
    OBSERVATIONS,
    TARGETS,
    catch_probability,
    observations_needed,
)
from activities.qa.pytest_nondeterminism import repetition_seed
from activities.qa.test_runs import run_seed, run_tests_repeatedly
from runtime.base import PythonEnv
from schemas.qa import TestOutcome, TestsReport
from store.bundles import make_bundle, write_bundle
from tests.runtime.support import TEST_UIDS

PLUGIN_DIR = Path(pytest_nondeterminism.__file__).parent

# --- the detector's power ------------------------------------------------------------


def test_the_observations_meet_every_target_with_margin_and_no_fewer_would() -> None:
    assert OBSERVATIONS == observations_needed(TARGETS) == 29
    assert observations_needed(TARGETS, margin=1.0) == 22  # the bare targets
    assert catch_probability(1 / 2) >= 0.995 and catch_probability(1 / 10) >= 0.95
    assert catch_probability(1 / 10, OBSERVATIONS - 1) < 0.95
    assert catch_probability(1 / 2, 3) == 0.875  # the three required runs alone


# --- the tracer, in a plain pytest process ---------------------------------------------

TRACED_APP = """
import hashlib
import random
import time
import uuid


def tags(words):
    return ",".join(set(words))


def sorted_tags(words):
    return ",".join(sorted(set(words)))


def all_short(words):
    return all(len(w) < 9 for w in set(words)) and {w.upper() for w in set(words)} != set()


def stamp():
    return str(uuid.uuid4())


def shard(name, n):
    return hash(name) % n
"""

TRACED_TESTS = """
import os
import random
import threading
import time

from app import all_short, shard, sorted_tags, stamp, tags


def test_plain():
    assert 1 + 1 == 2


def test_global_random():
    assert random.random() < 2


def test_seeded_random_instance_is_reproducible():
    rng = random.Random(42)
    assert rng.randint(0, 10) == random.Random(42).randint(0, 10)


def test_unseeded_random_instance():
    assert random.Random().random() < 2


def test_uuid():
    assert len(stamp()) == 36


def test_clock():
    assert time.time() > 0


def test_set_order():
    assert tags(["a"]) == "a"


def test_sorted_set_is_not_order_dependent():
    assert sorted_tags(["b", "a"]) == "a,b"


def test_a_set_fed_to_all_is_not_order_dependent():
    assert all_short(["a", "b"])


def test_hash():
    assert 0 <= shard("x", 4) < 4


def test_threads():
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()


def test_writes_outside_tmp():
    with open(os.environ["OUTSIDE"], "w") as handle:
        handle.write("state")


def test_tmp_path_is_fine(tmp_path):
    (tmp_path / "x").write_text("y")
"""


def _run_plugin(bundle: Path, *args: str, outside: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-p",
            "pytest_nondeterminism",
            *args,
        ],
        cwd=bundle,
        env={"PYTHONPATH": f"{PLUGIN_DIR}:{bundle}", "OUTSIDE": str(outside), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def traced_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    (bundle / "tests").mkdir(parents=True)
    (bundle / "app.py").write_text(TRACED_APP)
    (bundle / "tests" / "test_traced.py").write_text(TRACED_TESTS)
    return bundle


def test_the_tracer_names_each_source_a_test_touches_and_nothing_else(
    traced_bundle: Path,
) -> None:
    out = traced_bundle.parent / "touched.json"
    outside = Path("/var/tmp") / f"mb-nd-{traced_bundle.parent.name}.txt"  # not under /tmp
    try:
        done = _run_plugin(traced_bundle, f"--mb-trace-out={out}", outside=outside)
    finally:
        outside.unlink(missing_ok=True)
    assert done.returncode == 0, done.stdout + done.stderr
    touched = json.loads(out.read_text())
    test = "tests/test_traced.py::"
    assert {k.removeprefix(test): v for k, v in touched.items()} == {
        "test_global_random": ["random"],
        "test_unseeded_random_instance": ["random"],
        "test_uuid": ["os.urandom", "uuid"],
        "test_clock": ["clock"],
        "test_set_order": ["set order"],
        "test_hash": ["hash"],
        "test_threads": ["threads"],
        "test_writes_outside_tmp": ["file system"],
    }


WEB_APP = """
import random
import threading
from dataclasses import dataclass, field
from datetime import date, datetime as dt

from fastapi import FastAPI

app = FastAPI()


@dataclass
class Entry:
    created: dt = field(default_factory=dt.now)


def stamped():
    \"\"\"When it was made.\"\"\"
    return dt.now().isoformat()


@app.get("/plain")
def plain():
    return {"ok": True}


@app.get("/stamp")
def stamp():
    return {"at": stamped()}


@app.get("/today")
async def today():
    return {"day": date.today().isoformat()}


@app.get("/entry")
def entry():
    return {"at": Entry().created.isoformat()}


@app.get("/tags")
def tags(words: str):
    return {"tags": ",".join(set(words.split()))}


def shout(words):
    \"\"\"Upper-cased, in the order the set gives.\"\"\"
    seen = set(words)
    for word in seen:
        raise ValueError(word.upper())
"""

WEB_CONFTEST = """
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from app import app


@pytest.fixture
def client():
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def deadline():
    return datetime.now()
"""

WEB_TESTS = """
import datetime
import os
import random
import secrets
import sqlite3
import threading
from pathlib import Path

from app import shout

SESSION = secrets.token_hex(4)


def test_a_request_that_touches_nothing(client):
    assert client.get("/plain").json() == {"ok": True}


def test_a_handler_reading_the_clock(client):
    assert client.get("/stamp").status_code == 200


def test_an_async_handler_reading_the_date(client):
    assert client.get("/today").status_code == 200


def test_a_default_factory_reading_the_clock(client):
    assert client.get("/entry").status_code == 200


def test_a_handler_consuming_a_set_in_order(client):
    assert client.get("/tags", params={"words": "a"}).json() == {"tags": "a"}


def test_a_fixture_of_the_conftest_reading_the_clock(deadline):
    assert deadline.year > 2000


def _label():
    return str(datetime.datetime.now())


def test_a_helper_of_the_module_reading_the_clock():
    assert _label()


def test_a_set_consumed_in_order_by_the_test():
    assert [x for x in {"only"}] == ["only"]


class TestGrouped:
    def _first(self, items):
        return list(set(items))[0]

    def test_a_method_helper_consuming_a_set_in_order(self):
        assert self._first(["x"]) == "x"


def test_a_thread_drawing_random():
    worker = threading.Thread(target=lambda: random.random())
    worker.start()
    worker.join()


def test_waiting_with_a_timeout():  # threading holds its own reference to the clock
    condition = threading.Condition()
    with condition:
        assert not condition.wait_for(lambda: False, timeout=0.001)


def test_a_token():
    assert secrets.token_hex(4) != SESSION


def test_a_database_file_outside_tmp():
    sqlite3.connect(os.environ["OUTSIDE"] + ".db").close()


def test_a_database_in_memory():
    sqlite3.connect(":memory:").close()


def test_a_directory_made_and_removed_outside_tmp():
    made = Path(os.environ["OUTSIDE"] + ".d")
    made.mkdir()
    made.rmdir()


def test_docstrings_stay_first():
    assert shout.__doc__ == "Upper-cased, in the order the set gives."


def test_assertions_are_still_explained():
    assert sum([1, 1]) == 3


def test_tracebacks_name_the_app_lines():
    shout(["quiet"])
"""


def test_the_tracer_follows_the_app_through_its_web_framework_not_the_framework(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "tests").mkdir(parents=True)
    (bundle / "app.py").write_text(WEB_APP)
    (bundle / "tests" / "conftest.py").write_text(WEB_CONFTEST)
    (bundle / "tests" / "test_web.py").write_text(WEB_TESTS)
    py_compile.compile(str(bundle / "app.py"), doraise=True)  # a stale cache is not used
    cached = sorted((bundle / "__pycache__").iterdir())
    out = tmp_path / "touched.json"
    outside = Path("/var/tmp") / f"mb-nd-{tmp_path.name}"  # not under /tmp
    try:
        done = _run_plugin(bundle, f"--mb-trace-out={out}", outside=outside)
    finally:
        outside.with_name(f"{outside.name}.db").unlink(missing_ok=True)
    assert done.returncode == 1, done.stdout + done.stderr
    touched = json.loads(out.read_text())
    test = "tests/test_web.py::"
    assert {k.removeprefix(test): v for k, v in touched.items()} == {
        "test_a_handler_reading_the_clock": ["clock"],
        "test_an_async_handler_reading_the_date": ["clock"],
        "test_a_default_factory_reading_the_clock": ["clock"],
        "test_a_handler_consuming_a_set_in_order": ["set order"],
        "test_a_fixture_of_the_conftest_reading_the_clock": ["clock"],
        "test_a_helper_of_the_module_reading_the_clock": ["clock"],
        "test_a_set_consumed_in_order_by_the_test": ["set order"],
        "TestGrouped::test_a_method_helper_consuming_a_set_in_order": ["set order"],
        "test_a_thread_drawing_random": ["random", "threads"],
        "test_waiting_with_a_timeout": ["clock"],
        "test_a_token": ["os.urandom", "secrets"],
        "test_a_database_file_outside_tmp": ["file system"],
        "test_a_directory_made_and_removed_outside_tmp": ["file system"],
        "<import tests/test_web.py>": ["os.urandom", "secrets"],
        "test_tracebacks_name_the_app_lines": ["set order"],
    }
    assert "2 failed, 16 passed" in done.stdout
    assert "where 2 = sum([1, 1])" in done.stdout  # pytest still rewrites the test modules
    line = WEB_APP.splitlines().index("        raise ValueError(word.upper())") + 1
    assert f"app.py:{line}: ValueError" in done.stdout
    assert ">           raise ValueError(word.upper())" in done.stdout
    assert sorted((bundle / "__pycache__").iterdir()) == cached, "nothing cached with notes"


def test_repetitions_stop_at_the_first_differing_outcome(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "tests").mkdir(parents=True)
    (bundle / "tests" / "test_r.py").write_text(
        "import random\n\n"
        "def test_coin():\n    assert random.random() < 0.5\n\n"
        "def test_steady():\n    assert True\n\n"
        "def test_not_asked_for():\n    assert True\n"
    )
    expect = tmp_path / "expect.json"
    expect.write_text(
        json.dumps(
            {"tests/test_r.py::test_coin": "passed", "tests/test_r.py::test_steady": "passed"}
        )
    )
    out = tmp_path / "repeats.json"
    done = _run_plugin(
        bundle,
        "--mb-repeat=22",
        f"--mb-repeat-out={out}",
        f"--mb-repeat-expect={expect}",
        "--mb-random-seed=5",
        outside=tmp_path / "unused",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    repeats = json.loads(out.read_text())
    assert set(repeats) == {"tests/test_r.py::test_coin", "tests/test_r.py::test_steady"}
    assert repeats["tests/test_r.py::test_steady"] == ["passed"] * 22
    coin = repeats["tests/test_r.py::test_coin"]
    coin_id = "tests/test_r.py::test_coin"
    expected = [random.Random(repetition_seed(5, coin_id, i)).random() < 0.5 for i in range(22)]
    first_fail = expected.index(False)
    assert coin == ["passed"] * first_fail + ["failed"]


# --- the tests stage, in the sandbox -----------------------------------------------------

MAIN = "def tags(words):\n    return ','.join(set(words))\n"


async def _stage(
    tmp_path: Path,
    env: PythonEnv,
    tests: dict[str, str],
    seed_base: str,
    *,
    detect_flakes: bool = True,
) -> TestsReport:
    bundle = make_bundle({"main.py": MAIN, "requirements.txt": "fastapi\n", **tests})
    return await run_tests_repeatedly(
        write_bundle(bundle, tmp_path / "bundle"),
        env,
        runs=3,
        timeout_s=120,
        seed_base=seed_base,
        work_dir=tmp_path / "work",
        uids=TEST_UIDS,
        memory_mb=512,
        pids=64,
        detect_flakes=detect_flakes,
    )


ONE_IN_TEN = "import random\n\ndef test_rarely_fails():\n    assert random.random() >= 0.1\n"


def _draws(seed_base: str) -> tuple[list[bool], list[bool]]:
    """What ONE_IN_TEN's draw gives in each required run and each repetition of the rerun
    (the stage seeds ``random`` per run and per repetition from the seed base)."""
    runs = [random.Random(run_seed(seed_base, f"random-{i}")).random() >= 0.1 for i in (1, 2, 3)]
    rerun_seed = run_seed(seed_base, "rerun-random-1")
    nodeid = "tests/test_rare.py::test_rarely_fails"
    reps = [
        random.Random(repetition_seed(rerun_seed, nodeid, i)).random() >= 0.1
        for i in range(OBSERVATIONS - 3)
    ]
    return runs, reps


@pytest.mark.integration
async def test_a_one_in_ten_flake_the_three_runs_miss_is_caught_on_rerun(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    seed_base = next(
        base
        for base in (f"rare-{i}" for i in range(200))
        if all(_draws(base)[0]) and not all(_draws(base)[1])
    )
    _, reps = _draws(seed_base)
    report = await _stage(tmp_path, pyenv, {"tests/test_rare.py": ONE_IN_TEN}, seed_base)
    nodeid = "tests/test_rare.py::test_rarely_fails"
    assert [r.outcomes[nodeid] for r in report.runs] == [TestOutcome.PASSED] * 3
    assert report.verdict == "fail", report.reason
    [flaky] = report.flaky
    first_fail = reps.index(False)
    assert flaky.nodeid == nodeid and flaky.sources == ["random"]
    assert flaky.outcomes == [TestOutcome.PASSED] * (3 + first_fail) + [TestOutcome.FAILED]
    assert "flaky on rerun" in report.reason and "touched: random" in report.reason
    [rerun] = report.reruns
    assert rerun.kind == "repeated" and rerun.tests == 1 and rerun.repetitions == first_fail + 1
    assert [r.random_seed for r in report.runs] == [
        run_seed(seed_base, f"random-{i}") for i in (1, 2, 3)
    ]
    assert len({r.hash_seed for r in report.runs}) == 3

    plain = await _stage(
        tmp_path / "plain",
        pyenv,
        {"tests/test_rare.py": ONE_IN_TEN},
        seed_base,
        detect_flakes=False,
    )
    assert plain.verdict == "pass" and not plain.reruns  # what three runs alone concluded


DETERMINISTIC = """
import random
import time
import uuid

from main import tags


def test_ids_are_unique():
    assert uuid.uuid4() != uuid.uuid4()


def test_the_clock_moves_forward():
    assert time.monotonic() <= time.monotonic()


def test_seeded_shuffle():
    cards = list(range(10))
    random.Random(3).shuffle(cards)
    assert sorted(cards) == list(range(10))


def test_random_within_bounds():
    assert 0 <= random.random() < 1


def test_pure_arithmetic():
    assert 6 * 7 == 42
"""


@pytest.mark.integration
async def test_a_deterministic_suite_costs_one_extra_run_of_only_the_tests_that_touched(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    report = await _stage(tmp_path, pyenv, {"tests/test_det.py": DETERMINISTIC}, "det")
    assert report.verdict == "pass", report.reason
    assert not report.flaky
    touched = {k.split("::")[1]: v for k, v in report.touched.items()}
    assert touched == {
        "test_ids_are_unique": ["os.urandom", "uuid"],
        "test_the_clock_moves_forward": ["clock"],
        "test_random_within_bounds": ["random"],
    }
    [rerun] = report.reruns  # one extra process, of the three tests that touched a source
    assert rerun.kind == "repeated" and rerun.tests == 3
    assert rerun.repetitions == OBSERVATIONS - 3


SET_ORDER = """
from main import tags


def test_two_tags_in_the_order_given():
    assert tags(["a", "b"]) == "a,b"
"""


def _set_order_passes(hash_seed: int) -> bool:
    """Whether ``",".join({"a", "b"})`` is ``a,b`` under this ``PYTHONHASHSEED``."""
    done = subprocess.run(
        [sys.executable, "-c", "print(','.join(set(['a', 'b'])))"],
        env={"PYTHONHASHSEED": str(hash_seed)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip() == "a,b"


@pytest.mark.integration
async def test_a_set_order_flake_the_three_runs_miss_is_caught_in_new_processes(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    def required(base: str) -> list[bool]:
        return [_set_order_passes(run_seed(base, f"hash-{i}")) for i in (1, 2, 3)]

    seed_base = next(base for base in (f"sets-{i}" for i in range(100)) if all(required(base)))
    reruns = [
        _set_order_passes(run_seed(seed_base, f"rerun-hash-{k}"))
        for k in range(1, OBSERVATIONS - 2)
    ]
    first_fail = reruns.index(False)
    report = await _stage(tmp_path, pyenv, {"tests/test_set.py": SET_ORDER}, seed_base)
    assert report.verdict == "fail", report.reason
    [flaky] = report.flaky
    assert flaky.sources == ["set order"]
    assert flaky.outcomes == [TestOutcome.PASSED] * (3 + first_fail) + [TestOutcome.FAILED]
    assert [r.kind for r in report.reruns] == ["process"] * (first_fail + 1)
    assert len({r.hash_seed for r in report.reruns}) == first_fail + 1


@pytest.mark.integration
async def test_a_test_writing_outside_tmp_is_traced_in_the_sandbox(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    tests = {
        "tests/test_files.py": (
            "def test_keeps_state_in_the_app_dir():\n"
            "    with open('/app/state.txt', 'a') as f:\n        f.write('x')\n\n"
            "def test_private_tmp(tmp_path):\n    (tmp_path / 'x').write_text('y')\n"
        )
    }
    report = await _stage(tmp_path, pyenv, tests, "files")
    assert report.verdict == "pass", report.reason
    assert report.touched == {
        "tests/test_files.py::test_keeps_state_in_the_app_dir": ["file system"]
    }
