"""pytest plugin: which tests touch a source of nondeterminism, and repeated runs of them.

Mounted read-only into the QA sandbox as ``mb_nondeterminism`` and loaded with
``-p mb_nondeterminism``; it imports nothing but the standard library and pytest.

**Tracing** (``--mb-trace-out=FILE``). While each test runs (setup, call and
teardown) a profile hook (``sys.setprofile``, and ``threading.setprofile`` for the
threads the test starts) and an audit hook note the sources of nondeterminism
that code outside the standard library and the test tooling reaches: ``random``
(module functions, an unseeded ``Random``, ``SystemRandom``), ``secrets``,
``uuid1``/``uuid4``, ``os.urandom``, the clock (``time`` and ``datetime``),
``hash()``, threads, the file system outside ``/tmp`` (writes, renames,
removals, SQLite files), and functions of the bundle that consume a set in an
order-dependent way (found by reading the bundle's source: ``for`` over a set,
``list(set)``, ``"".join(set)``, ``set.pop()``...; their order follows
``PYTHONHASHSEED``). Sources reached while a module is imported are recorded
against the module. The result is written as JSON.

**Seeding** (``--mb-random-seed=N``). ``random`` is seeded with N when the
session starts, so a run is reproducible from its seeds while different runs
draw differently.

**Repeating** (``--mb-repeat=K --mb-repeat-out=FILE``). Each collected test runs
up to K more times in this process, ``random`` re-seeded before each repetition
(a seed of its own per test and repetition),
and stops at the first outcome that differs from the one before it. Higher-scoped
fixtures stay up between repetitions; function-scoped ones are made anew.
"""

from __future__ import annotations

import ast
import builtins
import datetime
import hashlib
import json
import os
import random
import secrets
import sys
import sysconfig
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

RANDOM, SECRETS, UUID, URANDOM, CLOCK = "random", "secrets", "uuid", "os.urandom", "clock"
HASH, SET_ORDER, THREADS, FILESYSTEM = "hash", "set order", "threads", "file system"
PROCESS_LEVEL = frozenset({HASH, SET_ORDER})
DRAWN_AT_IMPORT = frozenset({RANDOM, SECRETS, UUID, URANDOM})
"""Sources worth recording while a module is imported: values drawn once per process."""
"""Sources that vary only between processes (the str hash secret is fixed at start-up)."""

_TOOLING = (
    "_pytest",
    "pytest",
    "pluggy",
    "anyio",
    "starlette",
    "fastapi",
    "httpx",
    "httpcore",
    "h11",
    "sniffio",
    "idna",
    "certifi",
    "pydantic",
    "pydantic_core",
    "hypothesis",
    "schemathesis",
    "pytest_jsonreport",
    "pytest_metadata",
    "uvicorn",
    "jinja2",
    "markupsafe",
    "typing_extensions",
    "annotated_types",
    "mb_nondeterminism",
    "mb_shuffle",
)
_STDLIB = tuple(
    {
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["platstdlib"],
    }
)
_BUNDLE, _TOOL, _OTHER = "bundle", "tooling", "other"
_MAX_DEPTH = 40
_THIS_FILE = __file__
_TMP = ("/tmp/", "/dev/", "/proc/")  # noqa: S108 - the sandbox's private tmpfs
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Tracer:
    """Notes, per test (or per module being imported), the sources of nondeterminism
    the code under test reaches."""

    def __init__(self, bundle_root: Path) -> None:
        self.bundle_root = str(bundle_root)
        self.current: str | None = None
        self.touched: dict[str, set[str]] = {}
        self._kinds: dict[str, str] = {}
        self._noted: set[str] = set()
        self._seeded: weakref.WeakSet[random.Random] = weakref.WeakSet()
        self._c_sources: dict[Any, str] = {}
        self._py_sources: dict[CodeType, str] = {}
        self._seeding: dict[CodeType, str] = {}
        self._set_order = set_order_functions(bundle_root)
        self._watch()

    def _watch(self) -> None:
        c_clock: list[Any] = [
            time.time,
            time.time_ns,
            time.monotonic,
            time.monotonic_ns,
            time.perf_counter,
            time.perf_counter_ns,
            time.localtime,
            time.ctime,
            datetime.datetime.now,
            datetime.datetime.utcnow,
            datetime.datetime.today,
            datetime.date.today,
        ]
        self._c_sources.update(dict.fromkeys(c_clock, CLOCK))
        self._c_sources.update({os.urandom: URANDOM, builtins.hash: HASH})
        self._c_sources.update({random.random: RANDOM, random.getrandbits: RANDOM})
        if hasattr(os, "getrandom"):
            self._c_sources[os.getrandom] = URANDOM
        self._seeding = {random.Random.__init__.__code__: "x", random.Random.seed.__code__: "a"}
        py: dict[Callable[..., Any], str] = {
            random.Random.__init__: RANDOM,
            random.Random.seed: RANDOM,
            random.Random.randrange: RANDOM,
            random.Random.randint: RANDOM,
            random.Random.choice: RANDOM,
            random.Random.choices: RANDOM,
            random.Random.shuffle: RANDOM,
            random.Random.sample: RANDOM,
            random.Random.uniform: RANDOM,
            random.Random.triangular: RANDOM,
            random.Random.gauss: RANDOM,
            random.Random.normalvariate: RANDOM,
            random.Random.expovariate: RANDOM,
            random.Random.randbytes: RANDOM,
            random.SystemRandom.random: RANDOM,
            random.SystemRandom.getrandbits: RANDOM,
            secrets.token_bytes: SECRETS,
            secrets.token_hex: SECRETS,
            secrets.token_urlsafe: SECRETS,
            secrets.randbelow: SECRETS,
            secrets.randbits: SECRETS,
            uuid.uuid1: UUID,
            uuid.uuid4: UUID,
            threading.Thread.start: THREADS,
        }
        self._py_sources.update({f.__code__: s for f, s in py.items()})

    # -- attribution ------------------------------------------------------------------

    def note(self, source: str) -> None:
        """Record ``source`` against the test (or module import) under way."""
        if self.current is not None:
            self._noted.add(source)

    def _kind(self, filename: str) -> str:
        kind = self._kinds.get(filename)
        if kind is None:
            parts = Path(filename).parts
            if filename.startswith(self.bundle_root) and "site-packages" not in parts:
                kind = _BUNDLE
            elif filename == _THIS_FILE or any(part in _TOOLING for part in parts):
                kind = _TOOL
            else:
                kind = _OTHER
            self._kinds[filename] = kind
        return kind

    def speaks_for_bundle(self, frame: FrameType | None) -> bool:
        """Whether a call made in ``frame`` was made on the bundle's behalf: walking up the
        stack, bundle code (the app or its tests) comes before any test tooling (pytest,
        the ASGI test client...). The standard library and other libraries in between
        are transparent: the bundle's randomness may come through them."""
        for _ in range(_MAX_DEPTH):
            if frame is None:
                return False
            kind = self._kind(frame.f_code.co_filename)
            if kind is not _OTHER:
                return kind is _BUNDLE
            frame = frame.f_back
        return False

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        """The profile hook: dictionary lookups on calls; the stack is walked only for
        a watched call not yet noted for the test under way."""
        if event == "c_call":
            try:
                source = self._c_sources.get(arg)
            except TypeError:  # an unhashable callable
                return
            if source is not None and source not in self._noted and self.speaks_for_bundle(frame):
                self.note(source)
        elif event == "call":
            code = frame.f_code
            source = self._py_sources.get(code)
            if source is not None:
                if source == RANDOM and self._reproducible(code, frame):
                    return
                if source not in self._noted and self.speaks_for_bundle(frame.f_back):
                    self.note(source)
            elif self._set_order and self._kind(code.co_filename) is _BUNDLE:
                if (code.co_filename, code.co_firstlineno) in self._set_order:
                    self.note(SET_ORDER)

    def _reproducible(self, code: CodeType, frame: FrameType) -> bool:
        """A ``Random`` seeded with a value draws the same every run; the module's own
        instance and unseeded ones do not."""
        instance = frame.f_locals.get("self")
        seed_arg = self._seeding.get(code)
        if seed_arg is not None and instance is not None:
            if frame.f_locals.get(seed_arg) is None or instance is random._inst:
                self._seeded.discard(instance)
                return False
            self._seeded.add(instance)
            return True
        return instance is not None and instance in self._seeded

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook: writes to the file system outside ``/tmp``."""
        if self.current is None:
            return
        path: Any = None
        if event == "open" and len(args) >= 3:
            mode, flags = args[1], args[2]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            path = args[0] if writes else None
        elif event in ("os.remove", "os.rename", "os.mkdir", "os.rmdir", "shutil.rmtree"):
            path = args[0] if args else None
        elif event == "sqlite3.connect" and args and args[0] != ":memory:":
            path = args[0]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if isinstance(path, str) and path and not os.path.abspath(path).startswith(_TMP):
            self.note(FILESYSTEM)

    # -- installation -----------------------------------------------------------------

    def start(self, key: str) -> None:
        """Attribute what follows to ``key`` and trace this thread and new ones."""
        self.current = key
        self._noted = self.touched.setdefault(key, set())
        sys.setprofile(self.profile)
        threading.setprofile(self.profile)

    def stop(self) -> None:
        """Stop tracing this thread and threads started from now on."""
        sys.setprofile(None)
        threading.setprofile(None)
        self.current = None
        self._noted = set()


def _iterable_set(node: ast.AST, set_names: set[str]) -> bool:
    """Whether ``node`` is (certainly) a set: a literal, a comprehension, ``set(...)``,
    ``frozenset(...)``, a set operation of those, or a local name bound to one."""
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("set", "frozenset")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.BitAnd | ast.Sub):
        return _iterable_set(node.left, set_names) or _iterable_set(node.right, set_names)
    return isinstance(node, ast.Name) and node.id in set_names


_ORDER_CONSUMERS = frozenset({"list", "tuple", "enumerate", "next", "iter", "zip", "str", "repr"})
_UNORDERED_CONSUMERS = frozenset(
    {"all", "any", "sum", "len", "min", "max", "sorted", "set", "frozenset", "Counter"}
)
_COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.DictComp)


def _order_dependent(function: ast.AST) -> bool:
    """Whether ``function``'s own body consumes a set in iteration order: a ``for`` over
    it, ``list``/``tuple``/``join`` of it, ``pop()``, or a list, dict or generator built
    from it, unless that is fed straight to ``sorted``, ``all``, ``sum``... (set
    comprehensions are unordered too)."""
    set_names: set[str] = set()
    unordered: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and _iterable_set(node.value, set_names):
            set_names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and _name_of(node.func) in _UNORDERED_CONSUMERS
            and node.args
        ):
            unordered.add(id(node.args[0]))
    for node in ast.walk(function):
        if isinstance(node, ast.For) and _iterable_set(node.iter, set_names):
            return True
        if isinstance(node, _COMPREHENSIONS) and id(node) not in unordered:
            if any(_iterable_set(g.iter, set_names) for g in node.generators):
                return True
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Name)
                and func.id in _ORDER_CONSUMERS
                and node.args
                and _iterable_set(node.args[0], set_names)
            ):
                return True
            if isinstance(func, ast.Attribute) and (
                (func.attr == "join" and node.args and _iterable_set(node.args[0], set_names))
                or (func.attr == "pop" and not node.args and _iterable_set(func.value, set_names))
            ):
                return True
    return False


def _name_of(func: ast.Name | ast.Attribute) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr


def set_order_functions(root: Path, *, max_files: int = 500) -> set[tuple[str, int]]:
    """(file, first line) of every function under ``root`` whose body consumes a set in
    iteration order (the code object's ``co_firstlineno`` is the ``def`` line, or its
    first decorator's)."""
    found: set[tuple[str, int]] = set()
    for count, path in enumerate(sorted(root.rglob("*.py"))):
        if count >= max_files:
            break
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if _order_dependent(node):
                    first = min([node.lineno, *(d.lineno for d in _decorators(node))])
                    found.add((str(path), first))
    return found


def _decorators(node: ast.AST) -> Iterable[ast.expr]:
    return getattr(node, "decorator_list", [])


# --- pytest hooks ------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the plugin's options."""
    group = parser.getgroup("mb-nondeterminism")
    group.addoption("--mb-trace-out", default=None, help="write touched sources here")
    group.addoption("--mb-random-seed", type=int, default=None, help="seed random with this")
    group.addoption("--mb-repeat", type=int, default=0, help="repeat each test up to K times")
    group.addoption("--mb-repeat-out", default=None, help="write repeated outcomes here")
    group.addoption(
        "--mb-repeat-expect",
        default=None,
        help="JSON {nodeid: outcome}: repeat only these tests, stop when one differs",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Seed ``random``; register the tracing or the repeating part when asked."""
    seed = config.getoption("mb_random_seed")
    if seed is not None:
        random.seed(seed)
    trace_out = config.getoption("mb_trace_out")
    if trace_out:
        config.pluginmanager.register(Tracing(Path(str(config.rootpath)), trace_out))
    times = int(config.getoption("mb_repeat") or 0)
    repeat_out = config.getoption("mb_repeat_out")
    if times > 0 and repeat_out:
        expect_path = config.getoption("mb_repeat_expect")
        expected: dict[str, str] | None = None
        if expect_path:
            with open(expect_path, encoding="utf-8") as handle:
                expected = {str(k): str(v) for k, v in json.load(handle).items()}
        config.pluginmanager.register(Repeating(times, seed or 0, repeat_out, expected))


class Tracing:
    """Traces each module import and each test; writes ``{key: [sources]}`` at the end."""

    def __init__(self, root: Path, out: str) -> None:
        self.tracer = Tracer(root)
        self.out = out
        sys.addaudithook(self.tracer.audit)

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, Any]:
        """Randomness drawn while a test module is imported is recorded against it."""
        if not isinstance(collector, pytest.Module):
            return (yield)
        key = f"<import {collector.nodeid}>"
        self.tracer.start(key)
        try:
            return (yield)
        finally:
            self.tracer.stop()
            drawn = self.tracer.touched.pop(key, set()) & DRAWN_AT_IMPORT
            if drawn:
                self.tracer.touched[key] = drawn

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, Any]:
        """Setup, call and teardown of the test, traced."""
        self.tracer.start(item.nodeid)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            self.tracer.note(RANDOM)  # unless derandomized, its examples differ per run
        try:
            return (yield)
        finally:
            self.tracer.stop()

    def pytest_sessionfinish(self) -> None:
        """Write what was traced."""
        _write(self.out, {k: sorted(v) for k, v in self.tracer.touched.items() if v})


class Repeating:
    """Runs each test up to ``times`` times, ``random`` re-seeded before each, and stops
    at the first outcome that differs from the one before."""

    def __init__(
        self, times: int, seed: int, out: str, expected: dict[str, str] | None = None
    ) -> None:
        self.times = times
        self.seed = seed
        self.out = out
        self.expected = expected
        self.outcomes: dict[str, list[str]] = {}

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep only the tests named in the expectations (when there are some)."""
        if self.expected is None:
            return
        kept = [item for item in items if item.nodeid in self.expected]
        dropped = [item for item in items if item.nodeid not in self.expected]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        """Run ``item`` repeatedly; fixtures the next item shares stay up in between."""
        before = (self.expected or {}).get(item.nodeid)
        outcomes: list[str] = []
        for repetition in range(self.times):
            random.seed(repetition_seed(self.seed, item.nodeid, repetition))
            outcomes.append(_outcome(runtestprotocol(item, log=False, nextitem=nextitem)))
            if len({*outcomes, *([before] if before else [])}) > 1:
                break
        self.outcomes[item.nodeid] = outcomes
        return True

    def pytest_sessionfinish(self) -> None:
        """Write the outcomes of every repetition."""
        _write(self.out, self.outcomes)


def repetition_seed(seed: int, nodeid: str, repetition: int) -> int:
    """The seed of ``random`` before one repetition of one test: distinct per test and
    per repetition, so the repetitions of different tests are independent trials."""
    digest = hashlib.sha256(f"{seed}:{nodeid}:{repetition}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _outcome(reports: list[pytest.TestReport]) -> str:
    """One repetition's outcome, named as the test runs name them: a failed setup or
    teardown is an error; a skip or an expected failure is skipped."""
    result = "passed"
    for report in reports:
        if report.failed and report.when != "call":
            return "error"
        if report.skipped:
            result = "skipped"
        elif report.failed:
            result = "failed"
    return result


def _write(path: str, document: dict[str, list[str]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
