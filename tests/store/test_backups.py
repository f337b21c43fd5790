"""Base backups, the WAL archive and point-in-time restore against a real PostgreSQL.

The module has its own archiving cluster (never the shared ``pg_uri`` one). The
tests run in file order and share its history: the destructive ones put back
what they break, and pruning comes last.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from schemas.backups import ArchiverStatus, BackupError, BackupProgress, BaseBackup
from store.base_backups import BackupCatalog, SegmentName
from store.embedded import EmbeddedPostgres
from store.pitr_restore import restore_to
from store.wal_archive import (
    INCLUDE_FILE,
    archiver_status,
    enable_archiving,
    external_server_settings,
    fallback_archive_command,
    switch_wal_and_wait,
)

BATCHES = "SELECT batch, count(*) FROM items GROUP BY batch ORDER BY batch"


@dataclass
class Cluster:
    """The module's archiving server, its catalog and the backups the tests take."""

    uri: str
    catalog: BackupCatalog
    root: Path
    backups: dict[str, BaseBackup]

    def target_dir(self, name: str) -> Path:
        return self.root / name


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    # outside pytest's 0700 tmp tree: the server user must traverse it
    root = Path(tempfile.mkdtemp(prefix="mb-test-pitr-"))
    root.chmod(0o755)
    catalog = BackupCatalog(root / "backups")
    catalog.prepare()
    server = EmbeddedPostgres(root / "data", archive_dir=catalog.wal_dir)
    uri = await server.start()
    yield Cluster(uri, catalog, root, {})
    await server.stop()
    shutil.rmtree(root, ignore_errors=True)


async def _execute(uri: str, query: str) -> None:
    async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as conn:
        await conn.execute(query.encode())


async def _insert(uri: str, batch: str, first: int, n: int = 3) -> None:
    await _execute(
        uri,
        f"INSERT INTO items SELECT g, '{batch}' FROM generate_series({first}, {first + n - 1}) g",
    )


async def _server_clock(uri: str) -> datetime:
    async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as conn:
        row = await (await conn.execute("SELECT clock_timestamp()")).fetchone()
    assert row is not None
    return row[0].astimezone(UTC)  # type: ignore[no-any-return]


async def _poll_status(uri: str, *, failing: bool, timeout_s: float = 30.0) -> ArchiverStatus:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await archiver_status(uri)
        if status.failing is failing or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


def test_enable_archiving_writes_an_include_and_asks_for_a_restart_once(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "postgresql.conf").write_text("shared_buffers = 16MB\n")
    archive = tmp_path / "wal"

    assert enable_archiving(pgdata, archive) is True
    assert enable_archiving(pgdata, archive) is False

    settings = (pgdata / INCLUDE_FILE).read_text()
    assert "archive_mode = on" in settings and "wal_level = replica" in settings
    assert "archive_library = 'basic_archive'" in settings
    assert f"basic_archive.archive_directory = '{archive}'" in settings
    assert (pgdata / "postgresql.conf").read_text().count(INCLUDE_FILE) == 1
    assert "archive_timeout = 60" in external_server_settings(Path("/srv/wal"))


def test_thefallback_archive_command_is_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    archive, pg_wal = tmp_path / "archive", tmp_path / "pg_wal"
    archive.mkdir()
    pg_wal.mkdir()
    name = "000000010000000000000007"
    (pg_wal / name).write_bytes(b"segment" * 1000)
    command = fallback_archive_command(archive).replace("%p", f"pg_wal/{name}")
    command = command.replace("%f", name)

    def archive_it() -> int:
        return subprocess.run(["sh", "-c", command], cwd=tmp_path, check=False).returncode

    assert archive_it() == 0
    assert (archive / name).read_bytes() == (pg_wal / name).read_bytes()
    assert archive_it() == 0  # a retry of an identical segment
    (pg_wal / name).write_bytes(b"different")
    assert archive_it() != 0
    assert (archive / name).read_bytes() == b"segment" * 1000
    assert sorted(p.name for p in archive.iterdir()) == [name]


async def test_archiving_is_on_for_the_cluster(cluster: Cluster) -> None:
    segment = await switch_wal_and_wait(cluster.uri, cluster.catalog.wal_dir, timeout_s=30)

    status = await archiver_status(cluster.uri)
    assert status.enabled and not status.failing
    assert (cluster.catalog.wal_dir / segment).is_file()


async def test_point_in_time_restore_stops_at_the_target(cluster: Cluster) -> None:
    uri, catalog = cluster.uri, cluster.catalog
    await _execute(uri, "CREATE TABLE items (id int PRIMARY KEY, batch text NOT NULL)")
    before_a = await catalog.take(uri)
    await _insert(uri, "A", 1)
    after_a = await _server_clock(uri)
    reports: list[BackupProgress] = []
    backup = await catalog.take(uri, progress=reports.append, progress_interval=0.05)
    await _insert(uri, "B", 4)
    after_b = await _server_clock(uri)
    await asyncio.sleep(1.0)
    await _insert(uri, "C", 7)
    await switch_wal_and_wait(uri, catalog.wal_dir, timeout_s=30)
    cluster.backups.update(before_a=before_a, after_a=backup)

    result = await restore_to(catalog, after_b, cluster.target_dir("at-b"), check_sql=[BATCHES])

    assert result.backup_id == backup.id
    assert result.checks == [[["A", "3"], ["B", "3"]]]
    assert result.recovered_to is not None and result.recovered_to <= after_b
    assert reports and reports[-1].percent == 100
    assert [b.id for b in catalog.list()] == [backup.id, before_a.id]
    # a ready data directory that will never archive
    assert not (result.into / "recovery.signal").exists()
    assert "archive_mode = 'off'" in (result.into / "postgresql.auto.conf").read_text()

    older = await restore_to(catalog, after_a, cluster.target_dir("at-a"), check_sql=[BATCHES])

    assert older.backup_id == before_a.id
    assert older.checks == [[["A", "3"]]]


async def test_a_backup_records_where_its_wal_starts(cluster: Cluster) -> None:
    backup = cluster.backups["after_a"]

    assert backup.started_at <= backup.finished_at
    assert backup.timeline == 1 and backup.wal_segment_size == 16 * 1024 * 1024
    assert backup.start_wal.startswith("00000001") and backup.size_bytes > 0
    assert "PostgreSQL" in backup.tool_version
    assert cluster.catalog.verify(backup.id).ok


async def test_verify_catches_a_corrupted_file(cluster: Cluster) -> None:
    backup = cluster.backups["after_a"]
    data = cluster.catalog.data_dir(backup.id)
    victim = next(p for p in sorted((data / "base").rglob("*")) if p.is_file() and p.stat().st_size)
    original = victim.read_bytes()
    victim.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
    try:
        verification = cluster.catalog.verify(backup.id)
    finally:
        victim.write_bytes(original)

    assert not verification.ok
    assert "checksum mismatch" in verification.problems[0]
    assert str(victim.relative_to(data)) in verification.problems[0]
    assert cluster.catalog.verify(backup.id).ok


async def test_a_missing_segment_fails_verify_and_restore(cluster: Cluster) -> None:
    uri, catalog = cluster.uri, cluster.catalog
    backup = cluster.backups["after_a"]
    for first in (10, 20):
        await _insert(uri, "D", first)
        await switch_wal_and_wait(uri, catalog.wal_dir, timeout_s=30)
    size = backup.wal_segment_size
    start = SegmentName.parse(backup.start_wal, size)
    victim = SegmentName(start.timeline, start.segno + 1).name(size)
    assert victim < catalog.archived_segments()[-1]
    aside = cluster.root / victim
    (catalog.wal_dir / victim).rename(aside)
    into = cluster.target_dir("gap")
    try:
        verification = catalog.verify(backup.id)
        with pytest.raises(BackupError, match=f"missing WAL segment {victim}"):
            await restore_to(catalog, await _server_clock(uri), into)
    finally:
        aside.rename(catalog.wal_dir / victim)

    assert not verification.ok
    assert verification.problems == [f"missing WAL segment {victim}"]
    assert not into.exists() or not any(into.iterdir())
    assert catalog.verify(backup.id).ok


async def test_a_target_after_the_archived_wal_is_an_error(cluster: Cluster) -> None:
    await switch_wal_and_wait(cluster.uri, cluster.catalog.wal_dir, timeout_s=30)
    # no commit after this moment reaches the archive: recovery cannot stop there
    target = await _server_clock(cluster.uri)
    into = cluster.target_dir("future")

    with pytest.raises(BackupError, match="recovery ended before configured recovery target"):
        await restore_to(cluster.catalog, target, into)

    assert not any(into.iterdir())


async def test_archiving_failure_is_reported_then_recovers(cluster: Cluster) -> None:
    uri, wal_dir = cluster.uri, cluster.catalog.wal_dir
    wal_dir.chmod(0o500)  # the server user can no longer write there
    try:
        await _insert(uri, "E", 100)
        await _execute(uri, "SELECT pg_switch_wal()")
        broken = await _poll_status(uri, failing=True)
    finally:
        wal_dir.chmod(0o700)

    assert broken.failing and broken.enabled and broken.failed_count >= 1
    await _insert(uri, "E", 200)
    await _execute(uri, "SELECT pg_switch_wal()")
    fixed = await _poll_status(uri, failing=False)
    assert not fixed.failing
    assert fixed.last_archived_wal is not None
    assert fixed.last_failed_wal is not None and fixed.last_archived_wal > fixed.last_failed_wal


async def test_restore_refuses_bad_requests(cluster: Cluster) -> None:
    busy = cluster.target_dir("busy")
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    now = datetime.now(UTC)

    with pytest.raises(BackupError, match="not an empty directory"):
        await restore_to(cluster.catalog, now, busy)
    with pytest.raises(BackupError, match="no base backup finished before 2000-01-01"):
        await restore_to(cluster.catalog, datetime(2000, 1, 1, tzinfo=UTC), cluster.root / "old")
    with pytest.raises(BackupError, match="timezone-aware"):
        await restore_to(cluster.catalog, now.replace(tzinfo=None), cluster.root / "naive")
    assert (busy / "keep.txt").read_text() == "mine"


async def test_prune_keeps_the_newest_and_their_wal(cluster: Cluster) -> None:
    catalog = cluster.catalog
    incomplete = catalog.base_dir / "20000101T000000000000Z"
    (incomplete / "data").mkdir(parents=True)
    (incomplete / "data" / "PG_VERSION").write_text("18\n")
    newest = await catalog.take(cluster.uri)
    middle, oldest = cluster.backups["after_a"], cluster.backups["before_a"]
    await switch_wal_and_wait(cluster.uri, catalog.wal_dir, timeout_s=30)
    assert incomplete.name not in [b.id for b in catalog.list()]

    result = catalog.prune(keep=2)

    assert result.kept == [newest.id, middle.id]
    assert result.removed_backups == [oldest.id]
    assert result.removed_incomplete == [incomplete.name]
    assert not incomplete.exists() and not (catalog.base_dir / oldest.id).exists()
    assert result.removed_wal and all(w[8:24] < middle.start_wal[8:] for w in result.removed_wal)
    assert all(s[8:] >= middle.start_wal[8:] for s in catalog.archived_segments())
    assert catalog.verify(middle.id).ok
    with pytest.raises(BackupError, match="at least one"):
        catalog.prune(keep=0)
