"""Reusing mutation outcomes across runs: a redeploy that changes one function re-runs its mutants.

Each function mutmut mutates gets a key; when an earlier run stored the outcomes of
that function's mutants under the same key, the driver records them before mutmut
tests any mutant (mutmut skips a mutant that already has an outcome), so only the
mutants of changed functions run. The key is the SHA-256 of:

* the **tools**: the bundle environment's key (the Python version and every
  resolved pin: the dependency set, mutmut, pytest), the platform's mutmut
  configuration, and the sources of the mutation driver, of the transform that
  moves decorated bodies and of this module (:data:`REUSE_VERSION` marks a change
  of meaning);
* the **context**: every file of the staged bundle other than the app's Python
  files (the tests, conftest, templates, data files, the requirements), and every
  app Python file's syntax tree with the bodies of its mutated functions left out
  (imports, constants, class bodies, models, decorators and signatures stay in):
  any change there changes every key, while moved lines, blank lines and comments
  change none;
* the **function**: its file, its name and its syntax tree as written, and those
  of every function that may call it or that it may call, transitively (a name
  reference, static and generous: a method is matched by its name alone). A test
  reaches a mutant through its callers, and its callees carry the mutated values:
  when they change, the same mutant may now live or die.

So a change to tests, dependencies, tools, templates or module-level code re-runs
everything; a change to one handler re-runs that handler and the helpers it calls,
directly or not. Outcomes are stored only from runs that finished (exit code 0,
within the time limit), per function and only when every mutant of it has one,
together with the tests that reached the function in that run. They are reused only
when the same tests reach it now (a change elsewhere can send a test through it, or
away from it, with no call between the two): the driver checks this once mutmut's
stats are known.

**Stats** (which test reaches which function) are carried too: the last finished
run's, under the tools and context part of the key alone, with each function's own
digest. The rule: a test that executed none of the functions that changed since
(changed, added or removed) runs the same code as then, so it reaches the same
functions; only the tests that executed a changed function are traced again. A
change to a function the stored run could not see tests reach (one without mutants:
no trampoline records it), or one reached outside any test's call (while collecting,
in a fixture's set-up or tear-down: state tests share), traces every test. Like
mutmut's own choice of tests per mutant, this assumes a test's path does not depend
on what earlier tests of the same process left behind.

Where: on the worker's disk, under ``<data dir>/qa/mutation-reuse/`` (one small JSON
file per key, written atomically; the same key reached by other tests may mean other
outcomes, and the latest run's replace the stored ones). Several workers of a host
share the data directory and so the entries; a redeploy that lands on another host
runs cold, which costs time but not correctness. The artifact store is not used: it
holds immutable blobs addressed by their own hash, not by a key, and ``mb qa`` runs
the gate without a database. The entries are written by the worker (never by the
sandbox) from mutmut's results, which the bundle's tests could forge anyway (the
stage catches weak tests, not deception); an entry only ever serves a bundle whose
tests and code around the function are byte-identical.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from activities.python_ast import parse as parse_python
from activities.qa.mutation_staging import Layout, StagedModule
from activities.qa.mutation_transform import MutatedFunction

REUSE_VERSION = "2"
"""Bump when what an outcome means changes without any source below changing."""
_OWN_SOURCES = tuple(
    Path(__file__).with_name(name)
    for name in ("mutation_driver.py", "mutation_transform.py", "mutation_reuse.py")
)
MAX_ENTRY_BYTES = 1024 * 1024
MAX_STATS_BYTES = 16 * 1024 * 1024
SKIPPED_DIRS = frozenset({"mutants", "__pycache__", ".pytest_cache"})


@dataclass(frozen=True)
class Entry:
    """The outcomes of one function's mutants: mutmut's exit code per mutant number, and
    the tests that reached the function when they were found."""

    count: int
    codes: dict[int, int]
    tests: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        """The stored form."""
        return json.dumps(
            {
                "count": self.count,
                "codes": {str(k): v for k, v in sorted(self.codes.items())},
                "tests": sorted(self.tests),
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Entry | None:
        """An entry read back, or None when it is not one."""
        try:
            raw = json.loads(data)
            count, tests = raw["count"], raw["tests"]
            codes = {int(k): v for k, v in raw["codes"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        valid = (
            isinstance(count, int)
            and count > 0
            and set(codes) == set(range(1, count + 1))
            and all(isinstance(v, int) and not isinstance(v, bool) for v in codes.values())
            and isinstance(tests, list)
            and all(isinstance(t, str) for t in tests)
        )
        return cls(count, codes, tuple(sorted(tests))) if valid else None


class TracedFunction(BaseModel):
    """One mutated function of a stored stats run: its own digest and, when it had
    mutants (so a trampoline recorded the tests reaching it), mutmut's name for it."""

    file: str
    key: str
    digest: str
    traced: str | None = None


class StoredStats(BaseModel):
    """mutmut's stats of a finished run, with what they were measured on."""

    functions: list[TracedFunction]
    tests_by_function: dict[str, list[str]]
    duration_by_test: dict[str, float]
    shared_hits: list[str]
    """Functions reached outside any test's call (collection, fixtures)."""


class CarriedStats(BaseModel):
    """The driver's stats: the stored ones without the tests to trace again."""

    tests_by_function: dict[str, list[str]]
    duration_by_test: dict[str, float]
    retrace: list[str]


class MutmutStats(BaseModel):
    """The part of mutmut's ``mutants/mutmut-stats.json`` that is carried."""

    tests_by_mangled_function_name: dict[str, list[str]]
    duration_by_test: dict[str, float]


def carry(stored: StoredStats, digests: Mapping[tuple[str, str], str]) -> CarriedStats | None:
    """The stats to start from, given each function's digest now; None: trace every test.

    Only the tests that executed a function that changed since (changed, added or
    removed) are traced again; a change to a function the stored run could not trace,
    or reached outside any test's call, traces every test."""
    before = {(f.file, f.key): f for f in stored.functions}
    shared = set(stored.shared_hits)
    retrace: set[str] = set()
    for node in before.keys() | digests.keys():
        old = before.get(node)
        if old is not None and old.digest == digests.get(node):
            continue
        if old is None or old.traced is None or old.traced in shared:
            return None
        retrace.update(stored.tests_by_function.get(old.traced, ()))
    gone = {f.traced for node, f in before.items() if node not in digests}
    tests_by_function = {
        name: sorted(kept)
        for name, tests in stored.tests_by_function.items()
        if name not in gone and (kept := set(tests) - retrace)
    }
    durations = {t: s for t, s in stored.duration_by_test.items() if t not in retrace}
    return CarriedStats(
        tests_by_function=tests_by_function, duration_by_test=durations, retrace=sorted(retrace)
    )


class ReuseCache:
    """Mutation outcomes by key, in a directory on the worker's disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def _read(self, key: str, limit: int) -> bytes | None:
        try:
            with open(self._path(key), "rb") as f:
                return f.read(limit + 1)[:limit]
        except OSError:
            return None

    def get(self, key: str) -> Entry | None:
        """The entry stored under ``key``, if any (an unreadable one counts as none)."""
        data = self._read(key, MAX_ENTRY_BYTES)
        return Entry.from_json(data) if data is not None else None

    def put(self, key: str, entry: Entry) -> None:
        """Store ``entry`` under ``key``, atomically. The same key with other tests reaching
        the function may have other outcomes: the latest run's replace the stored ones."""
        if self.get(key) != entry:
            self._write(key, entry.to_json())

    def stats(self, base: str) -> StoredStats | None:
        """The last stats stored for this tools-and-context digest, if any."""
        data = self._read(_digest(["stats", base]), MAX_STATS_BYTES)
        try:
            return StoredStats.model_validate_json(data) if data is not None else None
        except ValidationError:
            return None

    def put_stats(self, base: str, stats: StoredStats) -> None:
        """Store ``stats`` for this digest, replacing older ones (atomically)."""
        data = stats.model_dump_json().encode()
        if len(data) <= MAX_STATS_BYTES:
            self._write(_digest(["stats", base]), data)

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class ReusePlan:
    """What a run's reuse is keyed by."""

    keys: dict[tuple[str, str], str]
    """Each mutated function's key: ``(file, mutmut's key) -> key``."""
    base: str
    """The tools and the context (the part of every key that is not a function)."""
    digests: dict[tuple[str, str], str]
    """Each mutated function's own syntax tree, digested."""


def reuse_keys(staged: Path, layout: Layout, env_key: str) -> dict[tuple[str, str], str]:
    """The key of every function mutmut mutates: ``(file, mutmut's key) -> key``. Blocking."""
    return reuse_plan(staged, layout, env_key).keys


def reuse_plan(staged: Path, layout: Layout, env_key: str) -> ReusePlan:
    """Every function's key, the tools-and-context digest and each function's own. Blocking."""
    context: list[str] = [REUSE_VERSION, env_key, *(_read(p) for p in _OWN_SOURCES)]
    for rel, file_digest in _file_digests(staged, layout):
        context += [rel, file_digest]
    base = _digest(context)

    functions = [(rel, f) for rel, m in layout.modules.items() for f in m.functions]
    trees = {rel: _functions_by_line(m) for rel, m in layout.modules.items()}
    found = {(rel, f.key): trees[rel].get(f.user_def_line) for rel, f in functions}
    sources = {
        node: ast.dump(tree, annotate_fields=False) if tree is not None else ""
        for node, tree in found.items()
    }
    graph = _call_graph(layout.modules, found)
    keys: dict[tuple[str, str], str] = {}
    for rel, function in functions:
        node = (rel, function.key)
        near = _closure(node, graph.callees) | _closure(node, graph.callers)
        parts = [base, rel, function.key, sources[node]]
        for other in sorted(near - {node}):
            parts += [*other, sources[other]]
        keys[node] = _digest(parts)
    digests = {node: _digest([*node, source]) for node, source in sources.items()}
    return ReusePlan(keys=keys, base=base, digests=digests)


def prefill(
    cache: ReuseCache, keys: Mapping[tuple[str, str], str]
) -> dict[str, dict[str, dict[str, object]]]:
    """The driver's outcomes to reuse: ``{file: {function key: {count, codes, tests}}}`` for
    every function the cache has outcomes for."""
    found: dict[str, dict[str, dict[str, object]]] = {}
    for (rel, key), digest in keys.items():
        entry = cache.get(digest)
        if entry is not None:
            found.setdefault(rel, {})[key] = {
                "count": entry.count,
                "codes": {str(k): v for k, v in entry.codes.items()},
                "tests": list(entry.tests),
            }
    return found


def mangled(name: str) -> str:
    """mutmut's name of the function a mutant is in, as its stats spell it
    (``pkg.mod.x_f__mutmut_3`` -> ``pkg.mod.x_f``)."""
    return name.replace("__init__.", "").partition("__mutmut_")[0]


def mutant_number(name: str) -> int | None:
    """``main.x_f__mutmut_3`` -> 3."""
    _, sep, number = name.rpartition("__mutmut_")
    return int(number) if sep and number.isdigit() else None


def entries(
    names_by_function: Mapping[tuple[str, str], Iterable[str]],
    exit_codes: Mapping[str, int | None],
    tests_by_function: Mapping[str, Iterable[str]] | None = None,
) -> dict[tuple[str, str], Entry]:
    """What a finished run can store: each function whose mutants all have an outcome,
    with the tests that reached it (``tests_by_function``: mutmut's stats)."""
    stored: dict[tuple[str, str], Entry] = {}
    for node, names in names_by_function.items():
        codes: dict[int, int] = {}
        for name in names:
            number, code = mutant_number(name), exit_codes.get(name)
            if number is None or code is None:
                break
            codes[number] = code
        else:
            if codes and set(codes) == set(range(1, len(codes) + 1)):
                first = next(iter(names))
                tests = (tests_by_function or {}).get(mangled(first), ())
                stored[node] = Entry(len(codes), codes, tuple(sorted(tests)))
    return stored


def stored_stats(
    plan: ReusePlan,
    names_by_function: Mapping[tuple[str, str], Iterable[str]],
    stats: MutmutStats,
    shared_hits: Iterable[str],
) -> StoredStats:
    """What a finished run stores of its stats."""
    traced = {node: mangled(next(iter(names), "")) for node, names in names_by_function.items()}
    return StoredStats(
        functions=[
            TracedFunction(file=rel, key=key, digest=digest, traced=traced.get((rel, key)) or None)
            for (rel, key), digest in sorted(plan.digests.items())
        ],
        tests_by_function={k: sorted(v) for k, v in stats.tests_by_mangled_function_name.items()},
        duration_by_test=stats.duration_by_test,
        shared_hits=sorted(set(shared_hits)),
    )


# --- the parts of the key ---------------------------------------------------------------


def _digest(parts: Iterable[str]) -> str:
    """SHA-256 of the parts, each length-prefixed (no two lists of parts collide)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _file_digests(staged: Path, layout: Layout) -> list[tuple[str, str]]:
    """Every staged file but the app's Python files, by content; those by skeleton."""
    found: list[tuple[str, str]] = []
    sources = set(layout.sources)
    for dirpath, dirnames, filenames in os.walk(staged):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(staged).as_posix()
            if rel in sources:
                module = layout.modules.get(rel)
                text = _skeleton(module) if module is not None else _read_bytes_text(path)
            elif path.is_symlink():
                text = "link:" + os.readlink(path)
            else:
                text = _read_bytes_text(path)
            found.append((rel, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()))
    return found


def _read_bytes_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return "unreadable"


def _skeleton(module: StagedModule) -> str:
    """The user's module with the bodies of its mutated functions left out, as an AST
    dump: lines moving, blank lines and comments change nothing."""
    tree = parse_python(module.user_source)
    mutated = {f.user_def_line for f in module.functions}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno in mutated:
            node.body = [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def _functions_by_line(module: StagedModule) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The module's functions as written, by the line of their ``def``."""
    return {
        node.lineno: node
        for node in ast.walk(parse_python(module.user_source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


@dataclass
class _Graph:
    callees: dict[tuple[str, str], set[tuple[str, str]]]
    callers: dict[tuple[str, str], set[tuple[str, str]]]


def _call_graph(
    modules: Mapping[str, StagedModule],
    trees: Mapping[tuple[str, str], ast.FunctionDef | ast.AsyncFunctionDef | None],
) -> _Graph:
    """Who may call whom among the mutated functions, by the names each one mentions."""
    by_name: dict[str, set[tuple[str, str]]] = {}
    nodes: list[tuple[tuple[str, str], MutatedFunction]] = []
    for rel, module in modules.items():
        for function in module.functions:
            node = (rel, function.key)
            nodes.append((node, function))
            by_name.setdefault(function.name.rpartition(".")[2], set()).add(node)
    callees: dict[tuple[str, str], set[tuple[str, str]]] = {node: set() for node, _ in nodes}
    callers: dict[tuple[str, str], set[tuple[str, str]]] = {node: set() for node, _ in nodes}
    for node, _function in nodes:
        for name in _mentioned(trees.get(node)):
            for other in by_name.get(name, ()):
                if other != node:
                    callees[node].add(other)
                    callers[other].add(node)
    return _Graph(callees, callers)


def _mentioned(tree: ast.AST | None) -> set[str]:
    """The names and attribute names a function mentions."""
    names: set[str] = set()
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


def _closure(
    start: tuple[str, str], edges: Mapping[tuple[str, str], set[tuple[str, str]]]
) -> set[tuple[str, str]]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
