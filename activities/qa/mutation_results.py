"""mutmut's results, read on the host once the sandbox is gone: each mutant's status
from the exit code in ``mutants/<file>.meta`` (mapped exactly as
``mutmut.stats.status_by_exit_code`` does), and its diff from the ``.spans`` index
mutmut writes next to each mutated file, the way ``mutmut show`` does. Files are
read without following links, with size caps.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from schemas.qa import Mutant

MAX_DIFFS = 200
"""Diffs computed per report (the first survivors, then the first no-tests mutants)."""
MAX_LISTED = 1000
"""Mutants listed per report."""
LOG_TAIL_LINES = 30
MAX_META_BYTES = 16 * 1024 * 1024
MAX_MUTATED_BYTES = 64 * 1024 * 1024
MAX_LOG_SCAN_BYTES = 256 * 1024

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


_SPINNER = re.compile(r"^[\u2800-\u28ff] ")


def status_of(exit_code: object) -> MutantStatus:
    """A mutant's status from the exit code mutmut recorded for it (``None``: not run yet)."""
    if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
        return "suspicious"  # not something mutmut writes
    return STATUS_BY_MUTMUT_STATUS[MUTMUT_STATUS_BY_EXIT_CODE.get(exit_code, MUTMUT_DEFAULT_STATUS)]


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


def read_log(path: Path) -> str:
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
