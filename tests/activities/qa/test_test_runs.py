"""The tests-x3 stage: a bundle's suite run three times in the sandbox, in varied order."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import pytest

from activities.qa.pytest_shuffle import shuffled
from activities.qa.test_runs import run_seed, run_tests_repeatedly
from runtime.base import PythonEnv
from schemas.qa import TestOutcome, TestsReport
from store.bundles import make_bundle, write_bundle
from tests.runtime.support import LEASED_UIDS, TEST_UIDS, accepted_nothing, processes_of_uid

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MAIN = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}
"""

PASSING = """
from fastapi.testclient import TestClient

from main import app


def test_health():
    assert TestClient(app).get("/health").json() == {"ok": True}


def test_writes_into_app_dir():
    with open("/app/scratch.txt", "w") as f:  # the run's copy of the bundle is writable
        f.write("ok")


def test_arithmetic():
    assert 2 + 2 == 4
"""


async def run(
    tmp_path: Path,
    env: PythonEnv,
    tests: dict[str, str],
    *,
    seed_base: str = "base",
    timeout_s: float = 60.0,
    runs: int = 3,
) -> TestsReport:
    bundle = make_bundle({"main.py": MAIN, "requirements.txt": "fastapi\n", **tests})
    bundle_dir = write_bundle(bundle, tmp_path / "bundle")
    notes: list[str] = []
    report = await run_tests_repeatedly(
        bundle_dir,
        env,
        runs=runs,
        timeout_s=timeout_s,
        seed_base=seed_base,
        work_dir=tmp_path / "work",
        uids=TEST_UIDS,
        memory_mb=512,
        pids=64,
        heartbeat=notes.append,
    )
    assert notes, "the heartbeat was called"
    assert not any((tmp_path / "work").iterdir()), "the run copies were removed"
    return report


async def test_passing_bundle_passes_in_fixed_and_shuffled_orders(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    report = await run(tmp_path, pyenv, {"tests/test_main.py": PASSING}, seed_base="pass")
    assert report.verdict == "pass", report.reason
    assert [r.order for r in report.runs] == ["fixed", "shuffled", "shuffled"]
    assert [r.seed for r in report.runs] == [None, run_seed("pass", 2), run_seed("pass", 3)]
    assert report.runs[1].seed != report.runs[2].seed
    for r in report.runs:
        assert r.exit_code == 0 and not r.timed_out
        assert set(r.outcomes.values()) == {TestOutcome.PASSED} and len(r.outcomes) == 3
    assert list(report.runs[0].outcomes) == [
        "tests/test_main.py::test_health",
        "tests/test_main.py::test_writes_into_app_dir",
        "tests/test_main.py::test_arithmetic",
    ]
    assert "3 passed" in report.runs[0].log_tail
    assert not report.flaky and not report.failing


async def test_failing_test_fails_the_stage_and_is_named(tmp_path: Path, pyenv: PythonEnv) -> None:
    tests = {
        "tests/test_main.py": PASSING,
        "tests/test_broken.py": "def test_wrong_total():\n    assert sum([1, 2]) == 4\n",
    }
    report = await run(tmp_path, pyenv, tests)
    assert report.verdict == "fail"
    assert report.failing == ["tests/test_broken.py::test_wrong_total"]
    assert "tests/test_broken.py::test_wrong_total" in report.reason
    assert all(
        r.outcomes["tests/test_broken.py::test_wrong_total"] == "failed" for r in report.runs
    )
    assert all(r.exit_code == 1 for r in report.runs)
    assert not report.flaky


BROKEN_FIXTURES = """
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("setup")


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown")


def test_uses_broken(broken):
    pass


def test_bad_teardown(bad_teardown):
    pass


def test_fine():
    pass
"""


async def test_error_in_fixture_setup_or_teardown_is_an_error(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    tests = {"tests/test_fixture.py": BROKEN_FIXTURES}
    report = await run(tmp_path, pyenv, tests)
    assert report.verdict == "fail"
    assert report.runs[0].outcomes == {
        "tests/test_fixture.py::test_uses_broken": TestOutcome.ERROR,
        "tests/test_fixture.py::test_bad_teardown": TestOutcome.ERROR,
        "tests/test_fixture.py::test_fine": TestOutcome.PASSED,
    }
    assert report.failing == [
        "tests/test_fixture.py::test_uses_broken",
        "tests/test_fixture.py::test_bad_teardown",
    ]


ORDER_DEPENDENT = """
STATE = []


def test_a_sets_state():
    STATE.append("ready")


def test_b_needs_state():
    assert STATE == ["ready"]
"""


async def test_order_dependent_test_is_reported_flaky(tmp_path: Path, pyenv: PythonEnv) -> None:
    collected = [
        "tests/test_order.py::test_a_sets_state",
        "tests/test_order.py::test_b_needs_state",
    ]
    # Choose the seed base whose run 2 puts b first and run 3 keeps a first: both orders occur.
    seed_base = next(
        base
        for base in (f"order-{i}" for i in range(100))
        if shuffled(collected, run_seed(base, 2))[0] == collected[1]
        and shuffled(collected, run_seed(base, 3))[0] == collected[0]
    )
    report = await run(
        tmp_path, pyenv, {"tests/test_order.py": ORDER_DEPENDENT}, seed_base=seed_base
    )
    assert report.verdict == "fail"
    assert [(f.nodeid, f.outcomes) for f in report.flaky] == [
        (collected[1], [TestOutcome.PASSED, TestOutcome.FAILED, TestOutcome.PASSED])
    ]
    assert list(report.runs[1].outcomes) == [collected[1], collected[0]], "run 2 ran b first"
    assert "flaky" in report.reason and collected[1] in report.reason
    assert report.failing == []


async def test_no_tests_collected_fails(tmp_path: Path, pyenv: PythonEnv) -> None:
    tests = {"tests/test_nothing.py": "def helper():\n    return 1\n"}
    report = await run(tmp_path, pyenv, tests)
    assert report.verdict == "fail"
    assert "no tests were collected" in report.reason
    assert report.runs[0].exit_code == 5
    assert len(report.runs) == 1, "an empty suite is not run again"


async def test_a_module_that_cannot_be_imported_is_named(tmp_path: Path, pyenv: PythonEnv) -> None:
    tests = {
        "tests/test_main.py": PASSING,
        "tests/test_typo.py": "import nonexistent_module_4f2a\n\ndef test_x():\n    pass\n",
    }
    report = await run(tmp_path, pyenv, tests)
    assert report.verdict == "fail"
    assert report.runs[0].exit_code == 2
    assert report.runs[0].outcomes["tests/test_typo.py"] == TestOutcome.ERROR
    assert "could not run the suite" in report.reason and "tests/test_typo.py" in report.reason
    assert "nonexistent_module_4f2a" in report.runs[0].log_tail


async def test_hanging_test_times_out_and_leaves_nothing_behind(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    tests = {"tests/test_hang.py": "import time\n\ndef test_hangs():\n    time.sleep(1000)\n"}
    started = time.time()
    report = await run(tmp_path, pyenv, tests, timeout_s=3.0)
    assert report.verdict == "fail"
    assert report.runs[0].timed_out and "timed out" in report.reason
    assert len(report.runs) == 1, "a hanging suite is not run again"
    assert processes_of_uid(LEASED_UIDS, started_after=started) == []


async def test_a_test_cannot_reach_the_host_network(
    tmp_path: Path, pyenv: PythonEnv, host_listener: socket.socket
) -> None:
    port = host_listener.getsockname()[1]
    tests = {
        "tests/test_net.py": (
            "import socket\n\ndef test_reaches_host():\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
        )
    }
    report = await run(tmp_path, pyenv, tests)
    assert report.verdict == "fail"
    assert report.failing == ["tests/test_net.py::test_reaches_host"]
    assert "ConnectionRefusedError" in report.runs[0].log_tail
    assert accepted_nothing(host_listener)


async def test_each_run_draws_differently_and_the_same_bundle_draws_the_same(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    """``random`` gets its own seed in every run (a flake shows across runs) and the seeds
    come from the seed base (the bundle's hash): a report can be reproduced, and submitting
    the same bundle again cannot draw a luckier verdict."""
    tests = {
        "tests/test_rand.py": (
            "import random\n\ndef test_show_value():\n"
            "    assert False, f'value={random.random()!r}'\n"
        )
    }

    def values(report: TestsReport) -> list[list[str]]:
        return [
            [line for line in run.log_tail.splitlines() if "value=" in line] for run in report.runs
        ]

    first, again, other = [
        values(await run(tmp_path / name, pyenv, tests, seed_base=base, runs=2))
        for name, base in (("a", "same"), ("b", "same"), ("c", "other"))
    ]
    assert first[0] and first[0] != first[1]
    assert first == again
    assert first != other


def test_shuffle_does_not_touch_global_random() -> None:
    state = random.getstate()
    assert shuffled(list(range(20)), 7) == shuffled(list(range(20)), 7)
    assert shuffled(list(range(20)), 7) != list(range(20))
    assert random.getstate() == state
