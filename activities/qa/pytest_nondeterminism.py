"""pytest plugin: which tests touch a source of nondeterminism, and repeated runs of them.

Mounted read-only into the QA sandbox as ``mb_nondeterminism`` and loaded with
``-p mb_nondeterminism``, with its companion ``mb_nondeterminism_source`` beside it; they
import nothing but the standard library and pytest.

**Tracing** (``--mb-trace-out=FILE``). Notes, per test (setup, call and teardown), the
sources of nondeterminism the bundle's code reaches: ``random`` (module functions, an
unseeded ``Random``, ``SystemRandom``), ``secrets``, ``uuid1``/``uuid4``, ``os.urandom``,
the clock (``time`` and ``datetime``), ``hash()``, threads, the file system outside
``/tmp`` (writes, renames, removals, SQLite files), and functions that consume a set in an
order-dependent way (``for`` over a set, ``list(set)``, ``"".join(set)``...; the order
follows ``PYTHONHASHSEED``); and per module import, what it draws. Written as JSON.

No hook runs on every call. Before the first conftest is imported, the sources' functions
are wrapped, also where loaded modules hold them (``from time import monotonic``); called
during a test, a wrapper walks up the stack, once per test and source: the call counts when
bundle code (the app or its tests) comes before any test tooling (pytest, the ASGI test
client...); other code in between is transparent. A ``Random`` seeded with a value does not
count; a file write counts whoever makes it. What cannot be wrapped (``datetime.now()``
and the like; a set's order) is read from the source (:mod:`mb_nondeterminism_source`):
the bundle's modules are compiled with notes as they are imported, except those pytest
rewrites (test modules, conftests), which are read: a test notes what its function, the
module's functions it calls and the fixtures it sets up contain.

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

import builtins
import functools
import hashlib
import importlib
import json
import os
import random
import secrets
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Generator
from importlib.machinery import FileFinder
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.runner import runtestprotocol

if TYPE_CHECKING or __package__:
    from . import mb_nondeterminism_source as source_reading
else:  # mounted beside this file, which is imported by its file name
    import mb_nondeterminism_source as source_reading

RANDOM, SECRETS, UUID, URANDOM = "random", "secrets", "uuid", "os.urandom"
CLOCK, SET_ORDER = source_reading.CLOCK, source_reading.SET_ORDER
HASH, THREADS, FILESYSTEM = "hash", "threads", "file system"
PROCESS_LEVEL = frozenset({HASH, SET_ORDER})
"""Sources that vary only between processes (the str hash secret is fixed at start-up)."""
DRAWN_AT_IMPORT = frozenset({RANDOM, SECRETS, UUID, URANDOM})
"""Sources worth recording while a module is imported: values drawn once per process."""

_TOOLING = frozenset(
    "_pytest pytest pluggy anyio starlette fastapi httpx httpcore h11 sniffio idna certifi"
    " pydantic pydantic_core hypothesis schemathesis pytest_jsonreport pytest_metadata"
    " uvicorn jinja2 markupsafe typing_extensions annotated_types mb_shuffle".split()
)
_BUNDLE, _TOOL, _OTHER, _SELF = "bundle", "tooling", "other", "self"
_MAX_DEPTH = 40
_OWN_FILES = (__file__, source_reading.__file__)
_TMP = ("/tmp/", "/dev/", "/proc/")  # noqa: S108 - the sandbox's private tmpfs
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FIRST_PARAMETER = {"builtins.open": "file", "os.rename": "src", "os.replace": "src"}
_FIRST_PARAMETER |= {"sqlite3.connect": "database"}
_FILE_OPERATIONS = "builtins.open os.open os.remove os.unlink os.rename os.replace os.mkdir"
_FILE_OPERATIONS += " os.rmdir shutil.rmtree sqlite3.connect"
"""Functions that write to the file system, wrapped like the sources (no stack walk: any
write counts, whoever makes it)."""
_RANDOM_METHODS = (
    "randrange randint choice choices shuffle sample uniform triangular gauss normalvariate"
    " lognormvariate expovariate vonmisesvariate gammavariate betavariate paretovariate"
    " weibullvariate randbytes".split()
)
_WRAPPED = (
    (random, "random getrandbits", RANDOM),
    (secrets, "token_bytes token_hex token_urlsafe randbelow randbits choice", SECRETS),
    (uuid, "uuid1 uuid4", UUID),
    (os, "urandom getrandom", URANDOM),
    (time, "time time_ns monotonic monotonic_ns perf_counter perf_counter_ns", CLOCK),
    (time, "localtime ctime", CLOCK),
    (builtins, "hash", HASH),
)
"""Module functions wrapped, wherever a loaded module holds them."""
_XUNIT = "setup_method teardown_method setUp tearDown setup_function teardown_function".split()


class _State:
    """What the wrappers read, from any thread: the test (or module import) under way, set
    by the main thread, and the sources noted for it."""

    __slots__ = ("current", "noted")

    def __init__(self) -> None:
        self.current: str | None = None
        self.noted: set[str] = set()


_STATE = _State()


class Tracer:
    """Notes, per test (or per module being imported), the sources of nondeterminism
    the code under test reaches."""

    def __init__(self, bundle_root: Path) -> None:
        self.bundle_root = str(bundle_root)
        self.touched: dict[str, set[str]] = {}
        self.instrumented: set[str] = set()
        self._kinds: dict[object, str] = {}
        self._seeded: weakref.WeakSet[random.Random] = weakref.WeakSet()
        self._wrappers: set[CodeType] = set()
        self._patched: list[tuple[object, str, object]] = []
        self._tables: dict[str, dict[int, frozenset[str]]] = {}
        self._static: dict[CodeType, frozenset[str]] = {}
        self.helpers: dict[str, object] = {
            source_reading.NOTE: _note,
            source_reading.CLOCK_CALL: _clock_call,
            source_reading.CLOCK_REF: functools.partial(self._wrapper, source=CLOCK),
        }

    # -- attribution ------------------------------------------------------------------

    def kind(self, filename: object) -> str:
        """Whose code a file is: the bundle's, test tooling's, this plugin's, or other."""
        kind = self._kinds.get(filename)
        if kind is None:
            parts = Path(filename).parts if isinstance(filename, str) else ("",)
            if isinstance(filename, str) and self.in_bundle(filename):
                kind = _OTHER if "site-packages" in parts else _BUNDLE
            elif filename in _OWN_FILES:
                kind = _SELF
            else:
                kind = _TOOL if any(part in _TOOLING for part in parts) else _OTHER
            self._kinds[filename] = kind
        return kind

    def in_bundle(self, path: str) -> bool:
        """Whether ``path`` is the bundle's root or under it."""
        return path == self.bundle_root or path.startswith(self.bundle_root + os.sep)

    def speaks_for_bundle(self, frame: FrameType | None) -> bool:
        """Whether a call made in ``frame`` was made on the bundle's behalf: walking up the
        stack, bundle code (the app or its tests) comes before any test tooling (pytest,
        the ASGI test client...). The standard library, other libraries and this plugin's
        wrappers in between are transparent: the bundle's randomness may come through them.
        Frames are told apart by their module's ``__file__`` (reading ``f_code`` raises an
        audit event)."""
        kinds = self._kinds
        try:
            for _ in range(_MAX_DEPTH):
                if frame is None:
                    return False
                filename = frame.f_globals.get("__file__")
                kind = kinds.get(filename) or self.kind(filename)
                if kind is _SELF:
                    kind = _OTHER if frame.f_code in self._wrappers else _TOOL
                if kind is not _OTHER:
                    return kind is _BUNDLE
                frame = frame.f_back
        except TypeError:  # a module's __file__ that is not a str
            pass
        return False

    def _wrapper(self, original: Callable[..., Any], source: str) -> Callable[..., Any]:
        state, walk = _STATE, self.speaks_for_bundle

        def traced(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if state.current is not None and source not in state.noted:
                if walk(sys._getframe(1)):
                    state.noted.add(source)
            return original(*args, **kwargs)

        self._wrappers.add(traced.__code__)
        return functools.update_wrapper(traced, original)

    def _file_operation(self, original: Callable[..., Any], operation: str) -> Callable[..., Any]:
        state = _STATE

        def traced(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if state.current is not None and FILESYSTEM not in state.noted:
                if _outside_tmp(_written(operation, args, kwargs)):
                    state.noted.add(FILESYSTEM)
            return original(*args, **kwargs)

        self._wrappers.add(traced.__code__)
        return functools.update_wrapper(traced, original)

    def _random_method(self, original: Callable[..., Any], seed: str | None) -> Callable[..., Any]:
        """A wrapper of a ``Random`` method; ``seed`` names the argument of a seeding one."""
        state, walk, seeded, module_rng = _STATE, self.speaks_for_bundle, self._seeded, random._inst

        def traced(rng: random.Random, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if seed is not None:
                value = args[0] if args else kwargs.get(seed)
                fixed = value is not None and rng is not module_rng
                _mark(seeded, rng, fixed and not isinstance(rng, random.SystemRandom))
            if state.current is not None and RANDOM not in state.noted:
                if rng not in seeded and walk(sys._getframe(1)):
                    state.noted.add(RANDOM)
            return original(rng, *args, **kwargs)

        self._wrappers.add(traced.__code__)
        return functools.update_wrapper(traced, original)

    # -- installation -----------------------------------------------------------------

    def install(self) -> None:
        """Wrap the sources, wherever a loaded module holds them, and compile the bundle's
        modules with notes from now on."""
        cls = random.Random
        for name in _RANDOM_METHODS:
            self._patch(cls, name, self._random_method(getattr(cls, name), None))
        for name, arg in (("__init__", "x"), ("seed", "a")):
            self._patch(cls, name, self._random_method(getattr(cls, name), arg))
        for name in ("random", "getrandbits"):
            wrapped = self._wrapper(getattr(random.SystemRandom, name), RANDOM)
            self._patch(random.SystemRandom, name, wrapped)
        self._patch(threading.Thread, "start", self._wrapper(threading.Thread.start, THREADS))
        new: dict[int, tuple[object, object]] = {}
        for name in (*_RANDOM_METHODS, "seed"):  # bound to the module's Random: bind anew
            new[id(getattr(random, name))] = (getattr(random, name), getattr(random._inst, name))
        for module, names, source in _WRAPPED:
            for old in (getattr(module, name) for name in names.split() if hasattr(module, name)):
                new[id(old)] = (old, self._wrapper(old, source))
        for operation in _FILE_OPERATIONS.split():
            module_name, name = operation.split(".")
            try:
                old = getattr(importlib.import_module(module_name), name)
            except ImportError:  # a Python built without sqlite3
                continue
            new[id(old)] = (old, self._file_operation(old, operation))
        for module in list(sys.modules.values()):
            namespace = vars(module) if isinstance(module, ModuleType) else {}
            if not new.keys().isdisjoint(map(id, namespace.values())):
                for key, value in list(namespace.items()):
                    original, replacement = new.get(id(value), (self, None))
                    if original is value:
                        self._patch(module, key, replacement)
        sys.path_hooks.insert(0, self._path_hook)
        self._forget_finders()

    def uninstall(self) -> None:
        """Put everything back."""
        for owner, name, old in reversed(self._patched):
            setattr(owner, name, old)
        self._patched.clear()
        if self._path_hook in sys.path_hooks:
            sys.path_hooks.remove(self._path_hook)
        self._forget_finders()

    def _patch(self, owner: object, name: str, new: object) -> None:
        self._patched.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    def _path_hook(self, entry: str) -> FileFinder:
        """The finder of a directory of the bundle: its ``.py`` files load with notes.
        pytest's own import hook comes first (``sys.meta_path``) and keeps the modules it
        rewrites (test modules, conftests)."""
        path = os.path.abspath(entry or ".")
        if self.kind(os.path.join(path, "")) is not _BUNDLE or not os.path.isdir(path):
            raise ImportError("not a directory of the bundle")
        return source_reading.finder_with_notes(entry, self.helpers, self.instrumented)

    def _forget_finders(self) -> None:
        for entry in list(sys.path_importer_cache):
            if self.in_bundle(os.path.abspath(entry or ".")):
                del sys.path_importer_cache[entry]

    def static_sources(self, obj: object) -> frozenset[str]:
        """What the source of ``obj``, a function of the bundle that was not compiled with
        notes (of a test module, a conftest), contains (see :mod:`mb_nondeterminism_source`)."""
        function = source_reading.function_of(obj)
        if function is None:
            return frozenset()
        found = self._static.get(function.__code__)
        if found is None:
            filename = function.__code__.co_filename
            found = frozenset()
            if filename not in self.instrumented and self.kind(filename) is _BUNDLE:
                found = source_reading.function_sources(function, self._tables)
            self._static[function.__code__] = found
        return found

    def start(self, key: str) -> None:
        """Attribute what follows, in any thread, to ``key``."""
        _STATE.noted = self.touched.setdefault(key, set())
        _STATE.current = key

    def stop(self) -> None:
        """Attribute nothing from now on."""
        _STATE.current = None
        _STATE.noted = set()


def _written(operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The path a call of ``operation`` (``os.open``, ``builtins.open``...) writes to."""
    if kwargs.get("dir_fd") is not None or kwargs.get("src_dir_fd") is not None:
        return None  # relative to a directory already seen (shutil.rmtree's walk)
    path = args[0] if args else kwargs.get(_FIRST_PARAMETER.get(operation, "path"))
    if operation in ("builtins.open", "os.open"):
        how = args[1] if len(args) > 1 else kwargs.get("mode" if operation[0] == "b" else "flags")
        writes = (isinstance(how, str) and any(c in how for c in "wax+")) or (
            isinstance(how, int) and how & _WRITE_FLAGS
        )
        return path if writes else None
    return None if operation == "sqlite3.connect" and path == ":memory:" else path


def _outside_tmp(path: Any) -> bool:
    if isinstance(path, int) or path is None:
        return False
    try:
        path = os.fsdecode(os.fspath(path))
        return bool(path) and not os.path.abspath(path).startswith(_TMP)
    except (TypeError, ValueError, OSError):  # not a path; or the working directory is gone
        return False


def _note(source: str) -> None:
    if _STATE.current is not None:
        _STATE.noted.add(source)


def _clock_call(function: Callable[..., Any]) -> Callable[..., Any]:
    if _STATE.current is not None:
        _STATE.noted.add(CLOCK)
    return function


def _mark(seeded: weakref.WeakSet[random.Random], rng: random.Random, fixed: bool) -> None:
    try:
        seeded.add(rng) if fixed else seeded.discard(rng)
    except TypeError:  # an unhashable subclass: never taken for reproducible
        pass


# --- pytest hooks ------------------------------------------------------------------------

_TRACING = pytest.StashKey["Tracing"]()


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


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Start tracing before the first conftest (and the app it may import) is imported."""
    _start_tracing(early_config, getattr(early_config.known_args_namespace, "mb_trace_out", None))


def _start_tracing(config: pytest.Config, trace_out: str | None) -> None:
    if trace_out and _TRACING not in config.stash:
        tracing = config.stash[_TRACING] = Tracing(Path(str(config.rootpath)), trace_out)
        config.pluginmanager.register(tracing)


def pytest_configure(config: pytest.Config) -> None:
    """Seed ``random``; register the tracing (if not yet) or the repeating part when asked."""
    _start_tracing(config, config.getoption("mb_trace_out"))
    seed = config.getoption("mb_random_seed")
    if seed is not None:
        random.seed(seed)
    times = int(config.getoption("mb_repeat") or 0)
    repeat_out = config.getoption("mb_repeat_out")
    if times > 0 and repeat_out:
        expect_path = config.getoption("mb_repeat_expect")
        expected: dict[str, str] | None = None
        if expect_path:
            with open(expect_path, encoding="utf-8") as handle:
                expected = {str(k): str(v) for k, v in json.load(handle).items()}
        config.pluginmanager.register(Repeating(times, seed or 0, repeat_out, expected))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Take the wrappers and the import hook out again."""
    tracing = config.stash.get(_TRACING, None)
    if tracing is not None:
        tracing.tracer.uninstall()


class Tracing:
    """Traces each module import and each test; writes ``{key: [sources]}`` at the end."""

    def __init__(self, root: Path, out: str) -> None:
        self.tracer = Tracer(root)
        self.out = out
        self.tracer.install()

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
        function = getattr(item, "obj", None)
        if getattr(function, "is_hypothesis_test", False):
            _note(RANDOM)  # unless derandomized, its examples differ per run
        owners = [getattr(item, "cls", None), getattr(item, "module", None)]
        for part in (function, *(getattr(o, n, None) for o in owners if o for n in _XUNIT)):
            if part is not None:
                _STATE.noted.update(self.tracer.static_sources(part))
        try:
            return (yield)
        finally:
            self.tracer.stop()

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        """A fixture of a test module or conftest: what its source contains."""
        if _STATE.current is not None:
            _STATE.noted.update(self.tracer.static_sources(fixturedef.func))

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
