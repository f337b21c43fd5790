"""The mutation stage: mutmut in the sandbox, under our config, judged on score and reach."""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from pathlib import Path

import pytest

from activities.generation import generate_offline
from activities.qa import mutation_results
from activities.qa.mutable_lines import LineCounts, count_lines
from activities.qa.mutation import judge, run_mutation, why_mutmut_failed
from activities.qa.mutation_driver import QUIET_FAILURES, quiet_failures
from activities.qa.mutation_results import (
    MutantStatus,
    MutmutResults,
    clean_log,
    mutant_diff,
    read_results,
    status_of,
)
from activities.qa.mutation_reuse import ReuseCache, StoredStats
from activities.qa.mutation_staging import Layout, stage_bundle, strip_pragmas
from activities.qa.workspace import SandboxUser
from runtime.base import PythonEnv
from runtime.limits import ResourceLimits
from schemas.qa import MutationReport, QAPolicy
from store.bundles import make_bundle, write_bundle
from tests.runtime.support import LEASED_UIDS, TEST_UIDS, processes_of_uid

# A small app of plain functions: every mutant is in code mutmut mutates.
PRICES = """
def total_price(prices: list[float], discount: float) -> float:
    subtotal = sum(prices)
    if discount > 0.5:
        raise ValueError("discount too large")
    return round(subtotal * (1 - discount), 2)


def label(count: int) -> str:
    if count == 0:
        return "empty"
    if count == 1:
        return "one item"
    return f"{count} items"
"""

PRICES_TESTS = """
import pytest

from main import label, total_price


def test_total_price():
    assert total_price([1.0, 2.0], 0.1) == 2.7
    assert total_price([1.0, 2.0], 0.5) == 1.5
    assert total_price([], 0) == 0
    with pytest.raises(ValueError, match="discount too large"):
        total_price([1.0], 0.51)


def test_label():
    assert label(0) == "empty"
    assert label(1) == "one item"
    assert label(2) == "2 items"
"""

# Tests that run everything and check next to nothing.
WEAK_TESTS = """
from main import label, total_price


def test_total_price_runs():
    assert total_price([1.0, 2.0], 0.1) is not None


def test_label_runs():
    assert isinstance(label(3), str)
"""

# The logic lives where nothing is mutated: module-level code, a class body, a lambda, an
# async generator (the app's lifespan) and a route handler nested in a function.
HIDDEN = """
from contextlib import asynccontextmanager

from fastapi import FastAPI

RATES = {"EUR": 1.0, "USD": 1.1, "GBP": 0.85}
LIMIT = 1000 if len(RATES) > 2 else 10
DEFAULT = sorted(RATES)[0]
STATE = {}


@asynccontextmanager
async def lifespan(app):
    STATE["ready"] = True
    if LIMIT > 10:
        STATE["limit"] = LIMIT
    yield


app = FastAPI(lifespan=lifespan)


class Pricing:
    FEES = {c: 0.5 if c != "EUR" else 0.0 for c in RATES}
    convert = staticmethod(lambda amount, c: round(amount * RATES[c] + Pricing.FEES[c], 2))


def make_routes():
    @app.get("/convert")
    def convert(amount: float, currency: str = DEFAULT) -> dict:
        if currency not in RATES:
            return {"error": "unknown currency"}
        if amount > LIMIT:
            return {"error": "too large"}
        return {"value": Pricing.convert(amount, currency)}


make_routes()


def fmt(value: float) -> str:
    return str(round(value, 2)) + " units"
"""

HIDDEN_TESTS = """
from fastapi.testclient import TestClient

from main import app, fmt

client = TestClient(app)


def test_convert():
    assert client.get("/convert", params={"amount": 10, "currency": "USD"}).json() == {
        "value": 11.5
    }
    assert client.get("/convert", params={"amount": 10}).json() == {"value": 10.0}
    assert client.get("/convert", params={"amount": 1, "currency": "X"}).json() == {
        "error": "unknown currency"
    }
    assert client.get("/convert", params={"amount": 1001}).json() == {"error": "too large"}


def test_fmt():
    assert fmt(1.234) == "1.23 units"
    assert fmt(2) == "2 units"
"""

# A FastAPI app written the usual way: its logic in route handlers, a dependency and a
# validator, a helper raising HTTPException; tested through the API.
HANDLERS = """
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, field_validator

app = FastAPI()
carts: dict[int, list[int]] = {}


class Item(BaseModel):
    price: int
    quantity: int = 1

    @field_validator("price")
    @classmethod
    def positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("price must be positive")
        return value


def get_cart(cart_id: int) -> list[int]:
    if cart_id not in carts:
        raise HTTPException(status_code=404, detail="no such cart")
    return carts[cart_id]


Cart = Annotated[list[int], Depends(get_cart)]


@app.post("/carts/{cart_id}", status_code=201)
def create_cart(cart_id: int) -> dict:
    if cart_id in carts:
        raise HTTPException(status_code=409, detail="exists")
    carts[cart_id] = []
    return {"id": cart_id}


@app.post("/carts/{cart_id}/items")
async def add_item(item: Item, cart: Cart) -> dict:
    cart.extend([item.price] * item.quantity)
    total = sum(cart)
    discount = total // 10 if total >= 100 else 0
    return {"items": len(cart), "total": total - discount}
"""

HANDLERS_TESTS = """
import pytest
from fastapi.testclient import TestClient

import main

client = TestClient(main.app)


@pytest.fixture(autouse=True)
def empty():
    main.carts.clear()


def test_create_and_conflict():
    assert client.post("/carts/1").json() == {"id": 1}
    assert client.post("/carts/1").status_code == 409
    assert client.post("/carts/2").status_code == 201


def test_missing_cart():
    response = client.post("/carts/9/items", json={"price": 5})
    assert response.status_code == 404
    assert response.json() == {"detail": "no such cart"}


def test_totals_and_discount():
    client.post("/carts/1")
    assert client.post("/carts/1/items", json={"price": 30, "quantity": 3}).json() == {
        "items": 3,
        "total": 90,
    }
    assert client.post("/carts/1/items", json={"price": 10}).json() == {"items": 4, "total": 90}
    assert client.post("/carts/1/items", json={"price": 1}).json() == {"items": 5, "total": 91}


def test_prices_must_be_positive():
    client.post("/carts/1")
    for price in (0, -1):
        response = client.post("/carts/1/items", json={"price": price})
        assert response.status_code == 422
        assert "price must be positive" in response.text
"""

# The same app's tests, checking status codes only.
HANDLERS_WEAK_TESTS = """
from fastapi.testclient import TestClient

import main

client = TestClient(main.app)


def test_it_answers():
    assert client.post("/carts/1").status_code == 201
    assert client.post("/carts/1/items", json={"price": 30, "quantity": 4}).status_code == 200
    assert client.post("/carts/9/items", json={"price": 5}).status_code == 404
    assert client.post("/carts/1/items", json={"price": 0}).status_code == 422
"""

# Each test counts on the state its module had when it was imported (and no other test
# touches it): the order does not matter, but running the suite twice in one process
# would fail, as mutmut's baseline does unless each run gets a fresh process.
FRESH_STATE = """
from fastapi import FastAPI

app = FastAPI()
visits = {"count": 0}


@app.post("/visits")
def visit() -> dict:
    visits["count"] += 1
    return {"visits": visits["count"]}


def double(x: int) -> int:
    return x * 2
"""

FRESH_STATE_TESTS = """
from fastapi.testclient import TestClient

import main


def test_first_visit():
    assert TestClient(main.app).post("/visits").json() == {"visits": 1}


def test_double():
    assert main.double(4) == 8
    assert main.double(0) == 0
"""

# Many mutants, each costing half a second of tests: far more than the time allowed.
SLOW = """
def score(a: int, b: int, c: int) -> int:
    total = a + b * 2 - c
    if total > 10 and a < 5 or b == 3:
        total = total * 3 + 1
    if c >= 7 or a != b:
        total = total - 4 // 2
    return total % 97 + (a | b) + (c & 1)


def rank(a: int, b: int, c: int) -> str:
    if a > b and b > c:
        return "falling"
    if a < b < c or a == 0:
        return "rising"
    middle = (a + b + c) // 3 - 1
    return "flat" if middle <= 5 and c != 9 else "mixed"
"""

SLOW_TESTS = """
import time

from main import rank, score


def test_score_and_rank():
    time.sleep(0.5)
    assert score(1, 2, 3) == 4
    assert score(6, 3, 8) == 18
    assert [rank(3, 2, 1), rank(1, 2, 3), rank(2, 2, 2), rank(9, 9, 9)] == [
        "falling",
        "rising",
        "flat",
        "mixed",
    ]
"""

HOSTILE_PYPROJECT = """
[tool.mutmut]
source_paths = ["nothing/"]
do_not_mutate = ["*"]
pytest_add_cli_args_test_selection = ["nothing/"]
pytest_add_cli_args = ["--collect-only"]

[tool.pytest.ini_options]
python_files = ["check_*.py"]
"""

HOSTILE_SETUP_CFG = """
[mutmut]
paths_to_mutate = nothing/

[flake8]
max-line-length = 100
"""


async def mutate(
    tmp_path: Path,
    env: PythonEnv,
    files: dict[str, str],
    *,
    policy: QAPolicy | None = None,
    reuse: ReuseCache | None = None,
) -> MutationReport:
    bundle = make_bundle({"requirements.txt": "fastapi\n", **files})
    bundle_dir = write_bundle(bundle, tmp_path / "bundle")
    work = tmp_path / "work"
    notes: list[str] = []
    report = await run_mutation(
        bundle_dir,
        env,
        policy=policy or QAPolicy(mutation_timeout_s=90),
        work_dir=work,
        user=SandboxUser(uids=TEST_UIDS, limits=ResourceLimits(memory_mb=512, pids=64, cpu=1.0)),
        max_children=2,
        heartbeat=notes.append,
        reuse=reuse,
    )
    assert notes and notes[0].startswith("mutation: mutmut starting"), notes
    assert not list(work.iterdir()), "the run's copies were removed"
    return report


# --- in the sandbox ---------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_sound_generated_bundle_passes(tmp_path: Path, pyenv: PythonEnv) -> None:
    bundle = generate_offline("a todo list for my climbing team").bundle
    report = await mutate(tmp_path, pyenv, {f.path: f.content for f in bundle.files})
    assert report.verdict == "pass", report.reason
    assert report.score is not None and report.score >= 0.70
    assert report.killed >= 100 and report.survived == len(
        [m for m in report.survivors if m.status == "survived"]
    )
    assert all(m.diff for m in report.survivors), "every survivor comes with its diff"
    assert report.mutable_fraction is not None and report.mutable_fraction >= 0.5
    assert report.no_tests == 0 and not report.timed_out
    assert "mutations/second" in report.log_tail and "\r" not in report.log_tail


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_tests_that_assert_nothing_fail_on_score(tmp_path: Path, pyenv: PythonEnv) -> None:
    report = await mutate(tmp_path, pyenv, {"main.py": PRICES, "tests/test_main.py": WEAK_TESTS})
    assert report.verdict == "fail"
    assert report.score is not None and report.score < 0.70
    assert "mutation score" in report.reason
    survivors = [m for m in report.survivors if m.status == "survived"]
    assert len(survivors) == report.survived > 0
    for m in survivors:
        assert m.name.startswith(("main.x_total_price__mutmut_", "main.x_label__mutmut_"))
        assert m.diff and m.diff.startswith("--- main.py\n+++ main.py\n@@")
        assert [line for line in m.diff.splitlines() if line.startswith("+ ")]
    # The diff is of the original function (name restored), e.g. a changed comparison:
    assert any("-    if count == 0:" in (m.diff or "") for m in survivors)
    assert report.mutable_fraction == 1.0


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_logic_hidden_where_nothing_is_mutated_fails(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    report = await mutate(tmp_path, pyenv, {"main.py": HIDDEN, "tests/test_main.py": HIDDEN_TESTS})
    assert report.verdict == "fail"
    assert report.score == 1.0, "the little that is mutated is well tested"
    assert (report.logic_lines, report.mutable_lines) == (18, 1)
    assert report.mutable_fraction == round(1 / 18, 4)
    assert "cannot pass by hiding" in report.reason
    assert report.unmoved_functions == {
        "main.py:lifespan": "an async generator",
        "main.py:make_routes.<locals>.convert": "nested in a function",
    }
    assert "main.py:lifespan (an async generator)" in report.reason
    assert report.killed > 0 and report.survived == 0


@pytest.mark.integration
@pytest.mark.timeout(300)
async def test_logic_in_handlers_dependencies_and_validators_is_mutated(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    files = {"main.py": HANDLERS, "tests/test_main.py": HANDLERS_TESTS}
    report = await mutate(tmp_path, pyenv, files)
    assert report.verdict == "pass", report.reason
    assert report.mutable_fraction is not None and report.mutable_fraction > 0.7
    assert sorted(report.moved_functions) == [
        "main.py:Item.positive",
        "main.py:add_item",
        "main.py:create_cart",
    ]
    assert report.killed >= 25 and report.score is not None and report.score >= 0.8

    weak = await mutate(
        tmp_path / "weak", pyenv, {"main.py": HANDLERS, "tests/test_main.py": HANDLERS_WEAK_TESTS}
    )
    assert weak.verdict == "fail" and weak.score is not None and weak.score < 0.7, weak.reason
    survivors = [m for m in weak.survivors if m.status == "survived"]
    assert {m.function for m in survivors} >= {"add_item", "create_cart"}
    lines = HANDLERS.splitlines()
    for mutant in survivors:
        assert mutant.file == "main.py" and mutant.line is not None
        assert mutant.diff is not None and mutant.diff.startswith("--- main.py\n+++ main.py\n@@")
        # The diff is of the user's function, on the user's lines: its removed line is there.
        removed = next(
            ln for ln in mutant.diff.splitlines() if ln.startswith("-") and ln[1:4] != "-- "
        )
        assert lines[mutant.line - 1].strip() == removed[1:].strip(), mutant
        assert "__mb_body" not in mutant.diff and "mutmut" not in mutant.diff
    discount = next(
        m for m in survivors if "discount = total // 10 if total >= 100" in (m.diff or "")
    )
    assert discount.function == "add_item"
    assert discount.line == lines.index("    discount = total // 10 if total >= 100 else 0") + 1
    assert "async def add_item(item: Item, cart: Cart) -> dict:" in (discount.diff or "")


def _outcomes(report: MutationReport) -> tuple[object, ...]:
    listed = [(m.name, m.status, m.diff, m.line) for m in report.survivors]
    counts = (report.killed, report.survived, report.no_tests, report.equivalent, report.timeouts)
    return (report.verdict, report.score, counts, listed)


@pytest.mark.integration
@pytest.mark.timeout(600)
async def test_a_redeploy_reuses_what_did_not_change_with_the_verdict_of_a_cold_run(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    cache = ReuseCache(tmp_path / "reuse")
    files = {"main.py": HANDLERS, "tests/test_main.py": HANDLERS_WEAK_TESTS}
    cold = await mutate(tmp_path / "cold", pyenv, files, reuse=cache)
    total = cold.killed + cold.survived + cold.no_tests + cold.equivalent + cold.timeouts
    assert cold.reused == 0 and cold.reused_functions == [] and total > 20

    again = await mutate(tmp_path / "again", pyenv, files, reuse=cache)
    assert again.reused == total
    assert _outcomes(again) == _outcomes(cold)
    assert all(m.reused for m in again.survivors)
    assert again.reused_functions == [
        "main.py:Item.positive",
        "main.py:add_item",
        "main.py:create_cart",
        "main.py:get_cart",
    ]

    # One line of one handler changes: its mutants run again, the others' are reused.
    edited = HANDLERS.replace("    total = sum(cart)\n", "    total = sum(cart, 0)\n")
    changed = {**files, "main.py": edited}
    warm = await mutate(tmp_path / "warm", pyenv, changed, reuse=cache)
    fresh = await mutate(tmp_path / "fresh", pyenv, changed, reuse=ReuseCache(tmp_path / "none"))
    assert fresh.reused == 0
    assert _outcomes(warm) == _outcomes(fresh)
    assert 0 < warm.reused < total
    assert "main.py:add_item" not in warm.reused_functions
    assert "main.py:create_cart" in warm.reused_functions
    assert {m.function for m in warm.survivors if not m.reused} == {"add_item"}


# Which tests reach `shout` depends on `enabled`, which neither calls nor is called by it;
# `reset` runs in a fixture, outside any test's call.
GATED = """
def enabled() -> bool:
    return False


def shout(text: str) -> str:
    return text.upper() + "!"


def reset(store: dict[str, int]) -> None:
    store.clear()
    store["count"] = 0
"""

GATED_TESTS = """
import pytest

import main

STORE: dict[str, int] = {}


@pytest.fixture(autouse=True)
def fresh():
    main.reset(STORE)


def test_enabled_is_a_bool():
    assert main.enabled() in (True, False)


def test_shout_when_enabled():
    if main.enabled():
        assert main.shout("hey") == "HEY!"


def test_store_starts_at_zero():
    assert STORE == {"count": 0}
"""


def _stats_run(report: MutationReport) -> str:
    """pytest's summary line of mutmut's stats run, from the log."""
    found = re.search(r"^(\d+ passed)\b", report.log_tail, re.M)
    assert found, report.log_tail
    return found.group(1)


@pytest.mark.integration
@pytest.mark.timeout(600)
async def test_a_change_that_sends_tests_elsewhere_reruns_what_they_reach_now(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    cache = ReuseCache(tmp_path / "reuse")
    files = {"main.py": GATED, "tests/test_main.py": GATED_TESTS}
    cold = await mutate(tmp_path / "cold", pyenv, files, reuse=cache)
    assert cold.no_tests > 0 and _stats_run(cold) == "3 passed"
    stored = [
        StoredStats.model_validate_json(p.read_bytes())
        for p in (tmp_path / "reuse").rglob("*.json")
        if b"shared_hits" in p.read_bytes()
    ]
    assert [s.shared_hits for s in stored] == [["main.x_reset"]]

    # `enabled` changes: no test reached `shout`, one does now. Its key is unchanged (no
    # call between the two), but the tests reaching it are not: its mutants run again.
    # Only the two tests that executed `enabled` are traced again.
    changed = {**files, "main.py": GATED.replace("return False", "return True")}
    warm = await mutate(tmp_path / "warm", pyenv, changed, reuse=cache)
    fresh = await mutate(tmp_path / "fresh", pyenv, changed, reuse=ReuseCache(tmp_path / "none"))
    assert _outcomes(warm) == _outcomes(fresh)
    assert fresh.no_tests == 0 and fresh.killed > cold.killed
    assert warm.reused_functions == ["main.py:reset"]
    assert _stats_run(warm) == "2 passed"

    # `reset` runs in a fixture (state the tests share): a change to it traces every test.
    setup = changed["main.py"].replace('store["count"] = 0', "store.update(count=0)")
    again = await mutate(tmp_path / "again", pyenv, {**changed, "main.py": setup}, reuse=cache)
    assert _stats_run(again) == "3 passed"
    assert again.reused_functions == ["main.py:enabled", "main.py:shout"]


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_each_run_of_the_suite_gets_a_fresh_process(tmp_path: Path, pyenv: PythonEnv) -> None:
    files = {"main.py": FRESH_STATE, "tests/test_main.py": FRESH_STATE_TESTS}
    report = await mutate(tmp_path, pyenv, files)
    assert report.verdict == "pass", report.reason
    assert not report.baseline_failed and report.killed > 0


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_failing_baseline_fails_with_that_reason(tmp_path: Path, pyenv: PythonEnv) -> None:
    tests = PRICES_TESTS + "\n\ndef test_wrong():\n    assert label(5) == 'five items'\n"
    report = await mutate(tmp_path, pyenv, {"main.py": PRICES, "tests/test_main.py": tests})
    assert report.verdict == "fail"
    assert "tests fail on its unmutated code" in report.reason
    assert "tests/test_main.py::test_wrong" in report.reason
    assert report.killed == report.survived == 0 and report.score is None


def _mutmut_processes(started: float) -> list[int]:
    """Sandbox-user processes of a mutation run (other suites' sandboxes may run meanwhile)."""
    found = []
    for pid in processes_of_uid(LEASED_UIDS, started_after=started):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"mutation_driver" in cmdline or b"mutmut" in cmdline:
            found.append(pid)
    return found


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_timeout_ends_with_partial_counts_and_nothing_left(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    started = time.time()
    report = await mutate(
        tmp_path,
        pyenv,
        {"main.py": SLOW, "tests/test_main.py": SLOW_TESTS},
        policy=QAPolicy(mutation_timeout_s=9),
    )
    assert report.verdict == "fail" and report.timed_out
    assert "did not finish within 9 s" in report.reason
    checked = report.killed + report.survived + report.no_tests + report.timeouts
    total = checked + report.other
    assert 0 < checked < total, report.reason
    assert f"{checked} of {total} mutants checked" in report.reason
    assert _mutmut_processes(started) == []


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_the_bundles_own_mutmut_config_and_pragmas_are_ignored(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    main = PRICES.replace('return "one item"', 'return "one item"  # pragma: no mutate')
    tests = PRICES_TESTS.replace('assert label(1) == "one item"', "")
    files = {
        "main.py": main,
        "tests/check_main.py": tests,  # collected only under the bundle's own pytest config
        "tests/test_main.py": "def test_collected():\n    assert False, 'config lost'\n",
        "pyproject.toml": HOSTILE_PYPROJECT,
        "setup.cfg": HOSTILE_SETUP_CFG,
    }
    report = await mutate(tmp_path, pyenv, files)
    assert report.killed > 5, report.reason
    diffs = [m.diff or "" for m in report.survivors if m.status == "survived"]
    assert any('-        return "one item"  #' in d for d in diffs), "the pragma'd line was mutated"
    assert report.verdict == "pass", report.reason


# --- without the sandbox ----------------------------------------------------------------


def test_statuses_are_mutmuts() -> None:
    from mutmut.stats import status_by_exit_code

    assert dict(status_by_exit_code) == mutation_results.MUTMUT_STATUS_BY_EXIT_CODE
    assert status_by_exit_code[12345] == mutation_results.MUTMUT_DEFAULT_STATUS
    assert set(status_by_exit_code.values()) <= set(mutation_results.STATUS_BY_MUTMUT_STATUS)
    assert [status_of(c) for c in (1, 3, 0, 33, 5, 36, -24, None, 34, 37, -9, 7, "x", True)] == [
        "killed",
        "killed",
        "survived",
        "no_tests",
        "no_tests",
        "timeout",
        "timeout",
        "not_checked",
        "skipped",
        "killed",
        "suspicious",
        "suspicious",
        "suspicious",
        "suspicious",
    ]


LINES = '''
"""Docstring."""
import os
from enum import Enum

LIMIT = 3
TEXT = """
many
lines
"""
TABLE = {
    "a": 1,
    "b": [2, -3],
}


def plain(x):
    """Docstring."""
    if x > LIMIT:
        return [
            x,
            x + 1,
        ]
    pass


@decorated
def handler(x):
    return x * 2


def outer():
    @decorated
    def inner():
        return 1

    def helper():
        return 2

    return inner() + helper()


class Model:
    name: str
    size: int = 3

    def method(self):
        return self.size

    @staticmethod
    def static():
        return 1

    @property
    def prop(self):
        return 2

    def __new__(cls):
        return super().__new__(cls)

    class Inner:
        def deep(self):
            return 3


class Color(Enum):
    RED = 1

    def __init__(self, value):
        self.v = value

    def describe(self):
        return self.name


if os.environ:

    def conditional():
        return 4
'''


def test_logic_and_mutable_lines() -> None:
    counts = count_lines(LINES)
    # Mutable (11): plain's if and its return's 3 lines, helper's and outer's returns,
    # method's, static's and describe's returns, and those of handler and prop (decorated:
    # their bodies move into plain functions).
    # Not (11): LIMIT, TEXT and TABLE (data: once each), inner's return (decorated, nested),
    # size, __new__'s return, deep's (nested class), RED, self.v (an enum's __init__), the
    # module-level if and conditional's return (not top-level).
    assert counts == LineCounts(logic=22, mutable=11)


def test_pragmas_are_blanked_and_nothing_else_changes() -> None:
    source = (
        'x = 1  # pragma: no mutate\ns = "# pragma: no mutate"\n# Pragma: No Mutate block\ny = 2\n'
    )
    assert strip_pragmas(source) == 'x = 1  #\ns = "# pragma: no mutate"\n#\ny = 2\n'
    assert strip_pragmas("def broken(:\n  # pragma: no mutate\n") == (
        "def broken(:\n  # pragma: no mutate\n"
    )


def test_staging_replaces_the_bundles_mutmut_config(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    for rel, text in {
        "main.py": PRICES,
        "pkg/__init__.py": "",
        "pkg/util.py": "def f():\n    return 1\n",
        "pkg/template.html": "<p>",
        "conftest.py": "",
        "test_root.py": "def test_x():\n    pass\n",
        "tests/test_main.py": PRICES_TESTS,
        "static/style.css": "p {}",
        "pyproject.toml": HOSTILE_PYPROJECT,
        "setup.cfg": HOSTILE_SETUP_CFG,
    }.items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text(text)
    layout = stage_bundle(bundle, tmp_path / "staged")
    assert layout.sources == ("main.py", "pkg/__init__.py", "pkg/util.py")
    assert layout.tests == ("tests/",)
    assert layout.also_copy == ("conftest.py", "pkg", "static", "test_root.py")
    config = tomllib.loads((tmp_path / "staged/pyproject.toml").read_text())
    assert config["tool"]["mutmut"]["source_paths"] == ["main.py", "pkg/__init__.py", "pkg/util.py"]
    assert config["tool"]["mutmut"]["pytest_add_cli_args_test_selection"] == ["tests/"]
    assert config["tool"]["mutmut"]["pytest_add_cli_args"] == [
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "no:schemathesis",
        "-p",
        "no:hypothesispytest",
    ]
    assert "do_not_mutate" not in config["tool"]["mutmut"]
    assert config["tool"]["pytest"] == {"ini_options": {"python_files": ["check_*.py"]}}
    setup_cfg = (tmp_path / "staged/setup.cfg").read_text()
    assert "[mutmut]" not in setup_cfg and "paths_to_mutate" not in setup_cfg
    assert "[flake8]\nmax-line-length = 100\n" in setup_cfg
    assert (bundle / "pyproject.toml").read_text() == HOSTILE_PYPROJECT, "the bundle is untouched"


def test_diffs_match_mutmut_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mutmut.configuration
    from mutmut.mutation.data import MutantLineSpans
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    source = PRICES + "\n\nclass Cart:\n    def size(self, items):\n        return len(items) + 1\n"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["main.py"]\n')
    (tmp_path / "main.py").write_text(source)
    mutmut.configuration.reset_config()
    try:
        mutated = mutate_file_contents("main.py", source)
        (tmp_path / "mutants").mkdir()
        (tmp_path / "mutants/main.py").write_text(mutated.code)
        MutantLineSpans(
            path="main.py", span_by_function_name=mutated.line_span_by_function_name
        ).save()
        names = [get_mutant_name(Path("main.py"), n) for n in mutated.mutant_names]
        assert any("Cart" in n for n in names)
        lines = mutated.code.splitlines(keepends=True)
        spans = {k: [v.start, v.end] for k, v in mutated.line_span_by_function_name.items()}
        for name in names:
            assert mutant_diff(lines, spans, name, "main.py") == get_diff_for_mutant(
                name, path="main.py"
            ), name
    finally:
        mutmut.configuration.reset_config()


def test_results_are_read_without_following_links(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "mutants").mkdir(parents=True)
    secret = tmp_path / "secret.json"
    secret.write_text('{"exit_code_by_key": {"main.x_f__mutmut_1": 0}}')
    (app / "mutants/main.py.meta").symlink_to(secret)
    os.mkfifo(app / "mutants/other.py.meta")  # reading a FIFO must not block
    (app / "mutants/pkg").symlink_to(tmp_path)
    (app / "mutants/bad.py.meta").write_text("{not json")
    codes = {"ok.x_f__mutmut_1": 0, "ok.x_f__mutmut_2": 1, "ok.x_f__mutmut_3": None}
    (app / "mutants/ok.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    results = read_results(app, ["main.py", "other.py", "pkg/secret.json", "bad.py", "ok.py"])
    assert results.statuses == {
        "ok.x_f__mutmut_1": "survived",
        "ok.x_f__mutmut_2": "killed",
        "ok.x_f__mutmut_3": "not_checked",
    }
    assert results.unreadable == ["bad.py"]
    assert [(m.name, m.diff) for m in results.listed] == [("ok.x_f__mutmut_1", None)]


def _results(counts: dict[MutantStatus, int]) -> MutmutResults:
    results = MutmutResults()
    for status, n in counts.items():
        for i in range(n):
            results.statuses[f"main.x_f__mutmut_{status}_{i}"] = status
    return results


LAYOUT = Layout(sources=("main.py",), tests=("tests/",), also_copy=(), lines=LineCounts(10, 8))


def _judge(results: MutmutResults) -> MutationReport:
    return judge(results, LAYOUT, QAPolicy(), exit_code=0, timed_out=False, log="", duration_s=1)


def test_untested_code_gates_though_outside_the_score() -> None:
    report = _judge(_results({"killed": 8, "survived": 1, "no_tests": 4}))
    assert report.score == round(8 / 9, 4) and report.no_tests == 4
    assert report.verdict == "fail"
    assert "4 mutants are in code no test runs" in report.reason and "62%" in report.reason
    assert _judge(_results({"killed": 8, "survived": 1, "no_tests": 2})).verdict == "pass"


def test_no_mutants_or_none_judged_fails() -> None:
    report = _judge(MutmutResults())
    assert report.verdict == "fail" and report.score is None
    assert "no mutants" in report.reason
    report = _judge(_results({"timeout": 3}))
    assert report.verdict == "fail" and "neither killed nor missed any of the 3" in report.reason


def test_mutmut_failures_are_explained() -> None:
    assert "collected no tests" in why_mutmut_failed(
        "failed to collect stats. runner returned 5", 1
    )
    assert "no test executes" in why_mutmut_failed(
        "Stopping early, because we could not find any test case for any mutant.", 1
    )
    assert "still pass when every mutated function raises" in why_mutmut_failed(
        "FAILED: Unable to force test failures", 1
    )
    assert "exit code 2" in why_mutmut_failed("failed to collect stats. runner returned 2", 1)
    assert why_mutmut_failed("Traceback ...", 1) == "mutmut failed (exit code 1); see the log"


def test_log_tail_keeps_one_line_per_spinner_run() -> None:
    log = (
        "\u280b Running stats\r\u2819 Running stats\r\n    done\n\u2839 1/2\r\u2838 2/2\n0.5 m/s\n"
    )
    assert clean_log(log) == "\u2819 Running stats\n    done\n\u2838 2/2\n0.5 m/s"


def test_a_suite_the_tests_stage_failed_is_not_judged_again_by_mutation() -> None:
    from activities.qa.gate import assemble_report
    from schemas.qa import StageReport, TestsReport

    policy = QAPolicy()
    baseline = judge(
        MutmutResults(),
        Layout(sources=("main.py",), tests=("tests/",), also_copy=()),
        policy,
        exit_code=1,
        timed_out=False,
        log="Failed to run clean test\nFAILED tests/test_main.py::test_order",
        duration_s=1.0,
    )
    assert baseline.verdict == "fail" and baseline.baseline_failed
    weak = _judge(_results({"killed": 1, "survived": 9}))
    assert weak.verdict == "fail" and not weak.baseline_failed

    def gate(tests_verdict: str, mutation: MutationReport) -> dict[str, str]:
        tests = TestsReport(verdict=tests_verdict, reason="order-dependent", runs=[])
        stages: list[StageReport] = [tests, mutation]
        report = assemble_report("h", None, stages, policy, duration_s=1.0)
        assert report.verdict == "fail"
        return {s.stage: s.verdict for s in report.stages}

    assert gate("fail", baseline) == {"tests": "fail", "mutation": "skipped"}
    assert gate("pass", baseline) == {"tests": "pass", "mutation": "fail"}
    assert gate("fail", weak) == {"tests": "fail", "mutation": "fail"}, "weak tests still fail"
    skipped = assemble_report(
        "h",
        None,
        [TestsReport(verdict="fail", reason="x", runs=[]), baseline],
        policy,
        duration_s=1.0,
    )
    assert skipped.stages[1].reason.startswith("not judged: the tests stage failed")


def test_only_a_mutants_run_skips_tracebacks() -> None:
    """The stats run's report names and shows the tests that fail on the unmutated code;
    a mutant's run is judged by its exit code alone."""
    seen: list[list[str]] = []

    class Runner:
        _pytest_add_cli_args = ["-p", "no:cacheprovider"]

        def run_tests(self, *, mutant_name: str | None, tests: list[str]) -> int:
            seen.append(list(self._pytest_add_cli_args))
            return 1

    runner = Runner()
    run = quiet_failures(Runner.run_tests)
    assert run(runner, mutant_name=None, tests=[]) == 1
    assert run(runner, mutant_name="main.x_f__mutmut_1", tests=["tests/test_a.py::t"]) == 1
    assert seen == [["-p", "no:cacheprovider"], ["-p", "no:cacheprovider", QUIET_FAILURES]]
    assert runner._pytest_add_cli_args == ["-p", "no:cacheprovider"]
