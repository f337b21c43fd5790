"""A catalog of base backups and the WAL archive beside them.

Layout of ``backup_dir``::

    wal/                      archived WAL segments (the server writes them)
    base/<id>/data/           pg_basebackup -Fp -X stream output, with backup_manifest
    base/<id>/keys.age        the encrypted key escrow taken with it (when configured)
    base/<id>/backup.json     written last and atomically: without it, incomplete
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from schemas.backups import (
    BackupError,
    BackupProgress,
    BackupVerification,
    BaseBackup,
    DrillResult,
    PruneResult,
)
from schemas.settings import Settings
from store.durable_files import fsync_dir
from store.pg_binaries import PgBinaries, stderr_tail
from store.wal_archive import prepare_archive_dir

ProgressCallback = Callable[[BackupProgress], None]

_BACKUP_ID = re.compile(r"\d{8}T\d{12}Z")
_DRILL_FILE = "drill.json"
SEGMENT = re.compile(r"[0-9A-F]{24}")
_ARCHIVED_FILE = re.compile(r"([0-9A-F]{24})(\.partial|\.[0-9A-F]{8}\.backup)?")
_PROGRESS = re.compile(r"(\d+)/(\d+) kB \((\d+)%\)")
_LABEL_START = re.compile(r"START WAL LOCATION: (\S+) \(file ([0-9A-F]{24})\)")
_LABEL_TIMELINE = re.compile(r"START TIMELINE: (\d+)")
_SEGMENT_SIZE = re.compile(r"Bytes per WAL segment:\s+(\d+)")
_LOCK_FILE = ".taking"
_META_FILE = "backup.json"
ESCROW_FILE = "keys.age"


@dataclass(frozen=True)
class SegmentName:
    """A WAL segment file name split into timeline and segment number."""

    timeline: int
    segno: int

    @classmethod
    def parse(cls, name: str, segment_size: int) -> SegmentName:
        """``TTTTTTTTXXXXXXXXYYYYYYYY`` into (timeline, segment number)."""
        per_log = 0x1_0000_0000 // segment_size
        return cls(int(name[:8], 16), int(name[8:16], 16) * per_log + int(name[16:24], 16))

    def name(self, segment_size: int) -> str:
        """Back to the 24 hex digit file name."""
        per_log = 0x1_0000_0000 // segment_size
        return f"{self.timeline:08X}{self.segno // per_log:08X}{self.segno % per_log:08X}"


def _split_password(conninfo: str) -> tuple[str, str]:
    """(conninfo without its password, the password): the password goes by environment."""
    params = conninfo_to_dict(conninfo)
    password = str(params.pop("password", "") or "")
    return make_conninfo("", **params), password


async def _server_now(conninfo: str) -> tuple[datetime, int]:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        row = await (
            await conn.execute("SELECT now(), current_setting('server_version_num')::int")
        ).fetchone()
    assert row is not None
    return row[0].astimezone(UTC), int(row[1])


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


def _write_private(path: Path, data: bytes) -> None:
    """A new file readable by its owner only, fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


class BackupCatalog:
    """Base backups and the WAL archive of one cluster, under ``backup_dir``."""

    def __init__(self, backup_dir: Path, binaries: PgBinaries | None = None) -> None:
        self.root = backup_dir
        self.binaries = binaries or PgBinaries()

    @property
    def wal_dir(self) -> Path:
        """Where the server archives WAL segments."""
        return self.root / "wal"

    @property
    def base_dir(self) -> Path:
        """Where base backups live, one directory each."""
        return self.root / "base"

    def prepare(self) -> None:
        """Create the layout; ``wal/`` belongs to the server user (it writes there)."""
        self.root.mkdir(parents=True, exist_ok=True)
        prepare_archive_dir(self.wal_dir)
        self.base_dir.mkdir(exist_ok=True)
        self.base_dir.chmod(0o700)

    def data_dir(self, backup_id: str) -> Path:
        """The plain-format data directory of a backup."""
        return self._backup_path(backup_id) / "data"

    def _backup_path(self, backup_id: str) -> Path:
        if not _BACKUP_ID.fullmatch(backup_id):
            raise BackupError(f"not a backup id: {backup_id!r}")
        return self.base_dir / backup_id

    def escrow(self, backup_id: str) -> bytes | None:
        """The key escrow kept with a backup, if it has one and it is intact."""
        backup = self.get(backup_id)
        path = self._backup_path(backup_id) / ESCROW_FILE
        if backup.escrow_sha256 is None or not path.is_file():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != backup.escrow_sha256:
            raise BackupError(f"backup {backup_id}: {ESCROW_FILE} is not the file recorded")
        return data

    def record_drill(self, drill: DrillResult) -> None:
        """Keep a restore drill's result beside its backup (``drill.json``)."""
        path = self._backup_path(drill.backup_id) / _DRILL_FILE
        _write_atomically(path, drill.model_dump_json(indent=1) + "\n")

    def drill(self, backup_id: str) -> DrillResult | None:
        """The last restore drill of a backup, if one ran."""
        path = self._backup_path(backup_id) / _DRILL_FILE
        if not path.exists():
            return None
        return DrillResult.model_validate_json(path.read_text())

    # --- taking ---------------------------------------------------------------

    async def take(
        self,
        conninfo: str,
        *,
        progress: ProgressCallback | None = None,
        progress_interval: float = 5.0,
        timeout_s: float = 6 * 3600.0,
        escrow: bytes | None = None,
    ) -> BaseBackup:
        """Run pg_basebackup against ``conninfo`` and record the backup.

        ``progress`` is called every ``progress_interval`` seconds while it runs
        (and once at the end); ``escrow`` (an encrypted key escrow) is kept beside
        it before the backup counts as complete. On any failure the partial
        directory is removed.
        """
        self.base_dir.mkdir(parents=True, exist_ok=True)
        started_at, server_version = await _server_now(conninfo)
        self.binaries.check_client_for(server_version)
        backup_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self._backup_path(backup_id)
        path.mkdir()
        try:
            with _held_lock(path / _LOCK_FILE):
                await self._run_basebackup(
                    conninfo, path / "data", progress, progress_interval, timeout_s
                )
                finished_at, _ = await _server_now(conninfo)
                backup = self._describe(backup_id, started_at, finished_at)
                if escrow is not None:
                    _write_private(path / ESCROW_FILE, escrow)
                    digest = hashlib.sha256(escrow).hexdigest()
                    backup = backup.model_copy(update={"escrow_sha256": digest})
                _write_atomically(path / _META_FILE, backup.model_dump_json(indent=2))
            (path / _LOCK_FILE).unlink()
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return backup

    async def _run_basebackup(
        self,
        conninfo: str,
        data: Path,
        progress: ProgressCallback | None,
        interval: float,
        timeout_s: float,
    ) -> None:
        dsn, password = _split_password(conninfo)
        env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
        args = ["-D", str(data), "-Fp", "-X", "stream", "--checkpoint=fast", "-P", "-w"]
        args += ["-l", f"microbuilder {data.parent.name}", "-d", dsn]
        proc = await asyncio.create_subprocess_exec(
            str(self.binaries.path("pg_basebackup")),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        state = BackupProgress()
        lines: deque[str] = deque(maxlen=40)
        reader = asyncio.create_task(_read_progress(proc, state, lines))
        start = time.monotonic()
        try:
            while True:
                try:
                    await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=interval)
                    break
                except TimeoutError:
                    if time.monotonic() - start > timeout_s:
                        raise BackupError(f"pg_basebackup ran over {timeout_s:.0f} s") from None
                    if progress is not None:
                        progress(state.model_copy(update={"elapsed_s": time.monotonic() - start}))
            await reader
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            reader.cancel()
        if proc.returncode != 0:
            tail = stderr_tail("\n".join(lines), [password])
            raise BackupError(f"pg_basebackup failed (exit {proc.returncode}): {tail}")
        if progress is not None:
            progress(state.model_copy(update={"elapsed_s": time.monotonic() - start}))

    def _describe(self, backup_id: str, started_at: datetime, finished_at: datetime) -> BaseBackup:
        data = self.data_dir(backup_id)
        label = (data / "backup_label").read_text()
        start = _LABEL_START.search(label)
        timeline = _LABEL_TIMELINE.search(label)
        if start is None or timeline is None:
            raise BackupError(f"backup {backup_id}: unreadable backup_label")
        manifest = json.loads((data / "backup_manifest").read_text())
        ranges = manifest.get("WAL-Ranges") or [{}]
        return BaseBackup(
            id=backup_id,
            started_at=started_at,
            finished_at=finished_at,
            start_lsn=start.group(1),
            end_lsn=str(ranges[-1].get("End-LSN", "")),
            timeline=int(timeline.group(1)),
            start_wal=start.group(2),
            wal_segment_size=self._segment_size(data),
            size_bytes=_tree_size(data),
            tool_version=self.binaries.version_text("pg_basebackup"),
        )

    def _segment_size(self, data: Path) -> int:
        out = self.binaries.run("pg_controldata", [str(data)]).stdout
        match = _SEGMENT_SIZE.search(out)
        if match is None:
            raise BackupError("pg_controldata did not report the WAL segment size")
        return int(match.group(1))

    # --- reading --------------------------------------------------------------

    def list(self) -> list[BaseBackup]:
        """Complete backups, newest first (directories without backup.json are ignored)."""
        backups = [b for b in map(self._load, self._backup_dirs()) if b is not None]
        return sorted(backups, key=lambda b: (b.started_at, b.id), reverse=True)

    def get(self, backup_id: str) -> BaseBackup:
        """One complete backup; BackupError if unknown or incomplete."""
        backup = self._load(self._backup_path(backup_id))
        if backup is None:
            raise BackupError(f"no complete backup {backup_id}")
        return backup

    def _backup_dirs(self) -> Iterator[Path]:
        if not self.base_dir.is_dir():
            return
        for path in sorted(self.base_dir.iterdir()):
            if path.is_dir() and _BACKUP_ID.fullmatch(path.name):
                yield path

    @staticmethod
    def _load(path: Path) -> BaseBackup | None:
        meta = path / _META_FILE
        if not meta.is_file():
            return None
        return BaseBackup.model_validate_json(meta.read_text())

    def archived_segments(self) -> builtins.list[str]:
        """Names of the complete WAL segments in the archive, in order."""
        if not self.wal_dir.is_dir():
            return []
        return sorted(p.name for p in self.wal_dir.iterdir() if SEGMENT.fullmatch(p.name))

    # --- verifying ------------------------------------------------------------

    def verify(self, backup_id: str, *, until: datetime | None = None) -> BackupVerification:
        """pg_verifybackup (files and the backup's own WAL) plus archive continuity.

        Continuity runs from the backup's start segment to the newest archived
        segment, or with ``until`` to the first segment archived after it (the
        one holding that moment); gaps beyond are reported as notes.
        """
        backup = self.get(backup_id)
        problems = self._verifybackup(backup_id)
        wal_problems, notes, checked = self._wal_continuity(backup, until)
        problems += wal_problems
        return BackupVerification(
            backup_id=backup_id,
            ok=not problems,
            problems=problems,
            notes=notes,
            checked_segments=checked,
        )

    def _verifybackup(self, backup_id: str) -> builtins.list[str]:
        try:
            self.binaries.run("pg_verifybackup", [str(self.data_dir(backup_id))])
        except BackupError as exc:
            return [str(exc)]
        return []

    def _wal_continuity(
        self, backup: BaseBackup, until: datetime | None
    ) -> tuple[builtins.list[str], builtins.list[str], int]:
        size = backup.wal_segment_size
        start = SegmentName.parse(backup.start_wal, size).segno
        present: dict[int, Path] = {}
        for name in self.archived_segments():
            seg = SegmentName.parse(name, size)
            if seg.timeline >= backup.timeline and seg.segno >= start:
                present.setdefault(seg.segno, self.wal_dir / name)
        if not present:
            return [f"no WAL archived since the backup started ({backup.start_wal})"], [], 0
        newest = max(present)
        end = newest if until is None else _segment_after(present, until, newest)
        missing = [n for n in range(start, newest + 1) if n not in present]

        def label(n: int) -> str:
            return f"missing WAL segment {SegmentName(backup.timeline, n).name(size)}"

        problems = [label(n) for n in missing if n <= end]
        notes = [label(n) + " (after the target)" for n in missing if n > end]
        return problems, notes, end - start + 1

    # --- pruning --------------------------------------------------------------

    def prune(self, keep: int) -> PruneResult:
        """Keep the newest ``keep`` complete backups; drop older ones, incomplete ones
        (unless being taken) and WAL segments older than the oldest kept backup."""
        if keep < 1:
            raise BackupError("prune keeps at least one backup")
        backups = self.list()
        kept, dropped = backups[:keep], backups[keep:]
        for backup in dropped:
            shutil.rmtree(self._backup_path(backup.id))
        incomplete = [
            p.name for p in self._backup_dirs() if self._load(p) is None and not _is_locked(p)
        ]
        for name in incomplete:
            shutil.rmtree(self.base_dir / name)
        removed_wal = self._drop_wal_before(kept[-1].start_wal) if kept else []
        return PruneResult(
            kept=[b.id for b in kept],
            removed_backups=[b.id for b in dropped],
            removed_incomplete=incomplete,
            removed_wal=removed_wal,
        )

    def _drop_wal_before(self, oldest_needed: str) -> builtins.list[str]:
        """Like pg_archivecleanup: segments (and .partial/.backup files) sorting before
        ``oldest_needed``, timeline ignored; history files stay."""
        removed: builtins.list[str] = []
        for path in sorted(self.wal_dir.iterdir()):
            match = _ARCHIVED_FILE.fullmatch(path.name)
            if match and match.group(1)[8:] < oldest_needed[8:]:
                path.unlink()
                removed.append(path.name)
        return removed


def _segment_after(present: dict[int, Path], until: datetime, newest: int) -> int:
    """The first segment archived after ``until``: it holds the records up to that time."""
    limit = until.timestamp()
    for segno in sorted(present):
        if present[segno].stat().st_mtime > limit:
            return segno
    return newest


async def _read_progress(
    proc: asyncio.subprocess.Process, state: BackupProgress, lines: deque[str]
) -> None:
    assert proc.stderr is not None
    async for raw in proc.stderr:
        line = raw.decode(errors="replace").rstrip()
        match = _PROGRESS.search(line)
        if match is None:
            lines.append(line)
            continue
        state.done_kb, state.total_kb, state.percent = map(int, match.groups())


@contextlib.contextmanager
def _held_lock(path: Path) -> Iterator[None]:
    """An exclusive flock held while a backup is taken (released if the process dies)."""
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _is_locked(backup_path: Path) -> bool:
    lock = backup_path / _LOCK_FILE
    if not lock.exists():
        return False
    with lock.open("r") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def configured_catalog(settings: Settings) -> BackupCatalog | None:
    """The catalog ``MB_BACKUP_DIR`` (and ``MB_PG_BINDIR``) describe; None when
    this deployment takes no backups."""
    path = settings.backup_path
    return None if path is None else BackupCatalog(path, PgBinaries(settings.pg_bindir))
