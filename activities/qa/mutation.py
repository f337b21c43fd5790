"""Mutation testing: would the bundle's tests notice if its code were wrong?

mutmut 3 runs on a copy of the bundle inside the sandbox (the code and its
tests are untrusted), under the platform's configuration only:

* The copy is staged on the host first. The bundle's own ``[tool.mutmut]``
  is dropped (``pyproject.toml`` is rewritten with ours; of the bundle's
  file only its ``[tool.pytest...]`` tables are kept, so its tests run as in
  the tests stage), a ``[mutmut]`` section of ``setup.cfg`` is removed, and
  ``# pragma: no mutate`` comments are blanked: a bundle cannot exempt code.
* Our config: ``source_paths`` = the app's Python files outside its tests,
  tests selected from ``tests/``, ``-p no:cacheprovider -p no:randomly``,
  every other file of the bundle copied next to the mutants (templates,
  data files), no git change detection.
* :mod:`activities.qa.mutation_driver` runs ``mutmut run --max-children N``
  in the sandbox with crash-safe result files, output to the log, stdin
  from ``/dev/null``. The sandbox gets ``N`` cores (the app limits' CPU
  quota would serialise the children) and ``N + 1`` times the app's
  process budget; memory stays the app's.

Results are read on the host once the sandbox is gone, from mutmut's own
data: each mutant's exit code in ``mutants/<file>.meta``, mapped to a status
exactly as ``mutmut.stats.status_by_exit_code`` does (a test keeps the copy
below equal to the installed mutmut's); counts are the sums of those statuses
(what ``mutmut export-cicd-stats`` computes). Diffs are built from the
``.spans`` index mutmut writes next to each mutated file (the lines of the
unmutated copy and of each mutant), the way ``mutmut show`` does, without a
second mutmut process. Files are read without following links, with size
caps. The same reading serves a run cut short by the timeout: the driver
makes each ``.meta`` write atomic, so a killed run leaves the mutants
checked so far.

Verdict. ``score = killed / (killed + survived)`` as the policy defines it.
The stage fails when mutmut could not run (the baseline tests must pass
first), when it timed out (partial counts are reported), when there were no
mutants at all, when the score is below ``mutation_threshold``, or when too
little of the code is mutable: mutmut only mutates undecorated top-level
functions and methods of top-level classes, so ``mutable_fraction =
mutable_lines / logic_lines`` must reach ``min_mutable_fraction`` — logic
hidden in decorated route handlers, class bodies or module-level code is
logic no mutant ever tests.

``no_tests`` mutants (in functions no test runs at all) are not in the
score, as defined, but they do gate: the stage also fails when
``killed / (killed + survived + no_tests)`` is below the threshold. A mutant
no test executes is one no test would catch; leaving them out entirely lets
a suite that tests one function thoroughly and ignores the rest score 100 %.
Timeouts (a mutant made the tests hang: detected, in effect) count in neither
direction. Survivors are listed first, then no-tests mutants, each with its
diff (at most :data:`MAX_DIFFS` diffs, :data:`MAX_LISTED` entries).

Like the tests stage, this gate catches weak tests, not deception: the
tests run as the same user as mutmut, so code written to forge mutmut's
result files could.
"""

from __future__ import annotations

import ast
import asyncio
import difflib
import io
import json
import math
import os
import re
import shutil
import stat
import time
import tokenize
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from activities.python_ast import parse as parse_python
from activities.qa.test_runs import QUIET_PLUGINS
from activities.qa.workspace import SandboxUser, run_tool
from runtime.base import PythonEnv
from runtime.bwrap import Bind
from schemas.qa import Mutant, MutationReport, QAPolicy

DRIVER_SOURCE = Path(__file__).with_name("mutation_driver.py")
DRIVER_MOUNT = "/mb/mutation_driver.py"
MAX_DIFFS = 200
"""Diffs computed per report (the first survivors, then the first no-tests mutants)."""
MAX_LISTED = 1000
"""Mutants listed per report."""
LOG_TAIL_LINES = 30
MAX_META_BYTES = 16 * 1024 * 1024
MAX_MUTATED_BYTES = 64 * 1024 * 1024
MAX_LOG_SCAN_BYTES = 256 * 1024
TEST_DIRS = ("tests", "test")

MutantStatus = Literal[
    "killed", "survived", "no_tests", "timeout", "suspicious", "skipped", "not_checked"
]

# mutmut.stats.status_by_exit_code (mutmut 3.8), spelled out: mutmut is not imported
# on the host. Unknown exit codes are "suspicious" there too (a defaultdict).
MUTMUT_STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed",
    3: "killed",  # internal error in pytest means a kill
    0: "survived",
    5: "no tests",
    2: "check was interrupted by user",
    None: "not checked",
    33: "no tests",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",  # SIGXCPU
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",  # here also the memory cgroup's OOM kill
}
MUTMUT_DEFAULT_STATUS = "suspicious"

STATUS_BY_MUTMUT_STATUS: dict[str, MutantStatus] = {
    "killed": "killed",
    "caught by type check": "killed",  # never happens: we configure no type checker
    "survived": "survived",
    "no tests": "no_tests",
    "timeout": "timeout",
    "skipped": "skipped",
    "not checked": "not_checked",
    "suspicious": "suspicious",
    "check was interrupted by user": "suspicious",
    "segfault": "suspicious",
}

# What mutmut never mutates (mutmut/mutation/file_mutation.py).
NEVER_MUTATE_FUNCTION_NAMES = frozenset({"__getattribute__", "__setattr__", "__new__"})
NEVER_MUTATE_ENUM_FUNCTION_NAMES = frozenset({"__init__", "_generate_next_value_"})
ENUM_BASE_NAMES = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"})
ALLOWED_DECORATORS = frozenset({"staticmethod", "classmethod"})

PYTEST_ARGS = ("-p", "no:cacheprovider", "-p", "no:randomly", *QUIET_PLUGINS)
_SPINNER = re.compile(r"^[\u2800-\u28ff] ")


def status_of(exit_code: object) -> MutantStatus:
    """A mutant's status from the exit code mutmut recorded for it (``None``: not run yet)."""
    if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
        return "suspicious"  # not something mutmut writes
    return STATUS_BY_MUTMUT_STATUS[MUTMUT_STATUS_BY_EXIT_CODE.get(exit_code, MUTMUT_DEFAULT_STATUS)]


# --- the bundle's layout and its logic lines --------------------------------------------


@dataclass(frozen=True)
class LineCounts:
    """Logic lines of the app's code, and those mutmut can mutate."""

    logic: int = 0
    mutable: int = 0

    def __add__(self, other: LineCounts) -> LineCounts:
        return LineCounts(self.logic + other.logic, self.mutable + other.mutable)


@dataclass(frozen=True)
class Layout:
    """What of the staged bundle mutmut mutates and what it copies along."""

    sources: tuple[str, ...]
    """The app's Python files (posix paths relative to the bundle), outside its tests."""
    tests: tuple[str, ...]
    """pytest's test selection (``tests/``; empty: pytest's own discovery)."""
    also_copy: tuple[str, ...]
    """Every other top-level entry: mutmut runs the tests in ``mutants/``."""
    lines: LineCounts = LineCounts()
    unparsable: tuple[str, ...] = ()


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


def count_lines(source: str) -> LineCounts:
    """Logic lines of one module, and those inside code mutmut mutates.

    A logic line is a line on which a node of a statement starts, for every
    statement except imports, docstrings and other bare constants, ``pass``,
    ``global``/``nonlocal`` and bare annotations; ``def``/``class`` lines,
    decorators and signatures are not logic, but compound statements' headers
    (``if x > 3:``) are. A literal spanning lines (a string, a table of
    constants, an f-string) counts once: data is not logic. A line
    is mutable when it lies in a function mutmut mutates: a top-level
    function or a method of a top-level class, undecorated (or only
    ``@staticmethod``/``@classmethod``), without the names mutmut never
    mutates, minus the bodies of decorated functions nested inside.
    Raises SyntaxError (and ValueError, RecursionError) for unparsable code.
    """
    tree = parse_python(source)
    logic: set[int] = set()
    mutable: set[int] = set()

    def record(lines: Iterable[int], in_mutable: bool) -> None:
        for line in lines:
            logic.add(line)
            if in_mutable:
                mutable.add(line)

    def visit(stmts: list[ast.stmt], in_mutable: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                # Inside a mutated function mutmut skips decorated nested functions too.
                visit(stmt.body, in_mutable and mutmut_mutates(stmt, enum_class=False))
            elif isinstance(stmt, ast.ClassDef):
                visit(stmt.body, in_mutable)
            else:
                record(_header_lines(stmt), in_mutable)
                for body in _bodies(stmt):
                    visit(body, in_mutable)

    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            visit(stmt.body, mutmut_mutates(stmt, enum_class=False))
        elif isinstance(stmt, ast.ClassDef):
            enum_class = _is_enum(stmt)
            for member in stmt.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    visit(member.body, mutmut_mutates(member, enum_class=enum_class))
                else:
                    visit([member], False)  # class-level code and nested classes: never
        else:
            visit([stmt], False)  # module-level code, and functions defined inside it
    return LineCounts(logic=len(logic), mutable=len(mutable & logic))


def mutmut_mutates(func: ast.FunctionDef | ast.AsyncFunctionDef, *, enum_class: bool) -> bool:
    """Whether mutmut mutates this function's body (given it is top-level or a method)."""
    if func.name in NEVER_MUTATE_FUNCTION_NAMES:
        return False
    if enum_class and func.name in NEVER_MUTATE_ENUM_FUNCTION_NAMES:
        return False
    if not func.decorator_list:
        return True
    (only, *rest) = func.decorator_list
    return not rest and isinstance(only, ast.Name) and only.id in ALLOWED_DECORATORS


def _is_enum(cls: ast.ClassDef) -> bool:
    for base in cls.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
        if name in ENUM_BASE_NAMES:
            return True
    return False


def _header_lines(stmt: ast.stmt) -> set[int]:
    """Lines of ``stmt`` itself: all of a simple statement, the header of a compound one."""
    if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass | ast.Global | ast.Nonlocal):
        return set()
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return set()  # docstrings, bare strings, `...`
    if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
        return set()  # a declaration: `name: str`
    parts: list[ast.AST]
    if isinstance(stmt, ast.If | ast.While):
        parts = [stmt.test]
    elif isinstance(stmt, ast.For | ast.AsyncFor):
        parts = [stmt.target, stmt.iter]
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        parts = list(stmt.items)
    elif isinstance(stmt, ast.Try | ast.TryStar):
        parts = [h.type for h in stmt.handlers if h.type is not None]
    elif isinstance(stmt, ast.Match):
        parts = [stmt.subject]
        for case in stmt.cases:
            parts.append(case.pattern)
            if case.guard is not None:
                parts.append(case.guard)
    else:
        return _node_lines(stmt)
    lines: set[int] = set()
    for part in parts:
        lines |= _node_lines(part)
    return lines


def _node_lines(node: ast.AST) -> set[int]:
    lines: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        line = getattr(current, "lineno", None)
        if isinstance(line, int):
            lines.add(line)
        # Data is not logic: a literal (a table of constants, an f-string) counts once,
        # on its first line, however many lines it spans.
        if not isinstance(current, ast.JoinedStr) and not _is_literal(current):
            stack.extend(ast.iter_child_nodes(current))
    return lines


def _is_literal(node: ast.AST) -> bool:
    """A constant, or a list/tuple/set/dict of nothing but literals."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_literal(k) for k in node.keys) and all(
            _is_literal(v) for v in node.values
        )
    return False


def _bodies(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        body = getattr(stmt, name, None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            yield body
    for handler in getattr(stmt, "handlers", []):
        yield handler.body
    for case in getattr(stmt, "cases", []):
        yield case.body


# --- staging the copy mutmut runs on ----------------------------------------------------


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
    for rel in sources:
        path = dest / rel
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        try:
            lines += count_lines(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            unparsable.append(rel)
        stripped = strip_pragmas(text)
        if stripped != text:
            path.write_text(stripped, encoding="utf-8")
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


# --- reading mutmut's results -----------------------------------------------------------


@dataclass
class MutmutResults:
    """Every mutant mutmut generated and its status; diffs for the listed ones."""

    statuses: dict[str, MutantStatus] = field(default_factory=dict)
    listed: list[Mutant] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def count(self, *statuses: MutantStatus) -> int:
        """How many mutants have one of ``statuses``."""
        return sum(1 for s in self.statuses.values() if s in statuses)


def read_results(app_dir: Path, sources: Iterable[str]) -> MutmutResults:
    """Statuses from each source's ``.meta``; survivors' diffs from its ``.spans``. Blocking.

    Call only once the sandbox is gone: nothing may change the files meanwhile.
    """
    results = MutmutResults()
    per_file: list[tuple[str, list[str]]] = []
    for rel in sources:
        try:
            meta = _load_json(app_dir, f"mutants/{rel}.meta", MAX_META_BYTES)
        except ValueError:
            meta = {}
        if meta is None:
            continue  # not mutated (yet)
        codes = meta.get("exit_code_by_key") if isinstance(meta, dict) else None
        if not isinstance(codes, dict):
            results.unreadable.append(rel)
            continue
        for name, code in codes.items():
            results.statuses[name] = status_of(code)
        per_file.append((rel, list(codes)))
    diffs_left = MAX_DIFFS
    for wanted in ("survived", "no_tests"):
        for rel, names in per_file:
            chosen = [n for n in names if results.statuses[n] == wanted]
            chosen = chosen[: max(0, MAX_LISTED - len(results.listed))]
            if not chosen:
                continue
            with_diff = chosen[:diffs_left]
            diffs = _diffs(app_dir, rel, with_diff) if with_diff else {}
            diffs_left -= len(with_diff)
            results.listed += [Mutant(name=n, status=wanted, diff=diffs.get(n)) for n in chosen]
    return results


def _diffs(app_dir: Path, rel: str, names: list[str]) -> dict[str, str]:
    try:
        spans = _load_json(app_dir, f"mutants/{rel}.spans", MAX_META_BYTES)
    except ValueError:
        return {}
    raw = _read_bytes(app_dir, f"mutants/{rel}", MAX_MUTATED_BYTES)
    if not isinstance(spans, dict) or not isinstance(spans.get("spans"), dict) or raw is None:
        return {}
    lines = io.StringIO(raw.decode("utf-8", errors="replace")).readlines()
    result: dict[str, str] = {}
    for name in names:
        diff = mutant_diff(lines, spans["spans"], name, rel)
        if diff is not None:
            result[name] = diff
    return result


def mutant_diff(lines: list[str], spans: dict[str, Any], name: str, path: str) -> str | None:
    """The unified diff of one mutant, as ``mutmut show`` prints it (without its header).

    ``lines`` are the mutated file's; ``spans`` its ``.spans`` index (generated
    function -> first and last line). Both copies are renamed to the original
    function's name so that only the mutation differs; a method is dedented
    to the left margin.
    """
    generated = name.rpartition(".")[2]
    mangled, sep, _ = generated.partition("__mutmut_")
    if not sep:
        return None
    original = mangled + "__mutmut_orig"
    function = mangled.rpartition("\u01c1")[2] if "\u01c1" in mangled else mangled[2:]
    texts: list[list[str]] = []
    for which in (original, generated):
        span = spans.get(which)
        if not (
            isinstance(span, list)
            and len(span) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in span)
            and 1 <= span[0] <= span[1] <= len(lines)
        ):
            return None
        source = "".join(lines[span[0] - 1 : span[1]])
        source = source.replace(f"def {which}(", f"def {function}(", 1)
        texts.append(_dedent_block(source).strip().split("\n"))
    return "\n".join(
        difflib.unified_diff(texts[0], texts[1], fromfile=path, tofile=path, lineterm="")
    )


def _dedent_block(source: str) -> str:
    """Remove the indentation of the block's first code line from every line having it."""
    first = next((ln for ln in source.split("\n") if ln.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    if not indent:
        return source
    return "\n".join(ln.removeprefix(indent) for ln in source.split("\n"))


def _read_bytes(root: Path, rel: str, limit: int) -> bytes | None:
    """A regular file inside ``root``, not through any link; None if absent or too big."""
    path = root / rel
    try:
        if not path.parent.resolve(strict=True).is_relative_to(root.resolve(strict=True)):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (OSError, RuntimeError):
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return f.read(limit + 1)[:limit]


def _load_json(root: Path, rel: str, limit: int) -> Any | None:
    """JSON from :func:`_read_bytes`; None if there is none, ValueError if it is not JSON."""
    raw = _read_bytes(root, rel, limit)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError(f"{rel}: nested too deeply") from None


def _read_log(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - MAX_LOG_SCAN_BYTES))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def clean_log(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of mutmut's output, one line per spinner run."""
    out: list[str] = []
    for line in re.split(r"[\r\n]+", text):
        line = line.rstrip()
        if not line:
            continue
        if _SPINNER.match(line) and out and _SPINNER.match(out[-1]):
            out[-1] = line
        else:
            out.append(line)
    return "\n".join(out[-lines:])


# --- the verdict ------------------------------------------------------------------------


def why_mutmut_failed(log: str, exit_code: int) -> str:
    """What stopped mutmut before it tested the mutants, from its own messages."""
    failed_tests = list(dict.fromkeys(re.findall(r"^(?:FAILED|ERROR) (\S+)", log, re.M)))
    named = f": {', '.join(failed_tests[:5])}" if failed_tests else ""
    stats = re.search(r"failed to collect stats\. runner returned (-?\d+)", log)
    if (stats and int(stats.group(1)) == 5) or "no active tests found" in log:
        return "the baseline run collected no tests"
    if (stats and int(stats.group(1)) == 1) or "Failed to run clean test" in log:
        return f"the bundle's tests fail on its unmutated code (mutmut needs them to pass){named}"
    if stats:
        return (
            "pytest could not run the bundle's tests on its unmutated code "
            f"(exit code {stats.group(1)}){named}"
        )
    if "Failed to run pytest with args" in log:
        return "pytest refused its command line (a usage error: exit code 4)"
    if "could not find any test case for any mutant" in log:
        return "no test executes any of the code mutmut mutated"
    if "none match any mutant key" in log:
        return "the tests import the app under another module path than its files' own"
    if "Unable to force test failures" in log:
        return (
            "the tests still pass when every mutated function raises: "
            "they do not depend on the app's functions"
        )
    return f"mutmut failed (exit code {exit_code}); see the log"


def judge(
    results: MutmutResults,
    layout: Layout,
    policy: QAPolicy,
    *,
    exit_code: int,
    timed_out: bool,
    log: str,
    duration_s: float,
) -> MutationReport:
    """The stage's report from mutmut's results and the code's line counts."""
    killed, survived = results.count("killed"), results.count("survived")
    no_tests, timeouts = results.count("no_tests"), results.count("timeout")
    total = len(results.statuses)
    other = total - killed - survived - no_tests - timeouts
    checked = total - results.count("not_checked")
    score = killed / (killed + survived) if killed + survived else None
    logic, mutable = layout.lines.logic, layout.lines.mutable
    fraction = mutable / logic if logic else None

    problems: list[str] = []
    if not layout.sources:
        problems.append("the bundle has no Python code outside its tests")
    elif timed_out:
        problems.append(
            f"mutation testing did not finish within {policy.mutation_timeout_s:.0f} s "
            f"({checked} of {total} mutants checked)"
        )
    elif total == 0 and (exit_code == 0 or "could not find any test case" in log):
        problems.append("mutmut generated no mutants: the code has nothing it can mutate")
    elif exit_code != 0 and checked:
        problems.append(
            f"mutmut stopped with exit code {exit_code} after {checked} of {total} mutants"
        )
    elif exit_code != 0:
        problems.append(why_mutmut_failed(log, exit_code))
    elif score is None:
        problems.append(f"the tests neither killed nor missed any of the {total} mutants")
    if results.unreadable:
        problems.append(f"mutmut's results for {', '.join(results.unreadable)} are unreadable")
    if layout.unparsable:
        problems.append(f"not valid Python: {', '.join(layout.unparsable)}")
    if fraction is not None and fraction < policy.min_mutable_fraction:
        problems.append(
            f"only {mutable} of {logic} logic lines ({fraction:.0%}) are in functions mutmut "
            f"mutates (minimum {policy.min_mutable_fraction:.0%}): it skips decorated functions "
            "(such as route handlers), class bodies and module-level code, and a bundle cannot "
            "pass by hiding its logic there; move it into plain functions the handlers call"
        )
    if score is not None and score < policy.mutation_threshold:
        problems.append(
            f"mutation score {score:.0%} < {policy.mutation_threshold:.0%}: "
            f"{survived} of {killed + survived} mutants survived the tests"
        )
    if no_tests and killed + survived:
        covered_score = killed / (killed + survived + no_tests)
        if covered_score < policy.mutation_threshold:
            problems.append(
                f"{no_tests} mutants are in code no test runs; counted as survivors the score is "
                f"{covered_score:.0%} < {policy.mutation_threshold:.0%}"
            )

    not_checked = results.count("not_checked")
    summary = (
        f"{killed} killed, {survived} survived, {no_tests} without tests, "
        f"{timeouts} timed out, {other} other"
        + (f" ({not_checked} not checked)" if not_checked else "")
    )
    if problems:
        verdict: Literal["pass", "fail"] = "fail"
        reason = "; ".join([*problems, summary])
    else:
        verdict = "pass"
        reason = f"mutation score {score:.0%} >= {policy.mutation_threshold:.0%} ({summary})"
    return MutationReport(
        verdict=verdict,
        reason=reason,
        score=None if score is None else round(score, 4),
        threshold=policy.mutation_threshold,
        killed=killed,
        survived=survived,
        no_tests=no_tests,
        timeouts=timeouts,
        other=other,
        mutable_lines=mutable,
        logic_lines=logic,
        mutable_fraction=None if fraction is None else round(fraction, 4),
        min_mutable_fraction=policy.min_mutable_fraction,
        survivors=results.listed,
        timed_out=timed_out,
        duration_s=round(duration_s, 3),
        log_tail=clean_log(log),
    )


# --- the stage --------------------------------------------------------------------------


def sandbox_user(user: SandboxUser, max_children: int) -> SandboxUser:
    """The app's limits, widened for ``max_children`` concurrent test processes.

    CPU: the children's cores (the app's quota would run them one at a time).
    Processes: mutmut itself plus each child, each within the app's budget.
    Memory stays the app's: the children share their parent's pages.
    """
    limits = user.limits
    return replace(
        user,
        limits=replace(
            limits,
            cpu=max(limits.cpu, float(max_children)),
            pids=limits.pids * (max_children + 1),
        ),
    )


async def run_mutation(
    bundle_dir: Path,
    env: PythonEnv,
    *,
    policy: QAPolicy,
    work_dir: Path,
    user: SandboxUser,
    max_children: int,
    heartbeat: Callable[[str], None] | None = None,
) -> MutationReport:
    """mutmut over the bundle in the sandbox, within ``policy.mutation_timeout_s``.

    ``max_children`` is how many mutants are tested at once (the cores this
    worker gives the stage). ``heartbeat`` gets a short note before, every few
    seconds during, and after the run. Everything under ``work_dir`` that the
    run created is removed before returning.
    """
    if max_children < 1:
        raise ValueError("max_children must be at least 1")
    beat = heartbeat or (lambda _note: None)
    started = time.monotonic()
    root = work_dir / f"mutation-{uuid.uuid4().hex[:12]}"
    try:
        # A staged copy of its own, as run_tool copies its input as it is; with a hook to
        # prepare run_tool's copy (configure_copy), this extra copy would go.
        layout = await asyncio.to_thread(stage_bundle, bundle_dir, root / "bundle")
        if not layout.sources:
            return judge(
                MutmutResults(),
                layout,
                policy,
                exit_code=0,
                timed_out=False,
                log="",
                duration_s=time.monotonic() - started,
            )
        beat(f"mutation: mutmut starting ({max_children} at once)")
        run = await run_tool(
            root / "bundle",
            env,
            args=("-P", DRIVER_MOUNT, str(max_children)),
            run_dir=root / "run",
            user=sandbox_user(user, max_children),
            timeout_s=policy.mutation_timeout_s,
            extra_ro_binds=(Bind(DRIVER_SOURCE, DRIVER_MOUNT),),
            heartbeat=lambda elapsed: beat(f"mutation: mutmut running for {elapsed:.0f} s"),
        )
        results = await asyncio.to_thread(read_results, run.app_dir, layout.sources)
        log = await asyncio.to_thread(_read_log, run.log_path)
        report = judge(
            results,
            layout,
            policy,
            exit_code=run.result.exit_code,
            timed_out=run.result.timed_out,
            log=log,
            duration_s=time.monotonic() - started,
        )
        beat(f"mutation: {report.verdict}")
        return report
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
