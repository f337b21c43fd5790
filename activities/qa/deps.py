"""The dependency-scanning stage: every installed distribution against known advisories.

The versions checked are those actually installed in the bundle's virtualenv,
read from its ``*.dist-info/METADATA`` files (the environment's interpreter is
never run: nothing of the bundle executes here), not the ranges its
``requirements.txt`` asks for.

Sources:

- ``osv``: an offline OSV database (:mod:`activities.qa.advisories`), always;
- ``safety``: the ``safety`` command (3.x), when an API key is configured. It
  needs its vendor's service; when it cannot run, the stage fails with the
  reason rather than passing on the OSV result alone.

Fail closed: the verdict is ``fail`` on any finding that is not allow-listed,
on any package that could not be checked (unparseable version, unreadable
metadata, an advisory whose ranges cannot be compared), when the database is
missing, unreadable or empty, and when a requested safety run failed. A scan
that could not check a package says so; it never reports clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import TypeAdapter, ValidationError

from activities.qa.advisories import (
    AdvisoryDatabase,
    AdvisoryDatabaseError,
    UncheckableVersion,
    first_line,
    load_advisories,
)
from runtime.base import PythonEnv
from schemas.qa import AllowedAdvisory, DependencyFinding, DependencyReport, InstalledPackage

SAFETY_TIMEOUT_S = 120.0
SAFETY_EXECUTABLE = "safety"
# `safety check` exits 64 when it found vulnerabilities; any other non-zero code is an error.
_SAFETY_OK_CODES = frozenset({0, 64})


class AllowListError(ValueError):
    """An allow-list file that cannot be read; the message says why."""


# --- installed distributions --------------------------------------------------------------


def installed_packages(env: PythonEnv) -> list[InstalledPackage]:
    """Name and version of every distribution in the env's site-packages, from its metadata.

    Reads ``*.dist-info/METADATA`` (and legacy ``*.egg-info/PKG-INFO``) without
    running anything. A distribution whose metadata lacks a name or version
    falls back to its directory name; an empty version is reported as such and
    the scan counts the package as unchecked.
    """
    found: list[InstalledPackage] = []
    for site in _site_packages(env):
        for meta_dir in sorted(site.iterdir()):
            if meta_dir.suffix == ".dist-info":
                metadata = meta_dir / "METADATA"
            elif meta_dir.suffix == ".egg-info":
                metadata = meta_dir / "PKG-INFO" if meta_dir.is_dir() else meta_dir
            else:
                continue
            name, version = _read_metadata(metadata)
            stem_name, _, stem_version = meta_dir.stem.partition("-")
            found.append(InstalledPackage(name=name or stem_name, version=version or stem_version))
    return sorted(found, key=lambda p: (canonicalize_name(p.name), p.version))


def _site_packages(env: PythonEnv) -> list[Path]:
    seen: set[Path] = set()
    result: list[Path] = []
    for lib in ("lib", "lib64"):
        for site in sorted((env.path / lib).glob("python*/site-packages")):
            real = site.resolve()
            if real not in seen and site.is_dir():
                seen.add(real)
                result.append(site)
    return result


def _read_metadata(path: Path) -> tuple[str, str]:
    """``Name`` and ``Version`` from a core-metadata file's headers ("" when missing)."""
    name = version = ""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # end of the headers; the description follows
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                if key == "Name" and not name:
                    name = value.strip()
                elif key == "Version" and not version:
                    version = value.strip()
    except OSError:
        return "", ""
    return name, version


# --- allow-list ---------------------------------------------------------------------------


def load_allowlist(path: Path) -> list[AllowedAdvisory]:
    """Read an allow-list file: a JSON list of ``{"id", "package"?, "expires", "reason"?}``."""
    try:
        return TypeAdapter(list[AllowedAdvisory]).validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise AllowListError(f"allow-list {path}: {exc}") from None


def _allowed_until(
    finding: DependencyFinding, allow: Sequence[AllowedAdvisory], today: date
) -> tuple[date | None, date | None]:
    """(latest unexpired expiry, latest expired expiry) of the entries matching ``finding``."""
    ids = {finding.advisory_id.upper(), *(a.upper() for a in finding.aliases)}
    package = canonicalize_name(finding.package)
    valid: date | None = None
    expired: date | None = None
    for entry in allow:
        if entry.id.upper() not in ids:
            continue
        if entry.package is not None and canonicalize_name(entry.package) != package:
            continue
        if entry.expires >= today:
            valid = max(valid or entry.expires, entry.expires)
        else:
            expired = max(expired or entry.expires, entry.expires)
    return valid, expired


# --- the scan -----------------------------------------------------------------------------


async def scan_dependencies(
    env: PythonEnv,
    *,
    database: Path,
    allow: Sequence[AllowedAdvisory] = (),
    today: date | None = None,
    safety_api_key: str | None = None,
    safety_timeout_s: float = SAFETY_TIMEOUT_S,
) -> DependencyReport:
    """Check every installed distribution of ``env`` against ``database`` (and safety)."""
    started = time.perf_counter()
    today = today or datetime.now(UTC).date()
    packages = await asyncio.to_thread(installed_packages, env)
    sources = ["osv"]
    problems: list[str] = []
    if not packages:
        problems.append(f"no installed distributions found in {env.path}")

    db: AdvisoryDatabase | None = None
    try:
        db = await asyncio.to_thread(load_advisories, database)
    except AdvisoryDatabaseError as exc:
        problems.append(str(exc))
    if db is not None and db.advisories == 0:
        problems.append(f"advisory database {database} holds no PyPI advisories")
    description = db.describe() if db is not None else f"OSV advisories at {database} (unusable)"

    unchecked = {p.name: why for p in packages if (why := _version_problem(p))}
    findings: list[DependencyFinding] = []
    if db is not None:
        checkable = [p for p in packages if p.name not in unchecked]
        findings, unevaluated = await asyncio.to_thread(_check_osv, db, checkable)
        unchecked |= unevaluated

    if safety_api_key:
        sources.append("safety")
        description += "; safety (vendor service)"
        checkable = [p for p in packages if p.name not in unchecked]
        try:
            extra = await run_safety(checkable, api_key=safety_api_key, timeout_s=safety_timeout_s)
        except SafetyError as exc:
            problems.append(f"safety: {exc}")
        else:
            findings = merge_findings(findings, extra)

    expired_notes: list[str] = []
    for finding in findings:
        valid, expired = _allowed_until(finding, allow, today)
        finding.allowed_until = valid
        if valid is None and expired is not None:
            expired_notes.append(f"{finding.advisory_id} (allowed until {expired.isoformat()})")
    findings.sort(key=lambda f: (canonicalize_name(f.package), f.advisory_id))

    blocking = [f for f in findings if f.allowed_until is None]
    reasons = list(problems)
    if blocking:
        shown = ", ".join(
            f"{f.package} {f.installed_version}: {f.advisory_id}" for f in blocking[:5]
        )
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        reasons.append(f"{len(blocking)} vulnerable: {shown}{more}")
    if expired_notes:
        reasons.append("allow-list expired for " + ", ".join(expired_notes))
    if unchecked:
        reasons.append(f"{len(unchecked)} not checked: " + ", ".join(sorted(unchecked)))
    if problems or blocking or unchecked:
        verdict = "fail"
        reason = "; ".join(reasons)
    else:
        verdict = "pass"
        reason = f"{len(packages)} packages checked: no known vulnerabilities"
        if findings:
            accepted = ", ".join(f"{f.advisory_id} until {f.allowed_until}" for f in findings)
            reason = f"{len(packages)} packages checked: all known vulnerabilities allow-listed "
            reason += f"({accepted})"
    return DependencyReport(
        verdict=verdict,
        reason=reason,
        packages=packages,
        findings=findings,
        unchecked=unchecked,
        database=description,
        advisories_loaded=db.advisories if db is not None else 0,
        sources=sources,
        duration_s=round(time.perf_counter() - started, 3),
    )


def _version_problem(package: InstalledPackage) -> str:
    try:
        Version(package.version)
    except InvalidVersion:
        return f"installed version {package.version!r} is not a PEP 440 version"
    return ""


def _check_osv(
    db: AdvisoryDatabase, packages: Iterable[InstalledPackage]
) -> tuple[list[DependencyFinding], dict[str, str]]:
    """OSV findings for ``packages``, and the packages whose advisories could not be evaluated."""
    findings: list[DependencyFinding] = []
    unchecked: dict[str, str] = {}
    for package in packages:
        try:
            matches = db.match(package.name, package.version)
        except UncheckableVersion as exc:
            unchecked[package.name] = str(exc)
            continue
        findings += [
            DependencyFinding(
                package=package.name,
                installed_version=package.version,
                advisory_id=m.advisory.id,
                aliases=list(m.advisory.aliases),
                summary=m.advisory.summary,
                fixed_versions=list(m.fixed_versions),
                source="osv",
            )
            for m in matches
        ]
    return findings, unchecked


def merge_findings(
    primary: Sequence[DependencyFinding], extra: Iterable[DependencyFinding]
) -> list[DependencyFinding]:
    """``primary`` plus the ``extra`` findings that are not already in it.

    Two findings are the same when they concern the same package and share an
    id or alias; the duplicate's ids are added to the kept finding's aliases
    (so an allow-list entry naming either applies).
    """
    merged = [f.model_copy(deep=True) for f in primary]
    for finding in extra:
        ids = {finding.advisory_id.upper(), *(a.upper() for a in finding.aliases)}
        package = canonicalize_name(finding.package)
        twin = next(
            (
                f
                for f in merged
                if canonicalize_name(f.package) == package
                and ids & {f.advisory_id.upper(), *(a.upper() for a in f.aliases)}
            ),
            None,
        )
        if twin is None:
            merged.append(finding.model_copy(deep=True))
            continue
        known = {twin.advisory_id.upper(), *(a.upper() for a in twin.aliases)}
        for alias in (finding.advisory_id, *finding.aliases):
            if alias.upper() not in known:
                twin.aliases.append(alias)
                known.add(alias.upper())
        for fixed in finding.fixed_versions:
            if fixed not in twin.fixed_versions:
                twin.fixed_versions.append(fixed)
    return merged


# --- safety -------------------------------------------------------------------------------


class SafetyError(RuntimeError):
    """safety did not produce a usable result; the message says why."""


async def run_safety(
    packages: Sequence[InstalledPackage], *, api_key: str, timeout_s: float = SAFETY_TIMEOUT_S
) -> list[DependencyFinding]:
    """Check pinned ``name==version`` lines with ``safety check`` (JSON); SafetyError on failure.

    The key travels in ``SAFETY_API_KEY`` (not on the command line, where other
    users could read it); safety reads the pins from stdin. Its config and
    cache go to a temporary home, so runs do not depend on one another.
    """
    executable = await asyncio.to_thread(shutil.which, SAFETY_EXECUTABLE)
    if executable is None:
        raise SafetyError("the safety executable is not installed (pip install safety)")
    pins = "".join(f"{p.name}=={p.version}\n" for p in packages)
    home = await asyncio.to_thread(tempfile.mkdtemp, prefix="mb-safety-")
    try:
        proc = await asyncio.create_subprocess_exec(
            executable,
            "--disable-optional-telemetry",
            "check",
            "--stdin",
            "--output",
            "json",
            "--json-output-format",
            "1.1",
            "--disable-audit-and-monitor",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**_safety_environment(), "SAFETY_API_KEY": api_key, "HOME": home},
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(pins.encode()), timeout=timeout_s)
        except TimeoutError:
            # Its own session: the whole group goes, children included.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise SafetyError(f"timed out after {timeout_s:.0f} s") from None
    finally:
        await asyncio.to_thread(shutil.rmtree, home, True)
    if proc.returncode not in _SAFETY_OK_CODES:
        detail = (err or out).decode(errors="replace").strip().splitlines()[-5:]
        raise SafetyError(f"exit code {proc.returncode}: " + " / ".join(detail))
    return parse_safety_json(out.decode(errors="replace"))


def _safety_environment() -> dict[str, str]:
    """The host environment minus our own configuration (no MB_* values reach safety)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MB_")}


def parse_safety_json(text: str) -> list[DependencyFinding]:
    """Findings from ``safety check --output json`` (format 1.1); SafetyError if malformed."""
    # safety may print a banner before the JSON document.
    start = text.find("{")
    if start < 0:
        raise SafetyError(f"output is not JSON: {text.strip()[:200]!r}")
    try:
        data: Any = json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise SafetyError(f"output is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("vulnerabilities"), list):
        raise SafetyError("output has no 'vulnerabilities' list")
    findings: dict[tuple[str, str], DependencyFinding] = {}
    for item in data["vulnerabilities"]:
        if not isinstance(item, dict):
            raise SafetyError("a vulnerability entry is not an object")
        package, version, ident = (
            item.get("package_name"),
            item.get("analyzed_version"),
            item.get("vulnerability_id"),
        )
        if not (isinstance(package, str) and isinstance(version, str) and ident):
            raise SafetyError(f"a vulnerability entry lacks package, version or id: {item!r}")
        cve = item.get("CVE")
        fixed = item.get("fixed_versions") or []
        findings.setdefault(
            (canonicalize_name(package), str(ident)),
            DependencyFinding(
                package=package,
                installed_version=version,
                advisory_id=str(ident),
                aliases=[cve] if isinstance(cve, str) and cve else [],
                summary=first_line(item.get("advisory")),
                fixed_versions=[str(v) for v in fixed] if isinstance(fixed, list) else [],
                source="safety",
            ),
        )
    return list(findings.values())
