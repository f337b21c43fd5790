"""``mutmut run`` inside the sandbox, with result files that survive a kill.

The mutation stage starts this file as ``python -P mutation_driver.py MAX_CHILDREN``
in the bundle's copy (``/app``, holding the platform's ``[tool.mutmut]`` config).
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
"""

from __future__ import annotations

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


def main(argv: list[str]) -> None:
    """Run ``mutmut run --max-children N``; exits with mutmut's exit code."""
    import mutmut.__main__ as mutmut_main
    from mutmut.mutation.data import SourceFileMutationData

    SourceFileMutationData.save = atomic(SourceFileMutationData.save)  # type: ignore[method-assign,assignment]
    if not os.access("/dev/shm", os.W_OK):  # noqa: S108 - a check, not a temporary file
        mutmut_main.Pool = InlinePool  # type: ignore[attr-defined,assignment]
    mutmut_main.cli.main(args=["run", "--max-children", argv[0]], prog_name="mutmut")


if __name__ == "__main__":
    main(sys.argv[1:])
