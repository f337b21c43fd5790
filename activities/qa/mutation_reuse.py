"""Reusing mutation outcomes across runs: a redeploy that changes one function re-runs its mutants.

Each function mutmut mutates gets a key; when an earlier run stored the outcomes of
that function's mutants under the same key, the driver records them before mutmut
tests anything (mutmut skips a mutant that already has an outcome), so only the
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
within the time limit), per function and only when every mutant of it has one.

Where: on the worker's disk, under ``<data dir>/qa/mutation-reuse/`` (one small
JSON file per key, written atomically, never rewritten: the same key means the
same outcomes). Several workers of a host share the data directory and so the
entries; a redeploy that lands on another host runs cold, which costs time but not
correctness. The artifact store is not used: it holds immutable blobs addressed by
their own hash, not by a key, and ``mb qa`` runs the gate without a database. The
entries are written by the worker (never by the sandbox) from mutmut's results,
which the bundle's tests could forge anyway (the stage catches weak tests, not
deception); an entry only ever serves a bundle whose tests and code around the
function are byte-identical.
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

from activities.python_ast import parse as parse_python
from activities.qa.mutation_staging import Layout, StagedModule
from activities.qa.mutation_transform import MutatedFunction

REUSE_VERSION = "1"
"""Bump when what an outcome means changes without any source below changing."""
_OWN_SOURCES = tuple(
    Path(__file__).with_name(name)
    for name in ("mutation_driver.py", "mutation_transform.py", "mutation_reuse.py")
)
MAX_ENTRY_BYTES = 1024 * 1024
SKIPPED_DIRS = frozenset({"mutants", "__pycache__", ".pytest_cache"})


@dataclass(frozen=True)
class Entry:
    """The outcomes of one function's mutants: mutmut's exit code per mutant number."""

    count: int
    codes: dict[int, int]

    def to_json(self) -> bytes:
        """The stored form."""
        return json.dumps(
            {"count": self.count, "codes": {str(k): v for k, v in sorted(self.codes.items())}}
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Entry | None:
        """An entry read back, or None when it is not one."""
        try:
            raw = json.loads(data)
            count = raw["count"]
            codes = {int(k): v for k, v in raw["codes"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        valid = (
            isinstance(count, int)
            and count > 0
            and set(codes) == set(range(1, count + 1))
            and all(isinstance(v, int) and not isinstance(v, bool) for v in codes.values())
        )
        return cls(count, codes) if valid else None


class ReuseCache:
    """Mutation outcomes by key, in a directory on the worker's disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Entry | None:
        """The entry stored under ``key``, if any (an unreadable one counts as none)."""
        try:
            with open(self._path(key), "rb") as f:
                return Entry.from_json(f.read(MAX_ENTRY_BYTES + 1)[:MAX_ENTRY_BYTES])
        except OSError:
            return None

    def put(self, key: str, entry: Entry) -> None:
        """Store ``entry`` under ``key`` (atomically; a concurrent writer stores the same)."""
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(entry.to_json())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def reuse_keys(staged: Path, layout: Layout, env_key: str) -> dict[tuple[str, str], str]:
    """The key of every function mutmut mutates: ``(file, mutmut's key) -> key``. Blocking."""
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
    return keys


def prefill(
    cache: ReuseCache, keys: Mapping[tuple[str, str], str]
) -> dict[str, dict[str, dict[str, object]]]:
    """The driver's prefill document: ``{file: {function key: {count, codes}}}`` for every
    function the cache has outcomes for."""
    found: dict[str, dict[str, dict[str, object]]] = {}
    for (rel, key), digest in keys.items():
        entry = cache.get(digest)
        if entry is not None:
            found.setdefault(rel, {})[key] = {
                "count": entry.count,
                "codes": {str(k): v for k, v in entry.codes.items()},
            }
    return found


def mutant_number(name: str) -> int | None:
    """``main.x_f__mutmut_3`` -> 3."""
    _, sep, number = name.rpartition("__mutmut_")
    return int(number) if sep and number.isdigit() else None


def entries(
    names_by_function: Mapping[tuple[str, str], Iterable[str]],
    exit_codes: Mapping[str, int | None],
) -> dict[tuple[str, str], Entry]:
    """What a finished run can store: each function whose mutants all have an outcome."""
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
                stored[node] = Entry(len(codes), codes)
    return stored


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
