"""``mutmut run`` inside the sandbox, with result files that survive a kill.

The mutation stage starts this file as ``python -P mutation_driver.py MAX_CHILDREN
[PREFILL]`` in the bundle's copy (``/app``, holding the platform's ``[tool.mutmut]``
config).
``-P`` keeps the script's and the working directory out of ``sys.path``, so no
module of the bundle can shadow mutmut or the standard library here.

Why not plain ``mutmut run``: after every mutant, mutmut rewrites the source
file's ``.meta`` (the exit code of each of its mutants) in place. When the
stage's time is up the whole sandbox is killed, and a kill during that write
would leave a truncated file, losing every result of that source file. The
driver makes each save atomic (write a sibling file, then rename it over the
old one), so a killed run leaves exactly the results checked so far.

mutmut also generates the mutants in a ``multiprocessing.Pool``, whose locks
are POSIX semaphores in ``/dev/shm``; the sandbox's ``/dev`` has no writable
``/dev/shm`` (yet), so there the driver generates them in-process instead
(one file after the other: the same mutants, no parallelism across files).

mutmut runs with ``process_isolation = "forkserver"``: the stats run, the clean
run and the forced-fail run each in a fresh child, and every mutant's tests in a
child of a fork server that has collected the tests but run none, so no run
inherits the state an earlier run of the suite left. The driver freezes the fork
server's garbage collector once it has collected the tests (see
:func:`frozen_after`), lets the stats run's pytest report reach the log
(:func:`shown`: it names the tests that failed on the unmutated code), and skips
mutmut's clean run, which under this isolation repeats the stats run exactly
(:func:`stats_run_was_clean`).

``PREFILL`` (a JSON file, read-only) holds what earlier runs left to reuse
(:mod:`activities.qa.mutation_reuse`): ``{"outcomes": {file: {function key: {"count":
N, "codes": {"1": exit code, ...}, "tests": [...]}}}, "stats": null or {...}}``.

``stats`` is mutmut's record of which tests reach which function, carried from an
earlier run of the same tests and module structure, without the tests that executed
a function that changed since (``retrace``). Those tests alone run in mutmut's stats
run (none at all when the list is empty): a test that executed no changed function
runs the same code as before, so it passes and reaches the same functions. The tests
the driver sees reach a function outside any test's call (at collection, in fixture
set-up or tear-down, state shared between tests) are written to
``/out/mutation-shared-hits.json``; a change to one of those is traced in full.

Once the stats are known, and before any mutant runs, the driver records the stored
outcomes in mutmut's own ``.meta`` files for every function that still has exactly
``count`` mutants and is reached by exactly the stored ``tests``, and lists the mutants
it recorded in ``/out/mutation-reused.json``; mutmut then only tests the mutants
without an outcome, as it does when it resumes an interrupted run. Such a run
skips mutmut's forced-fail run (every test run with every function made to
raise, to prove the tests reach the mutated code): outcomes are only stored by
runs that passed it, and are only found again for the same tests, requirements,
tools and module structure, which are all that run depends on.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def atomic(save: Callable[[Any], None]) -> Callable[[Any], None]:
    """Wrap ``SourceFileMutationData.save`` to write a sibling file, then rename it."""

    def atomic_save(self: Any) -> None:
        final = Path(self.meta_path)
        partial = final.with_name(final.name + ".partial")
        self.meta_path = partial
        try:
            save(self)
        finally:
            self.meta_path = final
        os.replace(partial, final)

    return atomic_save


class InlinePool:
    """The part of ``multiprocessing.Pool`` mutmut uses, run in this process."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes

    def __enter__(self) -> InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap_unordered(self, func: Callable[[T], R], iterable: Iterable[T]) -> Iterator[R]:
        """``func`` over ``iterable``, in order."""
        return map(func, iterable)


def frozen_after(warm_up: Callable[[Any], None]) -> Callable[[Any], None]:
    """Wrap ``PytestRunner.warm_up`` (run in the fork server) to freeze the garbage
    collector afterwards, as mutmut's fork mode does before it forks: a child whose
    collector walks the inherited heap copies every page of it (twice the time)."""

    def warm_up_then_freeze(self: Any) -> None:
        warm_up(self)
        gc.freeze()

    return warm_up_then_freeze


REUSED_REPORT = Path("/out/mutation-reused.json")
"""The mutants whose outcomes the driver recorded from ``PREFILL`` (a JSON list)."""

_BASELINE = {"visible": False}


def shown(run: Callable[..., int]) -> Callable[..., int]:
    """Wrap a ``PytestRunner`` run so that, in the stats run, pytest's report reaches the
    log. Under fork-server isolation that run happens in a child, while mutmut captures
    output in the parent: the names of the tests that failed would be lost with the
    child."""

    def shown_run(self: Any, **kwargs: Any) -> int:
        if not _BASELINE["visible"]:
            return run(self, **kwargs)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        try:
            return run(self, **kwargs)
        finally:
            sys.stdout, sys.stderr = saved

    return shown_run


def baseline(step: Callable[..., int]) -> Callable[..., int]:
    """Wrap ``ForkServerRunner.collect_stats``: its child shows pytest's report."""

    def baseline_step(self: Any, *args: Any, **kwargs: Any) -> int:
        _BASELINE["visible"] = True
        try:
            return step(self, *args, **kwargs)
        finally:
            _BASELINE["visible"] = False

    return baseline_step


def stats_run_was_clean(self: Any, tests: Any) -> int:
    """``ForkServerRunner.run_clean_tests``: 0, because mutmut's stats run, which must
    pass before this is called, already ran every selected test on the unmutated code
    in a fresh child; a second such run would only cost time."""
    del self, tests
    return 0


def forced_fail_passed_before(runner: Any) -> None:
    """``run_forced_fail_test`` when earlier outcomes are reused: the run that stored them
    passed it, under everything it depends on."""
    del runner


QUIET_FAILURES = "--tb=no"
"""pytest's option for a mutant's run: its exit code is all mutmut reads, and formatting
each failing test's traceback (source lines read and parsed) was a tenth of a run."""


def quiet_failures(run: Callable[..., int]) -> Callable[..., int]:
    """Wrap ``PytestRunner.run_tests`` so a mutant's run (never the stats run, whose report
    reaches the log) formats no traceback."""

    def run_quietly(self: Any, *, mutant_name: str | None, **kwargs: Any) -> int:
        if mutant_name is None:
            return run(self, mutant_name=mutant_name, **kwargs)
        saved = self._pytest_add_cli_args
        self._pytest_add_cli_args = [*saved, QUIET_FAILURES]
        try:
            return run(self, mutant_name=mutant_name, **kwargs)
        finally:
            self._pytest_add_cli_args = saved

    return run_quietly


def load_prefill(path: str | None) -> dict[str, Any]:
    """What to reuse (empty without a readable file)."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def mangled(mutant: str) -> str:
    """mutmut's name of the function a mutant is in, as its stats spell it."""
    return mutant.replace("__init__.", "").partition("__mutmut_")[0]


def apply_prefill(
    outcomes: dict[str, dict[str, dict[str, Any]]], tests_by_function: dict[str, set[str]]
) -> list[str]:
    """Record the reused outcomes in mutmut's ``.meta`` files; the mutants recorded.

    A function's outcomes are recorded only when the tests that reach it now are the
    ones that reached it when they were stored."""
    from mutmut.mutation.data import SourceFileMutationData

    recorded: list[str] = []
    for rel, functions in outcomes.items():
        data = SourceFileMutationData(path=rel)
        data.load()
        names: dict[str, list[str]] = {}
        for name in data.exit_code_by_key:
            names.setdefault(name.rpartition(".")[2].partition("__mutmut_")[0], []).append(name)
        changed = False
        for key, entry in functions.items():
            mine = names.get(key, [])
            codes = entry.get("codes") if isinstance(entry, dict) else None
            if not isinstance(codes, dict) or not mine or len(mine) != entry.get("count"):
                continue
            if sorted(tests_by_function.get(mangled(mine[0]), ())) != entry.get("tests"):
                continue
            found = {n: codes.get(n.rpartition("__mutmut_")[2]) for n in mine}
            if all(isinstance(c, int) for c in found.values()):
                data.exit_code_by_key.update(found)
                recorded += found
                changed = True
        if changed:
            data.save()
    return recorded


SHARED_HITS_REPORT = Path("/out/mutation-shared-hits.json")
"""The functions the stats run saw reached outside any test's call (a JSON list)."""


class PhaseHits(set[str]):
    """mutmut's set of the functions reached since the last test ended, also keeping
    those reached outside a test's call phase."""

    def __init__(self) -> None:
        super().__init__()
        self.in_call = False
        self.shared: set[str] = set()

    def add(self, name: str) -> None:
        """Record a hit (mutmut's trampolines call this)."""
        super().add(name)
        if not self.in_call:
            self.shared.add(name)


def phases(hits: PhaseHits) -> object:
    """A pytest plugin marking when a test's call phase runs."""
    import pytest

    class CallPhase:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item: Any) -> Iterator[None]:
            del item
            hits.in_call = True
            try:
                yield
            finally:
                hits.in_call = False

    return CallPhase()


def shared_hits_kept(run_stats: Callable[..., int]) -> Callable[..., int]:
    """Wrap ``PytestRunner.run_stats`` (in the stats run's child) to write the functions
    reached outside any test's call to :data:`SHARED_HITS_REPORT`."""

    def run_stats_keeping_shared(self: Any, **kwargs: Any) -> int:
        from mutmut.state import state

        hits = PhaseHits()
        state()._stats = hits
        execute = self.execute_pytest

        def execute_with_phases(params: list[str], **options: Any) -> int:
            options["plugins"] = [*options.get("plugins", []), phases(hits)]
            return int(execute(params, **options))

        self.execute_pytest = execute_with_phases
        try:
            return run_stats(self, **kwargs)
        finally:
            del self.execute_pytest
            with contextlib.suppress(OSError):  # no /out: run by hand
                SHARED_HITS_REPORT.write_text(json.dumps(sorted(hits.shared)), encoding="utf-8")

    return run_stats_keeping_shared


def carried_stats(stats: dict[str, Any]) -> Callable[..., None]:
    """``collect_or_load_stats`` from carried stats: only the ``retrace`` tests run."""

    def load_then_retrace(runner: Any, **kwargs: Any) -> None:
        del kwargs
        import mutmut.__main__ as mutmut_main
        from mutmut.state import state
        from mutmut.stats import save_stats

        for name, tests in stats["tests_by_function"].items():
            state().tests_by_mangled_function_name[name] |= set(tests)
        state().duration_by_test.update(stats["duration_by_test"])
        if stats["retrace"]:
            mutmut_main.run_stats_collection(runner, tests=stats["retrace"])
        else:
            save_stats()

    return load_then_retrace


def then_prefill(
    collect: Callable[..., None], outcomes: dict[str, dict[str, dict[str, Any]]]
) -> Callable[..., None]:
    """Wrap ``collect_or_load_stats`` to record the reused outcomes once stats are known."""

    def collect_then_prefill(runner: Any, **kwargs: Any) -> None:
        from mutmut.state import state

        collect(runner, **kwargs)
        reused = apply_prefill(outcomes, state().tests_by_mangled_function_name)
        with contextlib.suppress(OSError):  # no /out: run by hand
            REUSED_REPORT.write_text(json.dumps(reused), encoding="utf-8")

    return collect_then_prefill


def main(argv: list[str]) -> None:
    """Run ``mutmut run --max-children N``; exits with mutmut's exit code."""
    import mutmut.__main__ as mutmut_main
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.runners.harness import PytestRunner
    from mutmut.workers.isolation import ForkServerRunner

    # The fork server imports the tests once; each mutant's child imports the conftest
    # files again (pytest does at every session) and would rewrite their asserts again:
    # with bytecode written (to this scratch copy), children load the rewritten code.
    sys.dont_write_bytecode = False
    SourceFileMutationData.save = atomic(SourceFileMutationData.save)  # type: ignore[method-assign,assignment]
    PytestRunner.warm_up = frozen_after(PytestRunner.warm_up)  # type: ignore[method-assign,assignment]
    PytestRunner.run_stats = shown(PytestRunner.run_stats)  # type: ignore[method-assign]
    PytestRunner.run_tests = quiet_failures(shown(PytestRunner.run_tests))  # type: ignore[method-assign]
    ForkServerRunner.collect_stats = baseline(ForkServerRunner.collect_stats)  # type: ignore[method-assign]
    ForkServerRunner.run_clean_tests = stats_run_was_clean  # type: ignore[method-assign]
    if not os.access("/dev/shm", os.W_OK):  # noqa: S108 - a check, not a temporary file
        mutmut_main.Pool = InlinePool  # type: ignore[attr-defined,assignment]
    PytestRunner.run_stats = shared_hits_kept(PytestRunner.run_stats)  # type: ignore[method-assign]
    prefill = load_prefill(argv[1] if len(argv) > 1 else None)
    outcomes, stats = prefill.get("outcomes") or {}, prefill.get("stats")
    if outcomes or stats:
        collect = carried_stats(stats) if stats else mutmut_main.collect_or_load_stats
        mutmut_main.collect_or_load_stats = then_prefill(collect, outcomes)
        mutmut_main.run_forced_fail_test = forced_fail_passed_before
    mutmut_main.cli.main(args=["run", "--max-children", argv[0]], prog_name="mutmut")


if __name__ == "__main__":
    main(sys.argv[1:])
