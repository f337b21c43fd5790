"""In-process parsing is serialised (CPython 3.11's shared AST recursion counter)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from activities.generation.blueprints.scaffold import py_literal
from activities.moderation.visible_text import visible_text
from activities.python_ast import PARSE_LOCK, literal_eval, parse
from activities.qa.mutable_lines import count_lines
from activities.qa.static import scan_static
from schemas.qa import QAPolicy
from store.bundles import make_bundle

SOURCE = "def total(xs):\n    return sum(x for x in xs if x > 0)\n"
BUNDLE = make_bundle(
    {
        "main.py": 'TITLE = "Tips"\n',
        "requirements.txt": "fastapi\n",
        "tests/test_main.py": "def test_title():\n    assert True\n",
    }
)


def _blocked_while_lock_held(call: object) -> bool:
    """Whether ``call()`` in another thread waits for PARSE_LOCK (and finishes once released)."""
    assert callable(call)
    done = threading.Event()

    def run() -> None:
        call()
        done.set()

    with ThreadPoolExecutor(1) as pool:
        with PARSE_LOCK:
            future = pool.submit(run)
            waited = not done.wait(0.3)
        future.result(timeout=30)
    return waited and done.is_set()


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse(SOURCE),
        lambda: literal_eval("{'a': (1, 2.5)}"),
        lambda: count_lines(SOURCE),
        lambda: visible_text(BUNDLE),
        lambda: py_literal(("tips", 15)),
    ],
    ids=[
        "parse",
        "literal_eval",
        "mutation.count_lines",
        "moderation.visible_text",
        "scaffold.py_literal",
    ],
)
def test_every_in_process_parser_waits_for_the_parse_lock(call: object) -> None:
    assert _blocked_while_lock_held(call)


def test_bandit_scan_holds_the_parse_lock(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SOURCE, encoding="utf-8")
    assert _blocked_while_lock_held(lambda: scan_static(tmp_path, policy=QAPolicy()))


def test_parse_reports_bad_source_like_ast_parse() -> None:
    with pytest.raises(SyntaxError):
        parse("def broken(:\n")
    with pytest.raises(ValueError):
        literal_eval("__import__('os')")
    assert [type(node).__name__ for node in parse(SOURCE).body] == ["FunctionDef"]
