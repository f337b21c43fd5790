"""The copy of a bundle mutmut runs on, staged on the host under our configuration only.

The bundle's own ``[tool.mutmut]`` is dropped (``pyproject.toml`` is rewritten with
ours; of the bundle's file only its ``[tool.pytest...]`` tables are kept), a
``[mutmut]`` section of ``setup.cfg`` is removed, and ``# pragma: no mutate``
comments are blanked: a bundle cannot exempt code. Then the bodies of decorated
functions move into plain functions mutmut mutates
(:mod:`activities.qa.mutation_transform`); the lines are counted before, over the
code as written.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tokenize
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from activities.qa.mutable_lines import LineCounts, count_lines
from activities.qa.mutation_transform import MutatedFunction, transform
from activities.qa.test_runs import QUIET_PLUGINS

TEST_DIRS = ("tests", "test")
PYTEST_ARGS = ("-p", "no:cacheprovider", "-p", "no:randomly", *QUIET_PLUGINS)


@dataclass(frozen=True)
class StagedModule:
    """One of the app's Python files: as the user wrote it, and as mutmut gets it."""

    user_source: str
    staged_source: str
    functions: tuple[MutatedFunction, ...] = ()
    """Every function mutmut mutates in it (moved bodies included)."""
    moved: tuple[str, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()
    """Decorated functions whose bodies stay (not mutated), and why."""

    def function(self, key: str) -> MutatedFunction | None:
        """The function mutmut calls ``key`` (``x_name``, ``xǁClassǁname``)."""
        return next((f for f in self.functions if f.key == key), None)


@dataclass(frozen=True)
class Layout:
    """What of the staged bundle mutmut mutates and what it copies along."""

    sources: tuple[str, ...]
    """The app's Python files (posix paths relative to the bundle), outside its tests."""
    tests: tuple[str, ...]
    """pytest's test selection (``tests/``; empty: pytest's own discovery)."""
    also_copy: tuple[str, ...]
    """Every other top-level entry: mutmut runs the tests in ``mutants/``."""
    lines: LineCounts = field(default_factory=LineCounts)
    unparsable: tuple[str, ...] = ()
    modules: dict[str, StagedModule] = field(default_factory=dict)
    """The app's parsable Python files by path."""

    @property
    def moved(self) -> list[str]:
        """Decorated functions whose bodies were moved, as ``file:name``."""
        return [f"{rel}:{name}" for rel, m in self.modules.items() for name in m.moved]

    @property
    def kept(self) -> dict[str, str]:
        """Decorated functions left where they are, as ``file:name``, and why."""
        return {f"{rel}:{name}": why for rel, m in self.modules.items() for name, why in m.kept}


def is_test_path(rel: PurePosixPath) -> bool:
    """Tests, test scaffolding and the packaging script: not the app's code."""
    name = rel.name
    return (
        any(part in TEST_DIRS for part in rel.parts[:-1])
        or name == "conftest.py"
        or name.startswith("test_")
        or name.endswith("_test.py")
        or rel.as_posix() == "setup.py"
    )


def find_sources(root: Path) -> list[str]:
    """The app's Python files under ``root`` (hidden and cache directories skipped)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and d not in ("__pycache__", "mutants", *TEST_DIRS)
        )
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = PurePosixPath(path.relative_to(root).as_posix())
            if name.endswith(".py") and not path.is_symlink() and not is_test_path(rel):
                found.append(rel.as_posix())
    return found


def stage_bundle(bundle_dir: Path, dest: Path) -> Layout:
    """Copy the bundle to ``dest`` under our mutmut config only; the layout found. Blocking."""
    shutil.copytree(
        bundle_dir,
        dest,
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "mutants"),
    )
    return configure_copy(dest)


def configure_copy(dest: Path) -> Layout:
    """Put a copy of the bundle under our mutmut config only; the layout found. Blocking."""
    sources = find_sources(dest)
    lines = LineCounts()
    unparsable: list[str] = []
    modules: dict[str, StagedModule] = {}
    for rel in sources:
        path = dest / rel
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        staged = strip_pragmas(text)
        try:
            lines += count_lines(text)
            moved = transform(staged)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            unparsable.append(rel)
        else:
            staged = moved.source
            modules[rel] = StagedModule(
                user_source=text,
                staged_source=staged,
                functions=tuple(moved.functions),
                moved=tuple(moved.moved),
                kept=tuple(moved.kept.items()),
            )
        if staged != text:
            path.write_text(staged, encoding="utf-8")
    pytest_config = _pytest_tables(dest / "pyproject.toml")
    (dest / "pyproject.toml").unlink(missing_ok=True)
    _drop_setup_cfg_section(dest / "setup.cfg", "mutmut")
    tests = tuple(f"{d}/" for d in TEST_DIRS if (dest / d).is_dir())[:1]
    skip = {"pyproject.toml", "setup.cfg", "mutants", *TEST_DIRS}
    also_copy = tuple(
        sorted(
            p.name
            for p in dest.iterdir()
            if p.name not in skip and not (p.name.endswith(".py") and p.name in sources)
        )
    )
    layout = Layout(
        sources=tuple(sources),
        tests=tests,
        also_copy=also_copy,
        lines=lines,
        unparsable=tuple(unparsable),
        modules=modules,
    )
    (dest / "pyproject.toml").write_text(pyproject_text(layout, pytest_config), encoding="utf-8")
    return layout


def strip_pragmas(source: str) -> str:
    """``source`` with every comment that mentions ``no mutate`` blanked to ``#``.

    Only comments change (tokenize finds them, so strings are untouched), and
    no line moves. Unparsable code is returned as is: mutmut will not mutate it.
    """
    lines = io.StringIO(source).readlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    for tok in reversed(tokens):
        if tok.type == tokenize.COMMENT and "no mutate" in tok.string.lower():
            (row, col), (_, end) = tok.start, tok.end
            lines[row - 1] = lines[row - 1][:col] + "#" + lines[row - 1][end:]
    return "".join(lines)


def _pytest_tables(pyproject: Path) -> dict[str, Any]:
    """The bundle's ``[tool.pytest...]`` tables (its test settings), if any."""
    if pyproject.is_symlink():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    tool = data.get("tool")
    pytest_config = tool.get("pytest") if isinstance(tool, dict) else None
    return pytest_config if isinstance(pytest_config, dict) else {}


def _drop_setup_cfg_section(path: Path, section: str) -> None:
    """Remove one ``[section]`` from an INI file, leaving every other line as it was."""
    if path.is_symlink() or not path.is_file():
        return
    kept: list[str] = []
    dropping = False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
        header = re.match(r"\s*\[([^\]]*)\]", line)
        if header:
            dropping = header.group(1).strip().lower() == section
        if not dropping:
            kept.append(line)
    path.write_text("".join(kept), encoding="utf-8")


def pyproject_text(layout: Layout, pytest_config: dict[str, Any] | None = None) -> str:
    """Our ``pyproject.toml``: the mutmut config, and the bundle's pytest tables if any."""
    config: dict[str, Any] = {
        "source_paths": list(layout.sources),
        "pytest_add_cli_args_test_selection": list(layout.tests),
        "pytest_add_cli_args": list(PYTEST_ARGS),
        "also_copy": list(layout.also_copy),
        "use_git_change_detection": False,
        "mutate_only_covered_lines": False,
        "debug": False,
        # Each test run in a fresh process: the baseline and every mutant see the state
        # the tests stage saw (no leftovers of an earlier run of the suite).
        "process_isolation": "forkserver",
    }
    text = _toml_table("tool.mutmut", config)
    if pytest_config:
        text += "\n" + _toml_table("tool.pytest", pytest_config)
    return text


def _toml_table(name: str, table: dict[str, Any]) -> str:
    """A TOML table of scalars, arrays and sub-tables (other values are left out)."""
    scalars = [
        f"{json.dumps(key)} = {value}"
        for key, raw in table.items()
        if not isinstance(raw, dict) and (value := _toml_value(raw)) is not None
    ]
    text = f"[{name}]\n" + "".join(line + "\n" for line in scalars)
    for key, raw in table.items():
        if isinstance(raw, dict):
            text += "\n" + _toml_table(f"{name}.{json.dumps(key)}", raw)
    return text


def _toml_value(value: Any) -> str | None:
    # JSON's strings, numbers and booleans are valid TOML (JSON escapes are a subset).
    if isinstance(value, bool | int | str):
        return json.dumps(value)
    if isinstance(value, float):
        return json.dumps(value) if math.isfinite(value) else None
    if isinstance(value, list):
        items = [_toml_value(v) for v in value]
        if any(i is None for i in items):
            return None
        return "[" + ", ".join(i for i in items if i is not None) + "]"
    return None
