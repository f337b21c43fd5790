"""The static-analysis stage: bandit over a bundle's Python files, gated by the QA policy.

bandit only parses the code (it never imports or runs it), so this runs in the
worker, not the sandbox. It is called through its library API
(:class:`bandit.core.manager.BanditManager`), not its command line.

What is scanned: every ``*.py`` file of the bundle, tests included — pytest
imports ``conftest.py`` and the test modules inside the QA sandbox, so they
are code the platform runs. Only B101 (``assert`` used) is dropped in test
files: ``assert`` is how pytest tests are written.

``# nosec`` comments are ignored: the bundle's author (a model or a user) is
not trusted to exempt their own code from the gate.

A file bandit cannot parse fails the stage (it would otherwise pass unchecked).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

import bandit
from bandit.core import config as bandit_config
from bandit.core import manager as bandit_manager

from activities.python_ast import PARSE_LOCK
from activities.python_ast import parse as parse_python
from schemas.qa import QAPolicy, StaticFinding, StaticReport

Level = Literal["LOW", "MEDIUM", "HIGH", "UNDEFINED"]
_RANK: dict[str, int] = {"UNDEFINED": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
_LEVELS = frozenset(_RANK)
_TEST_ONLY_EXEMPT = frozenset({"B101"})
UNPARSEABLE_TEST_ID = "E999"
"""The test id reported for a file bandit could not scan (the gate fails on it)."""

# bandit's plugins keep per-run configuration in module state: one scan at a time.
_bandit_lock = threading.Lock()


def describe_policy(policy: QAPolicy) -> str:
    """The gating rule in words (for the report)."""
    high = policy.bandit_fail_severity
    medium = policy.bandit_fail_severity_high_confidence
    return (
        f"fail on severity >= {high} (any confidence) or severity >= {medium} with HIGH "
        "confidence, and on any file bandit cannot parse; B101 (assert) is not checked in "
        "test files; # nosec is ignored"
    )


def is_gating(severity: str, confidence: str, policy: QAPolicy) -> bool:
    """Whether a finding of this severity and confidence fails the gate under ``policy``."""
    rank = _RANK.get(severity, 0)
    if rank >= _RANK[policy.bandit_fail_severity]:
        return True
    return confidence == "HIGH" and rank >= _RANK[policy.bandit_fail_severity_high_confidence]


def is_test_file(rel: PurePosixPath) -> bool:
    """Test code: under a ``tests``/``test`` directory, ``test_*.py``, ``*_test.py``, conftest."""
    name = rel.name
    return (
        any(part in ("tests", "test") for part in rel.parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def scan_static(bundle_dir: Path, *, policy: QAPolicy) -> StaticReport:
    """Run bandit over the bundle's Python files and apply the gate (blocking; ~0.1 s)."""
    started = time.perf_counter()
    if not bundle_dir.is_dir():
        raise FileNotFoundError(f"bundle directory {bundle_dir} does not exist")
    files = sorted(p for p in bundle_dir.rglob("*.py") if p.is_file())
    issues, skipped = _run_bandit([str(p) for p in files])

    findings: list[StaticFinding] = []
    for item in issues:
        rel = _relative(item["filename"], bundle_dir)
        if item["test_id"] in _TEST_ONLY_EXEMPT and is_test_file(rel):
            continue
        severity = _level(item["issue_severity"])
        confidence = _level(item["issue_confidence"])
        findings.append(
            StaticFinding(
                file=rel.as_posix(),
                line=int(item["line_number"]),
                test_id=str(item["test_id"]),
                test_name=str(item["test_name"]),
                severity=severity,
                confidence=confidence,
                text=str(item["issue_text"]),
                gating=is_gating(severity, confidence, policy),
            )
        )
    for filename, why in skipped:
        rel = _relative(filename, bundle_dir)
        line, detail = _parse_error(Path(filename))
        findings.append(
            StaticFinding(
                file=rel.as_posix(),
                line=line,
                test_id=UNPARSEABLE_TEST_ID,
                test_name="unparseable_file",
                severity="UNDEFINED",
                confidence="UNDEFINED",
                text=f"bandit could not scan this file ({why}){detail}",
                gating=True,
            )
        )
    findings.sort(key=lambda f: (not f.gating, f.file, f.line, f.test_id))

    scanned = len(files) - len(skipped)
    gating = [f for f in findings if f.gating]
    if not files:
        verdict, reason = "fail", "no Python files to scan"
    elif gating:
        verdict, reason = "fail", _fail_reason(gating)
    else:
        verdict = "pass"
        reason = f"no gating findings in {scanned} files ({len(findings)} below the threshold)"
    return StaticReport(
        verdict=verdict,
        reason=reason,
        files_scanned=scanned,
        findings=findings,
        policy=describe_policy(policy),
        bandit_version=bandit.__version__,
        duration_s=round(time.perf_counter() - started, 3),
    )


def _run_bandit(files: list[str]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """bandit's issues (as dicts) and skipped files (name, reason) for ``files``."""
    issues: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    # bandit draws a progress bar above PROGRESS_THRESHOLD files when logging at INFO:
    # batches stay at the threshold so nothing is written to the worker's terminal.
    batch = bandit_manager.PROGRESS_THRESHOLD
    # bandit parses each file with ast.parse: hold the process-wide parse lock too.
    with _bandit_lock, PARSE_LOCK:
        for start in range(0, len(files), batch):
            manager = bandit_manager.BanditManager(
                bandit_config.BanditConfig(), "file", ignore_nosec=True
            )
            manager.files_list = files[start : start + batch]
            manager.run_tests()
            issues += [issue.as_dict(with_code=False) for issue in manager.get_issue_list()]
            skipped += [(str(name), str(why)) for name, why in manager.get_skipped()]
    return issues, skipped


def _relative(filename: str, root: Path) -> PurePosixPath:
    path = Path(filename)
    try:
        return PurePosixPath(path.relative_to(root).as_posix())
    except ValueError:
        return PurePosixPath(path.as_posix())


def _level(value: Any) -> Level:
    text = str(value).upper()
    return cast(Level, text) if text in _LEVELS else "UNDEFINED"


def _parse_error(path: Path) -> tuple[int, str]:
    """Line and message of the syntax error in ``path`` (parsed only, never run)."""
    try:
        parse_python(path.read_bytes(), filename=path.name)
    except SyntaxError as exc:
        return exc.lineno or 0, f": {exc.msg}"
    except (OSError, ValueError) as exc:
        return 0, f": {exc}"
    return 0, ""


def _fail_reason(gating: Iterable[StaticFinding]) -> str:
    items = list(gating)
    shown = ", ".join(f"{f.test_id} {f.file}:{f.line}" for f in items[:5])
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    noun = "finding" if len(items) == 1 else "findings"
    return f"{len(items)} gating {noun}: {shown}{more}"
