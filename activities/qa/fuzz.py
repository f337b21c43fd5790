"""The fuzz stage: hypothesis over a bundle's plain functions, schemathesis over its API.

The work happens inside the sandbox, in :mod:`activities.qa.fuzz_driver`
(mounted read-only and run with the bundle's own interpreter on a fresh
copy of the bundle, no network, no host environment, a throwaway
``MICROAPP_DATA_DIR``). The driver decides what counts as a failure (its
module docstring states the rules) and rewrites one JSON document in
``/out`` after every target; this module runs it under the stage's
timeout and judges that document:

* ``fail`` on any failure (each with its minimal failing call or request),
  on a timeout (with the partial results and the example that was
  running), when the app cannot be imported or the driver dies (with the
  log tail), and when there was nothing to fuzz at all: no plain function
  with data-typed parameters and no API operation;
* ``pass`` otherwise.

The document comes from sandboxed code: it is validated, bounded, and its
text escaped (NUL, lone surrogates) before it becomes a report. Plain
functions and the API are fuzzed in one process, functions first: what a
function leaves in module-level state, the API fuzzing sees (the data
directory is the run's own, thrown away afterwards).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from activities.qa.workspace import SandboxUser, ToolRun, run_tool
from runtime.base import PythonEnv
from runtime.bwrap import SANDBOX_TMP, Bind
from schemas.qa import FuzzFailure, FuzzReport, QAPolicy

DRIVER_SOURCE = Path(__file__).with_name("fuzz_driver.py")
DRIVER_PATH = "/mb/fuzz/fuzz_driver.py"
REPORT_NAME = "fuzz.json"
CURRENT_NAME = "current.txt"
FUNCTION_TIMEOUT_S = 2.0
"""One call of a plain function; longer is a ``timeout`` failure."""
REQUEST_TIMEOUT_S = 5.0
"""One in-process API request; longer is a ``timeout`` failure."""
LOG_TAIL_LINES = 30
MAX_TEXT = 4000
MAX_CURRENT_BYTES = 8192
ENTRYPOINT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_.]*)?$")


class _DriverTarget(BaseModel):
    name: str = Field(max_length=MAX_TEXT)
    examples: int = Field(ge=0)
    failures: list[FuzzFailure] = Field(default=[], max_length=100)
    note: str = ""


class _DriverReport(BaseModel):
    """The driver's JSON document (written by sandboxed code: validated, bounded)."""

    state: Literal["running", "finished", "import_error", "error"]
    error: str = ""
    functions: list[_DriverTarget] = Field(default=[], max_length=10_000)
    skipped_functions: dict[str, str] = Field(default={}, max_length=10_000)
    operations: list[_DriverTarget] = Field(default=[], max_length=10_000)
    skipped_operations: dict[str, str] = Field(default={}, max_length=10_000)
    notes: list[str] = Field(default=[], max_length=100)


class _Current(BaseModel):
    """What the driver was running when it stopped (``kind<TAB>count<TAB>target<TAB>example``)."""

    kind: Literal["function", "operation"]
    examples: int
    target: str
    example: str


def driver_args(
    *,
    entrypoint: str,
    seed: int,
    examples: int,
    function_timeout_s: float,
    request_timeout_s: float,
) -> tuple[str, ...]:
    """The driver's command line (after the interpreter)."""
    return (
        DRIVER_PATH,
        f"--entrypoint={entrypoint}",
        f"--seed={seed}",
        f"--examples={examples}",
        f"--function-timeout={function_timeout_s}",
        f"--request-timeout={request_timeout_s}",
        f"--out=/out/{REPORT_NAME}",
        f"--current=/out/{CURRENT_NAME}",
    )


async def run_fuzz(
    bundle_dir: Path,
    env: PythonEnv,
    *,
    policy: QAPolicy,
    seed: int,
    work_dir: Path,
    user: SandboxUser,
    entrypoint: str = "main:app",
    heartbeat: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Fuzz the bundle's plain functions and API in the sandbox; ``fail`` on any finding.

    At most ``policy.fuzz_examples`` examples per target (plus shrinking), the
    whole run bounded by ``policy.fuzz_timeout_s``. The same ``seed`` gives the
    same examples, hence the same report. ``heartbeat`` gets a short progress
    note before, every few seconds during, and after the run.
    """
    beat = heartbeat or (lambda _note: None)
    if not ENTRYPOINT.match(entrypoint):
        return FuzzReport(
            verdict="fail",
            reason=f"invalid entrypoint {entrypoint!r} (expected module:attribute)",
            seed=seed,
            examples_per_target=policy.fuzz_examples,
        )
    run_dir = work_dir / f"fuzz-{uuid.uuid4().hex[:12]}"
    beat("fuzz starting")
    try:
        run = await run_tool(
            bundle_dir,
            env,
            args=driver_args(
                entrypoint=entrypoint,
                seed=seed,
                examples=policy.fuzz_examples,
                function_timeout_s=FUNCTION_TIMEOUT_S,
                request_timeout_s=REQUEST_TIMEOUT_S,
            ),
            run_dir=run_dir,
            user=user,
            timeout_s=policy.fuzz_timeout_s,
            extra_ro_binds=(Bind(DRIVER_SOURCE, DRIVER_PATH),),
            # Same hash order every run (reproducible reports); hypothesis's caches in /tmp.
            extra_env={
                "PYTHONHASHSEED": "0",
                "HYPOTHESIS_STORAGE_DIRECTORY": f"{SANDBOX_TMP}/hypothesis",
            },
            heartbeat=lambda elapsed: beat(f"fuzz: running for {elapsed:.0f} s"),
        )
        outcome = await asyncio.to_thread(_collect, run)
    finally:
        await asyncio.to_thread(shutil.rmtree, run_dir, True)
    result = judge(
        *outcome,
        exit_code=run.result.exit_code,
        timed_out=run.result.timed_out,
        duration_s=round(run.result.duration_s, 3),
        seed=seed,
        policy=policy,
    )
    beat(f"fuzz finished: {result.verdict}")
    return result


def _collect(run: ToolRun) -> tuple[Any | None, _Current | None, str]:
    # The sandbox is gone by now; only a regular file is read (a FIFO would block).
    report_path = run.out_dir / REPORT_NAME
    regular = report_path.exists() and stat.S_ISREG(report_path.lstat().st_mode)
    return (
        run.read_json(REPORT_NAME) if regular else None,
        read_current(run.out_dir / CURRENT_NAME),
        run.log_tail(LOG_TAIL_LINES),
    )


def read_current(path: Path) -> _Current | None:
    """The example the driver was running (its side file), if it left one."""
    try:
        # Written by sandboxed code: a regular file only (a FIFO would block the read).
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, MAX_CURRENT_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    parts = raw.split("\t", 3)
    if len(parts) != 4 or parts[0] not in ("function", "operation") or not parts[1].isdigit():
        return None
    return _Current.model_validate(
        {
            "kind": parts[0],
            "examples": int(parts[1]),
            "target": safe_text(parts[2]),
            "example": safe_text(parts[3]),
        }
    )


def safe_text(text: str) -> str:
    """Text fit for any store: NUL and lone surrogates escaped (sandboxed code chose it)."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _safe(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if depth > 10:
        return None
    if isinstance(value, list):
        return [_safe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {safe_text(str(k)): _safe(v, depth + 1) for k, v in value.items()}
    return value


def judge(
    document: Any | None,
    current: _Current | None,
    log_tail: str,
    *,
    exit_code: int,
    timed_out: bool,
    duration_s: float,
    seed: int,
    policy: QAPolicy,
) -> FuzzReport:
    """The stage's report from what the driver left in ``/out``."""
    log_tail = safe_text(log_tail)
    base: dict[str, Any] = {
        "seed": seed,
        "examples_per_target": policy.fuzz_examples,
        "timed_out": timed_out,
        "duration_s": duration_s,
        "log_tail": log_tail,
    }
    try:
        driver = _DriverReport.model_validate(_safe(document)) if document is not None else None
    except ValidationError as exc:
        return FuzzReport(
            verdict="fail",
            reason=f"the fuzz driver wrote an unreadable report ({exc.error_count()} errors)",
            **base,
        )
    if driver is None:
        what = (
            f"timed out after {duration_s:.0f} s before it started"
            if timed_out
            else f"crashed (exit code {exit_code}) before writing a report"
        )
        return FuzzReport(
            verdict="fail", reason=f"the fuzz driver {what}: {_last_line(log_tail)}", **base
        )
    if driver.state == "import_error":
        error = _clip(driver.error, 500)
        return FuzzReport(
            verdict="fail",
            reason=f"the app could not be imported: {error}\n{_clip(log_tail, 2000)}",
            **base,
        )

    stopped_in = current if driver.state == "running" and current is not None else None
    functions = [t.name for t in driver.functions]
    operations = [t.name for t in driver.operations]
    if stopped_in is not None:
        listed = operations if stopped_in.kind == "operation" else functions
        if stopped_in.target not in listed:
            listed.append(stopped_in.target)
    failures = [f for t in (*driver.functions, *driver.operations) for f in t.failures]
    examples_run = sum(t.examples for t in (*driver.functions, *driver.operations))
    examples_run += stopped_in.examples if stopped_in is not None else 0
    fields: dict[str, Any] = {
        **base,
        "functions": functions,
        "skipped_functions": driver.skipped_functions,
        "operations": operations,
        "examples_run": examples_run,
    }

    problems: list[str] = []
    if timed_out:
        where = (
            f" while fuzzing {stopped_in.target} (example: {_clip(stopped_in.example, 300)})"
            if stopped_in is not None
            else ""
        )
        problems.append(f"timed out after {duration_s:.0f} s{where}")
    elif driver.state == "error":
        problems.append(f"the fuzz driver failed: {_last_line(driver.error)}")
    elif driver.state == "running":
        if stopped_in is not None:
            failures.append(
                FuzzFailure(
                    kind="crash",
                    target=stopped_in.target,
                    example=_clip(stopped_in.example, MAX_TEXT),
                    detail=f"the process died (exit code {exit_code}) running this example",
                )
            )
        problems.append(
            f"the fuzz driver died (exit code {exit_code})"
            + (f" while fuzzing {stopped_in.target}" if stopped_in else "")
            + f": {_last_line(log_tail)}"
        )
    if failures:
        shown = "; ".join(f"{f.kind} in {f.target}: {_clip(f.example, 200)}" for f in failures[:5])
        more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
        problems.append(f"{len(failures)} failures: {shown}{more}")
    if not problems and not functions and not operations:
        problems.append(
            "nothing to fuzz: no plain function with data-typed parameters "
            f"({len(driver.skipped_functions)} skipped) and no API operation"
        )
    notes = [
        *driver.notes,
        *(f"{t.name}: {t.note}" for t in (*driver.functions, *driver.operations) if t.note),
    ]
    notes += [f"not fuzzed: {k} ({v})" for k, v in driver.skipped_operations.items()]
    if problems:
        return FuzzReport(
            verdict="fail",
            reason=_with_notes("; ".join(problems), notes),
            failures=failures,
            **fields,
        )
    reason = (
        f"{len(functions)} functions and {len(operations)} API operations fuzzed "
        f"({examples_run} examples), no failure"
    )
    return FuzzReport(verdict="pass", reason=_with_notes(reason, notes), **fields)


def _with_notes(reason: str, notes: list[str]) -> str:
    if not notes:
        return reason
    return f"{reason} (notes: {_clip('; '.join(notes), 1000)})"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _clip(lines[-1].strip(), 500) if lines else "no output"
