"""mutmut's results, read on the host once the sandbox is gone: each mutant's status
from the exit code in ``mutants/<file>.meta`` (mapped exactly as
``mutmut.stats.status_by_exit_code`` does), and its diff from the ``.spans`` index
mutmut writes next to each mutated file, the way ``mutmut show`` does. Files are
read without following links, with size caps.

Given the staged modules (:class:`activities.qa.mutation_staging.StagedModule`),
each survivor and untested mutant is also judged for equivalence
(:mod:`activities.qa.mutation_equivalents`) and reported against the user's own
code: the function as written, its file, the first changed line, and a diff of the
user's function with the user's line numbers (a moved body shown in its decorated
function).
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from activities.qa.mutation_equivalents import ModuleFacts, equivalence, module_facts
from activities.qa.mutation_staging import StagedModule
from activities.qa.mutation_transform import CLASS_SEPARATOR, MutatedFunction
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
    "killed",
    "survived",
    "no_tests",
    "timeout",
    "suspicious",
    "skipped",
    "not_checked",
    "equivalent",
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
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    """mutmut's exit code of each mutant (its status before the equivalence rules)."""
    files: dict[str, str] = field(default_factory=dict)
    """Each mutant's source file."""

    def count(self, *statuses: MutantStatus) -> int:
        """How many mutants have one of ``statuses``."""
        return sum(1 for s in self.statuses.values() if s in statuses)


def function_key(name: str) -> str:
    """mutmut's key of the function a mutant is in (``main.x_f__mutmut_3`` -> ``x_f``)."""
    return name.rpartition(".")[2].partition("__mutmut_")[0]


def read_results(
    app_dir: Path, sources: Iterable[str], modules: Mapping[str, StagedModule] | None = None
) -> MutmutResults:
    """Statuses from each source's ``.meta``; survivors' diffs from its ``.spans``. Blocking.

    With ``modules``, survivors and untested mutants an equivalence rule covers become
    ``equivalent``, and listed mutants are located in the user's code. Call only once
    the sandbox is gone: nothing may change the files meanwhile.
    """
    results = MutmutResults()
    per_file: list[tuple[str, list[str]]] = []
    copies: dict[str, _Copies] = {}
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
            results.exit_codes[name] = code if isinstance(code, int) else None
            results.files[name] = rel
        per_file.append((rel, list(codes)))
        module = modules.get(rel) if modules is not None else None
        if module is None:
            continue
        undecided = [n for n in codes if results.statuses[n] in ("survived", "no_tests")]
        if not undecided:
            continue
        found = _Copies.read(app_dir, rel, module)
        if found is None:
            continue
        copies[rel] = found
        for name in undecided:
            reason = found.equivalence(name)
            if reason is not None:
                results.statuses[name] = "equivalent"
                found.reasons[name] = reason
    diffs_left = MAX_DIFFS
    for wanted in ("survived", "no_tests", "equivalent"):
        for rel, names in per_file:
            chosen = [n for n in names if results.statuses[n] == wanted]
            chosen = chosen[: max(0, MAX_LISTED - len(results.listed))]
            if not chosen:
                continue
            with_diff = chosen[:diffs_left]
            diffs_left -= len(with_diff)
            found = copies.get(rel)
            if found is not None:
                results.listed += [found.mutant(n, wanted, n in with_diff) for n in chosen]
                continue
            diffs = _diffs(app_dir, rel, with_diff) if with_diff else {}
            results.listed += [Mutant(name=n, status=wanted, diff=diffs.get(n)) for n in chosen]
    return results


@dataclass
class _Copies:
    """One mutated file's generated functions, read once: equivalence, location, diff."""

    rel: str
    module: StagedModule
    lines: list[str]
    spans: dict[str, Any]
    facts: ModuleFacts
    reasons: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, app_dir: Path, rel: str, module: StagedModule) -> _Copies | None:
        try:
            spans = _load_json(app_dir, f"mutants/{rel}.spans", MAX_META_BYTES)
        except ValueError:
            return None
        raw = _read_bytes(app_dir, f"mutants/{rel}", MAX_MUTATED_BYTES)
        if not isinstance(spans, dict) or not isinstance(spans.get("spans"), dict) or raw is None:
            return None
        lines = io.StringIO(raw.decode("utf-8", errors="replace")).readlines()
        return cls(rel, module, lines, spans["spans"], module_facts(module.staged_source))

    def source(self, generated: str) -> list[str] | None:
        span = self.spans.get(generated)
        if not (
            isinstance(span, list)
            and len(span) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in span)
            and 1 <= span[0] <= span[1] <= len(self.lines)
        ):
            return None
        return self.lines[span[0] - 1 : span[1]]

    def pair(self, name: str) -> tuple[list[str], list[str]] | None:
        """The original copy and the mutant's, both named as the function mutmut mutated."""
        generated = name.rpartition(".")[2]
        key, sep, _ = generated.partition("__mutmut_")
        if not sep:
            return None
        original, mutant = self.source(key + "__mutmut_orig"), self.source(generated)
        if original is None or mutant is None:
            return None
        named = key.rpartition(CLASS_SEPARATOR)[2] if CLASS_SEPARATOR in key else key[2:]
        return (
            _renamed(original, key + "__mutmut_orig", named),
            _renamed(mutant, generated, named),
        )

    def equivalence(self, name: str) -> str | None:
        pair = self.pair(name)
        return None if pair is None else equivalence("".join(pair[0]), "".join(pair[1]), self.facts)

    def mutant(self, name: str, status: MutantStatus, with_diff: bool) -> Mutant:
        function = self.module.function(function_key(name))
        pair = self.pair(name)
        located = None if function is None or pair is None else _locate(function, *pair)
        diff = None
        if with_diff and function is not None and pair is not None:
            diff = user_diff(self.module.user_source, function, *pair, path=self.rel)
        elif with_diff and pair is not None:
            diff = mutant_diff(self.lines, self.spans, name, self.rel)
        return Mutant(
            name=name,
            status=status,
            diff=diff,
            function=function.name if function is not None else None,
            file=self.rel,
            line=located,
            equivalent=self.reasons.get(name),
        )


def _renamed(copy: list[str], generated: str, name: str) -> list[str]:
    """A generated function's lines with its ``def`` named ``name`` again."""
    index = _def_index(copy)
    if index is None:
        return copy
    return [
        *copy[:index],
        copy[index].replace(f"def {generated}(", f"def {name}(", 1),
        *copy[index + 1 :],
    ]


def _def_index(copy: list[str]) -> int | None:
    """The line of a generated function's ``def`` (after its decorators and blank lines)."""
    for i, line in enumerate(copy):
        if re.match(r"\s*(?:async\s+)?def\s", line):
            return i
    return None


def _opcodes(original: list[str], mutant: list[str]) -> list[tuple[str, int, int, int, int]]:
    matcher = difflib.SequenceMatcher(a=original, b=mutant, autojunk=False)
    return [op for op in matcher.get_opcodes() if op[0] != "equal"]


def _locate(function: MutatedFunction, original: list[str], mutant: list[str]) -> int | None:
    """The user's line of the first line the mutant changes."""
    d = _def_index(original)
    changes = _opcodes(original, mutant)
    if d is None or not changes:
        return None
    return function.user_line(function.staged_def_line + changes[0][1] - d)


def user_diff(
    user_source: str,
    function: MutatedFunction,
    original: list[str],
    mutant: list[str],
    *,
    path: str,
) -> str | None:
    """The mutant as a unified diff of the user's function, with the user's line numbers.

    The function's lines as the user wrote them (decorators aside), with the lines
    the mutant changes replaced by the mutant's; the hunks' line numbers are the
    file's.
    """
    d = _def_index(original)
    if d is None:
        return None
    user_lines = user_source.splitlines()[function.user_def_line - 1 : function.user_end_line]
    new_lines = list(user_lines)
    for _tag, i1, i2, j1, j2 in reversed(_opcodes(original, mutant)):
        start = function.user_line(function.staged_def_line + i1 - d) - function.user_def_line
        stop = (
            function.user_line(function.staged_def_line + i2 - 1 - d) - function.user_def_line + 1
            if i2 > i1
            else start
        )
        if not 0 <= start <= stop <= len(new_lines):
            return None
        new_lines[start:stop] = [line.rstrip("\r\n") for line in mutant[j1:j2]]
    if new_lines == user_lines:
        return None
    indent = user_lines[0][: len(user_lines[0]) - len(user_lines[0].lstrip())] if user_lines else ""
    before = [line.removeprefix(indent) for line in user_lines]
    after = [line.removeprefix(indent) for line in new_lines]
    offset = function.user_def_line - 1
    out = []
    for line in difflib.unified_diff(before, after, fromfile=path, tofile=path, lineterm=""):
        hunk = re.match(r"@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@(.*)", line)
        if hunk:
            a, b = int(hunk.group(1)) + offset, int(hunk.group(3)) + offset
            line = f"@@ -{a}{hunk.group(2) or ''} +{b}{hunk.group(4) or ''} @@{hunk.group(5)}"
        out.append(line)
    return "\n".join(out)


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
