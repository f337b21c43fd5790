"""Reusing mutation outcomes: what invalidates a function's outcomes, and the cache itself."""

from __future__ import annotations

import json
from pathlib import Path

from activities.qa.mutation_reuse import (
    Entry,
    ReuseCache,
    StoredStats,
    TracedFunction,
    carry,
    entries,
    mutant_number,
    prefill,
    reuse_keys,
)
from activities.qa.mutation_staging import stage_bundle

MAIN = """
from fastapi import FastAPI

app = FastAPI()
RATE = 2


def double(x: int) -> int:
    return x * RATE


def label(x: int) -> str:
    return f"{x} units"


@app.get("/double/{x}")
def get_double(x: int) -> dict:
    return {"value": double(x)}


@app.get("/label/{x}")
def get_label(x: int) -> dict:
    return {"label": label(x)}


class Store:
    def size(self) -> int:
        return 3
"""

TESTS = """
from fastapi.testclient import TestClient
from main import app

def test_double():
    assert TestClient(app).get("/double/2").json() == {"value": 4}
"""


def keys(tmp_path: Path, files: dict[str, str], env_key: str = "env-1") -> dict[str, str]:
    """Each function's key, by its name as written."""
    bundle = tmp_path / f"bundle-{len(list(tmp_path.iterdir()))}"
    for rel, text in {"main.py": MAIN, "tests/test_main.py": TESTS, **files}.items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text(text)
    staged = bundle.with_name(bundle.name + "-staged")
    layout = stage_bundle(bundle, staged)
    names = {(rel, f.key): f.name for rel, m in layout.modules.items() for f in m.functions}
    return {names[node]: key for node, key in reuse_keys(staged, layout, env_key).items()}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert before.keys() == after.keys()
    return {name for name in before if before[name] != after[name]}


def test_a_change_in_a_handler_invalidates_it_and_what_it_calls(tmp_path: Path) -> None:
    base = keys(tmp_path, {})
    assert set(base) == {"double", "label", "get_double", "get_label", "Store.size"}
    assert keys(tmp_path, {}) == base, "keys are stable"
    edited = MAIN.replace('{"value": double(x)}', '{"value": double(x) + 0}')
    assert changed(base, keys(tmp_path, {"main.py": edited})) == {"get_double", "double"}
    helper = MAIN.replace("return x * RATE", "return RATE * x")
    assert changed(base, keys(tmp_path, {"main.py": helper})) == {"get_double", "double"}
    moved = MAIN.replace("class Store:", "\n\nclass Store:")
    assert changed(base, keys(tmp_path, {"main.py": moved})) == set(), "lines moving is no change"


def test_tests_dependencies_tools_and_module_code_invalidate_everything(tmp_path: Path) -> None:
    base = keys(tmp_path, {})
    everything = set(base)
    assert changed(base, keys(tmp_path, {"tests/test_main.py": TESTS + "\n# more\n"})) == everything
    assert changed(base, keys(tmp_path, {"tests/conftest.py": ""})) == everything
    assert changed(base, keys(tmp_path, {}, env_key="env-2")) == everything
    assert changed(base, keys(tmp_path, {"main.py": MAIN.replace("RATE = 2", "RATE = 3")})) == (
        everything
    )
    route = MAIN.replace('"/label/{x}"', '"/labels/{x}"')
    assert changed(base, keys(tmp_path, {"main.py": route})) == everything
    assert changed(base, keys(tmp_path, {"templates/page.html": "<p>"})) == everything


def test_entries_round_trip_and_only_complete_functions_are_stored(tmp_path: Path) -> None:
    cache = ReuseCache(tmp_path / "cache")
    assert cache.get("ab" * 32) is None
    entry = Entry(3, {1: 1, 2: 0, 3: 33}, ("tests/test_a.py::test_a",))
    cache.put("ab" * 32, entry)
    assert cache.get("ab" * 32) == entry
    reached = Entry(3, {1: 1, 2: 1, 3: 1}, ("tests/test_a.py::test_a", "tests/test_b.py::test_b"))
    cache.put("ab" * 32, reached)  # other tests reach the function now: the latest run's
    assert cache.get("ab" * 32) == reached
    cache.put("ab" * 32, entry)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".tmp")]
    path = tmp_path / "cache" / "cd" / ("cd" * 32 + ".json")
    path.parent.mkdir(parents=True)
    for garbage in (
        b"{",
        b"[]",
        b'{"count": 2, "codes": {"1": 0}}',
        b'{"count": 1, "codes": {"1": true}, "tests": []}',
        b'{"count": 1, "codes": {"1": 0}}',
        b'{"count": 1, "codes": {"1": 0}, "tests": [1]}',
    ):
        path.write_bytes(garbage)
        assert cache.get("cd" * 32) is None

    names = {
        ("main.py", "x_f"): ["main.x_f__mutmut_1", "main.x_f__mutmut_2"],
        ("main.py", "x_g"): ["main.x_g__mutmut_1", "main.x_g__mutmut_2"],
    }
    codes = {"main.x_f__mutmut_1": 1, "main.x_f__mutmut_2": 0, "main.x_g__mutmut_1": 1}
    tests = {"main.x_f": {"tests/t.py::b", "tests/t.py::a"}}
    assert entries(names, {**codes, "main.x_g__mutmut_2": None}, tests) == {
        ("main.py", "x_f"): Entry(2, {1: 1, 2: 0}, ("tests/t.py::a", "tests/t.py::b"))
    }
    assert mutant_number("pkg.mod.xǁCǁm__mb_body__mutmut_12") == 12
    assert mutant_number("main.x_f") is None

    keys = {("main.py", "x_f"): "ab" * 32, ("main.py", "x_g"): "ef" * 32}
    assert json.loads(json.dumps(prefill(cache, keys))) == {
        "main.py": {
            "x_f": {"count": 3, "codes": {"1": 1, "2": 0, "3": 33}, "tests": list(entry.tests)}
        }
    }


def stored(**changes: object) -> StoredStats:
    """The stats of a run of four tests over four functions; ``h`` has no mutants."""
    stats = StoredStats(
        functions=[
            TracedFunction(file="main.py", key="x_f", digest="f1", traced="main.x_f"),
            TracedFunction(file="main.py", key="x_g", digest="g1", traced="main.x_g"),
            TracedFunction(file="main.py", key="x_h", digest="h1", traced=None),
            TracedFunction(file="main.py", key="x_s", digest="s1", traced="main.x_s"),
        ],
        tests_by_function={
            "main.x_f": ["t::a", "t::b"],
            "main.x_g": ["t::b", "t::c"],
            "main.x_s": ["t::a", "t::b", "t::c", "t::d"],
        },
        duration_by_test={"t::a": 0.1, "t::b": 0.2, "t::c": 0.3, "t::d": 0.4},
        shared_hits=["main.x_s"],
    )
    return stats.model_copy(update=changes)


NOW = {("main.py", "x_f"): "f1", ("main.py", "x_g"): "g1", ("main.py", "x_h"): "h1"}
NOW[("main.py", "x_s")] = "s1"


def test_only_the_tests_that_executed_a_changed_function_are_traced_again() -> None:
    same = carry(stored(), NOW)
    assert same is not None and same.retrace == []
    assert same.tests_by_function == stored().tests_by_function

    f_changed = carry(stored(), {**NOW, ("main.py", "x_f"): "f2"})
    assert f_changed is not None and f_changed.retrace == ["t::a", "t::b"]
    # What the traced tests reach is measured again; nobody else's is touched.
    assert f_changed.tests_by_function == {"main.x_g": ["t::c"], "main.x_s": ["t::c", "t::d"]}
    assert f_changed.duration_by_test == {"t::c": 0.3, "t::d": 0.4}

    removed = {node: d for node, d in NOW.items() if node != ("main.py", "x_g")}
    gone = carry(stored(), removed)
    assert gone is not None and gone.retrace == ["t::b", "t::c"]
    assert "main.x_g" not in gone.tests_by_function


def test_changes_the_stored_run_could_not_trace_trace_every_test() -> None:
    # No mutants, so no trampoline saw which tests reach it.
    assert carry(stored(), {**NOW, ("main.py", "x_h"): "h2"}) is None
    # Reached outside any test's call (a fixture, collection): state the tests share.
    assert carry(stored(), {**NOW, ("main.py", "x_s"): "s2"}) is None
    # New: nothing says which tests reach it.
    assert carry(stored(), {**NOW, ("main.py", "x_new"): "n1"}) is None


def test_stored_stats_survive_the_cache_and_garbage_is_ignored(tmp_path: Path) -> None:
    cache = ReuseCache(tmp_path / "cache")
    assert cache.stats("base") is None
    cache.put_stats("base", stored())
    assert cache.stats("base") == stored()
    cache.put_stats("base", stored(shared_hits=[]))  # the latest run's replace them
    assert cache.stats("base") == stored(shared_hits=[])
    assert cache.stats("other") is None
    path = next(p for p in (tmp_path / "cache").rglob("*.json"))
    path.write_bytes(b'{"functions": 3}')
    assert cache.stats("base") is None
