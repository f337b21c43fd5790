"""An offline OSV advisory database for PyPI: loading and version matching (refreshing
it: :mod:`activities.qa.advisory_update`).

Two layouts are read, even mixed in one directory tree:

- the PyPA advisory database's YAML (``vulns/<package>/<ID>.yaml``);
- OSV JSON records (``*.json``), e.g. the unpacked ``PyPI/all.zip`` dump that
  ``mb advisories update`` downloads.

Records are indexed by the PEP 503 normalised name of every PyPI package they
affect. Whether an installed version is affected follows the OSV schema's
evaluation: the version is listed in ``versions``, or lies in an ``ECOSYSTEM``
(or ``SEMVER``) range, compared as PEP 440 versions with :mod:`packaging`.
``GIT`` ranges name commits and cannot be compared with an installed version;
they are ignored. Anything that cannot be compared (an unparseable version, an
unknown event, an affected entry with no usable version data) raises
:class:`UncheckableVersion` so the caller can report the package as unchecked
instead of clean.

A parsed database is cached in memory, keyed by its path and the size and
modification time of every record file, so a scan after the first costs a
directory walk.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

log = logging.getLogger(__name__)

ECOSYSTEM = "PyPI"
MAX_RECORDS = 500_000
SUMMARY_CHARS = 240

EventKind = Literal["introduced", "fixed", "last_affected", "limit"]
_EVENT_KINDS: tuple[EventKind, ...] = ("introduced", "fixed", "last_affected", "limit")
# At equal versions an introduction is applied before the events that end a range.
_EVENT_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2}
_COMPARABLE_RANGES = frozenset({"ECOSYSTEM", "SEMVER"})
_RECORD_SUFFIXES = (".json", ".yaml", ".yml")
_YAML_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
"""Every scalar stays a string: ``1.10`` must not become the float 1.1."""


class AdvisoryDatabaseError(RuntimeError):
    """The advisory database is missing, unreadable or malformed; the message says why."""


class UncheckableVersion(ValueError):
    """Whether a version is affected cannot be decided; the message says why."""


@dataclass(frozen=True)
class Event:
    """One event of an OSV range."""

    kind: EventKind
    version: str


@dataclass(frozen=True)
class VersionRange:
    """One ``affected[].ranges[]`` entry."""

    type: str
    events: tuple[Event, ...]

    @property
    def comparable(self) -> bool:
        """Whether installed versions can be compared with this range (not GIT)."""
        return self.type in _COMPARABLE_RANGES


@dataclass(frozen=True)
class AffectedPackage:
    """One PyPI ``affected[]`` entry: a package and the versions of it that are affected."""

    name: str
    versions: frozenset[str]
    ranges: tuple[VersionRange, ...]

    def affects(self, version: str) -> bool:
        """Whether ``version`` is affected; UncheckableVersion when that cannot be decided."""
        if version in self.versions:
            return True
        parsed = _parse(version)
        if parsed is None:
            raise UncheckableVersion(f"installed version {version!r} is not a PEP 440 version")
        # The list may spell a version differently from the installed metadata (0.12.01).
        if any(_parse(listed) == parsed for listed in self.versions):
            return True
        comparable = [r for r in self.ranges if r.comparable]
        if not comparable and not self.versions:
            raise UncheckableVersion("the advisory gives no PyPI versions or version ranges")
        return any(_in_range(parsed, r.events) for r in comparable)

    @property
    def fixed_versions(self) -> tuple[str, ...]:
        """The ``fixed`` events of the comparable ranges, in version order."""
        fixed = {
            e.version for r in self.ranges if r.comparable for e in r.events if e.kind == "fixed"
        }
        return tuple(sorted(fixed, key=lambda v: (_parse(v) is None, _parse(v) or Version("0"), v)))


@dataclass(frozen=True)
class Advisory:
    """One OSV record, reduced to what the dependency scan reports."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    affected: tuple[AffectedPackage, ...]
    withdrawn: bool = False


@dataclass(frozen=True)
class AdvisoryMatch:
    """An advisory that affects an installed version of a package."""

    advisory: Advisory
    package: str
    version: str
    fixed_versions: tuple[str, ...]


@dataclass
class AdvisoryDatabase:
    """Parsed advisories, indexed by normalised package name."""

    path: Path
    advisories: int = 0
    """Records loaded (withdrawn ones excluded)."""
    withdrawn: int = 0
    by_package: dict[str, list[tuple[Advisory, AffectedPackage]]] = field(default_factory=dict)

    def add(self, advisory: Advisory) -> None:
        """Index one record (withdrawn records are only counted)."""
        if advisory.withdrawn:
            self.withdrawn += 1
            return
        self.advisories += 1
        for entry in advisory.affected:
            self.by_package.setdefault(canonicalize_name(entry.name), []).append((advisory, entry))

    def describe(self) -> str:
        """The path and counts, for reports."""
        withdrawn = f", {self.withdrawn} withdrawn ignored" if self.withdrawn else ""
        return f"OSV advisories at {self.path} ({self.advisories} loaded{withdrawn})"

    def match(self, package: str, version: str) -> list[AdvisoryMatch]:
        """Every advisory affecting ``package`` at ``version``.

        Raises UncheckableVersion when one of the package's advisories cannot be
        evaluated for this version (and did not already match some other way).
        """
        entries = self.by_package.get(canonicalize_name(package), [])
        matched: dict[str, AdvisoryMatch] = {}
        problems: dict[str, str] = {}
        for advisory, entry in entries:
            try:
                hit = entry.affects(version)
            except UncheckableVersion as exc:
                problems[advisory.id] = str(exc)
                continue
            if not hit:
                continue
            previous = matched.get(advisory.id)
            fixed = entry.fixed_versions
            if previous is not None:
                fixed = tuple(dict.fromkeys((*previous.fixed_versions, *fixed)))
            matched[advisory.id] = AdvisoryMatch(advisory, package, version, fixed)
        # Another entry of the same advisory may have matched: then the advisory is reported.
        unresolved = sorted(f"{i}: {why}" for i, why in problems.items() if i not in matched)
        if unresolved:
            raise UncheckableVersion("; ".join(unresolved))
        return sorted(matched.values(), key=lambda m: m.advisory.id)


# --- version comparison -------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _parse(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _bound(event: Event) -> Version:
    parsed = _parse(event.version)
    if parsed is None:
        raise UncheckableVersion(f"{event.kind} version {event.version!r} is not a PEP 440 version")
    return parsed


def _in_range(version: Version, events: tuple[Event, ...]) -> bool:
    """The OSV evaluation of one range (``IncludedInRanges`` for a single range)."""
    limits = [e for e in events if e.kind == "limit"]
    if limits and not any("*" in e.version or version < _bound(e) for e in limits):
        return False
    points: list[tuple[tuple[int, Version], int, EventKind]] = []
    for event in events:
        if event.kind == "limit":
            continue
        if event.kind == "introduced" and event.version == "0":
            key = (0, Version("0"))  # "0" sorts before every version
        else:
            key = (1, _bound(event))
        points.append((key, _EVENT_ORDER[event.kind], event.kind))
    if not any(kind == "introduced" for _, _, kind in points):
        # Invalid per the schema; reading it as "introduced: 0" errs on the side of reporting.
        points.append(((0, Version("0")), 0, "introduced"))
    affected = False
    for (_, bound), _, kind in sorted(points, key=lambda p: (p[0], p[1])):
        if kind == "introduced":
            affected = affected or version >= bound
        elif kind == "fixed" and version >= bound:
            affected = False
        elif kind == "last_affected" and version > bound:
            affected = False
    return affected


# --- parsing records ----------------------------------------------------------------------


def parse_advisory(record: Any) -> Advisory:
    """An :class:`Advisory` from one OSV record (a JSON or YAML mapping); ValueError if malformed.

    Only the PyPI entries of ``affected`` are kept.
    """
    if not isinstance(record, Mapping):
        raise ValueError("an OSV record must be a mapping")
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise ValueError("an OSV record needs a string id")
    aliases = tuple(str(a) for a in _list(record.get("aliases"), "aliases"))
    summary = first_line(record.get("summary")) or first_line(record.get("details"))
    affected: list[AffectedPackage] = []
    for raw in _list(record.get("affected"), "affected"):
        if not isinstance(raw, Mapping):
            raise ValueError(f"{ident}: affected entries must be mappings")
        package = raw.get("package")
        if not isinstance(package, Mapping):
            continue  # no package: nothing an installed distribution could match
        if str(package.get("ecosystem", "")).split(":", 1)[0] != ECOSYSTEM:
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{ident}: a PyPI entry without a package name")
        versions = frozenset(str(v) for v in _list(raw.get("versions"), "versions"))
        ranges = tuple(_parse_range(ident, r) for r in _list(raw.get("ranges"), "ranges"))
        affected.append(AffectedPackage(name=name, versions=versions, ranges=ranges))
    return Advisory(
        id=ident,
        aliases=aliases,
        summary=summary,
        affected=tuple(affected),
        withdrawn=not _null(record.get("withdrawn")),
    )


def _parse_range(ident: str, raw: Any) -> VersionRange:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{ident}: ranges must be mappings")
    events: list[Event] = []
    for item in _list(raw.get("events"), "events"):
        if not isinstance(item, Mapping) or len(item) != 1:
            raise ValueError(f"{ident}: each range event must have exactly one key")
        ((kind, version),) = item.items()
        if kind not in _EVENT_KINDS:
            raise ValueError(f"{ident}: unknown range event {kind!r}")
        events.append(Event(kind=kind, version=str(version)))
    return VersionRange(type=str(raw.get("type", "")), events=tuple(events))


def _null(value: Any) -> bool:
    # YAML read with BaseLoader spells null as "", "null" or "~".
    return value is None or value in ("", "null", "~")


def _list(value: Any, what: str) -> list[Any]:
    if _null(value):
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list")
    return value


def first_line(value: Any) -> str:
    """The first non-blank line of a text (shortened for reports); "" for anything else."""
    if not isinstance(value, str) or _null(value):
        return ""
    line = next((line.strip() for line in value.splitlines() if line.strip()), "")
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1].rstrip() + "…"


# --- loading a directory ------------------------------------------------------------------

_cache: dict[Path, tuple[tuple[Any, ...], AdvisoryDatabase]] = {}
_cache_lock = threading.Lock()
_CACHE_ENTRIES = 4


def load_advisories(path: Path) -> AdvisoryDatabase:
    """Load (or return the cached) database under ``path``; AdvisoryDatabaseError if unusable.

    Blocking (file I/O and parsing): call it from a thread in async code. A
    database without records loads as empty; the caller decides what that means.
    """
    if not path.is_dir():
        raise AdvisoryDatabaseError(f"advisory database {path} does not exist")
    files = _record_files(path)
    signature = (str(path.resolve()), *files)
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        database = AdvisoryDatabase(path=path)
        for rel, _size, _mtime in files:
            database.add(_read_record(path, rel))
        _cache.pop(path, None)
        _cache[path] = (signature, database)
        while len(_cache) > _CACHE_ENTRIES:
            del _cache[next(iter(_cache))]
        return database


def clear_advisory_cache() -> None:
    """Forget every parsed database (the next load parses again)."""
    with _cache_lock:
        _cache.clear()


def _record_files(root: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of every record file, hidden entries skipped."""
    found: list[tuple[str, int, int]] = []
    try:
        for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not name.endswith(_RECORD_SUFFIXES):
                    continue
                full = os.path.join(dirpath, name)
                st = os.stat(full)
                found.append((os.path.relpath(full, root), st.st_size, st.st_mtime_ns))
    except OSError as exc:
        raise AdvisoryDatabaseError(f"advisory database {root} is unreadable: {exc}") from None
    return found


def _raise(exc: OSError) -> None:
    raise exc


def _read_record(root: Path, rel: str) -> Advisory:
    try:
        text = (root / rel).read_text(encoding="utf-8")
        if rel.endswith(".json"):
            return parse_advisory(json.loads(text))
        # BaseLoader builds only strings, lists and dicts: nothing unsafe.
        return parse_advisory(yaml.load(text, Loader=_YAML_LOADER))  # noqa: S506
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise AdvisoryDatabaseError(f"advisory database {root}: {rel}: {exc}") from None
