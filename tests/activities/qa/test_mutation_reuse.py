"""Reusing mutation outcomes: what invalidates a function's outcomes, and the cache itself."""

from __future__ import annotations

import json
from pathlib import Path

from activities.qa.mutation_reuse import (
    Entry,
    ReuseCache,
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
    entry = Entry(3, {1: 1, 2: 0, 3: 33})
    cache.put("ab" * 32, entry)
    assert cache.get("ab" * 32) == entry
    cache.put("ab" * 32, Entry(1, {1: 0}))  # the same key stores the same outcomes: kept
    assert cache.get("ab" * 32) == entry
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".tmp")]
    path = tmp_path / "cache" / "cd" / ("cd" * 32 + ".json")
    path.parent.mkdir(parents=True)
    for garbage in (
        b"{",
        b"[]",
        b'{"count": 2, "codes": {"1": 0}}',
        b'{"count": 1, "codes": {"1": true}}',
    ):
        path.write_bytes(garbage)
        assert cache.get("cd" * 32) is None

    names = {
        ("main.py", "x_f"): ["main.x_f__mutmut_1", "main.x_f__mutmut_2"],
        ("main.py", "x_g"): ["main.x_g__mutmut_1", "main.x_g__mutmut_2"],
    }
    codes = {"main.x_f__mutmut_1": 1, "main.x_f__mutmut_2": 0, "main.x_g__mutmut_1": 1}
    assert entries(names, {**codes, "main.x_g__mutmut_2": None}) == {
        ("main.py", "x_f"): Entry(2, {1: 1, 2: 0})
    }
    assert mutant_number("pkg.mod.xǁCǁm__mb_body__mutmut_12") == 12
    assert mutant_number("main.x_f") is None

    keys = {("main.py", "x_f"): "ab" * 32, ("main.py", "x_g"): "ef" * 32}
    assert json.loads(json.dumps(prefill(cache, keys))) == {
        "main.py": {"x_f": {"count": 3, "codes": {"1": 1, "2": 0, "3": 33}}}
    }
