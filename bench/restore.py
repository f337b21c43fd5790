"""Point-in-time recovery against the logical baseline: base backup and PITR restore
versus ``pg_dump -Fc`` and ``pg_restore``.

    .venv/bin/python -m bench.restore [--rows N]

A temporary embedded cluster archives its WAL; a database migrated with the
project's migrations gets N ``audit_log`` rows by COPY, with the real hash
chain (``store.audit.canonical_row`` / ``chain_hash`` computed in Python).
Then, in one run:

- base backup: ``BackupCatalog.take`` (pg_basebackup -Fp -X stream, fast checkpoint);
- 1 % more rows are appended after the backup, the server clock is noted, and
  the WAL is switched and archived;
- PITR restore: ``restore_to`` that moment (verification with pg_verifybackup
  and WAL continuity, copy, replay of the trailing rows, promotion, a count
  check, shutdown): a cold start from files, as a real restore would be;
- baseline: ``pg_dump -Fc`` of the database, ``pg_restore`` into a fresh
  database on the (already running) server.

Each figure is one timing (restores are too heavy to repeat on a shared
machine); everything created is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from schemas.audit import AuditAction
from store.audit import GENESIS, AuditLog, canonical_row, chain_hash
from store.base_backups import BackupCatalog
from store.db import Database
from store.embedded import EmbeddedPostgres
from store.pg_binaries import PgBinaries
from store.pitr_restore import restore_to
from store.wal_archive import switch_wal_and_wait

COLUMNS = "seq, at, actor, client_ip, action, resource, outcome, detail, prev_hash, hash"
ACTIONS = [a.value for a in AuditAction]
MB = 1e6


def _audit_rows(
    first: int, n: int, prev: bytes
) -> Iterator[tuple[int, datetime, str, str, str, str, str, Jsonb, bytes, bytes]]:
    """``n`` chained audit rows starting at ``seq = first`` after hash ``prev``."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(first, first + n):
        at = start + timedelta(milliseconds=seq)
        actor, action = f"user-{seq % 97}", ACTIONS[seq % len(ACTIONS)]
        resource, detail = f"secret:app-{seq % 31}/KEY_{seq % 13}", {"version": seq % 7}
        body = canonical_row(seq, at, actor, "10.0.0.1", action, resource, "ok", detail)
        digest = chain_hash(prev, body)
        yield seq, at, actor, "10.0.0.1", action, resource, "ok", Jsonb(detail), prev, digest
        prev = digest


async def _load(uri: str, first: int, n: int, prev: bytes) -> bytes:
    """COPY ``n`` rows; returns the last hash."""
    last = prev
    async with await psycopg.AsyncConnection.connect(uri) as conn:
        async with conn.cursor().copy(f"COPY audit_log ({COLUMNS}) FROM STDIN") as copy:
            for row in _audit_rows(first, n, prev):
                await copy.write_row(row)
                last = row[-1]
        await conn.commit()
    return last


async def _scalar(uri: str, query: str) -> object:
    async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as conn:
        row = await (await conn.execute(query.encode())).fetchone()
    assert row is not None
    return row[0]


async def _timed_dump_restore(
    binaries: PgBinaries, admin_uri: str, db_uri: str, dump: Path
) -> tuple[float, float, str]:
    """(pg_dump s, pg_restore s, URI of the restored database)."""
    start = time.perf_counter()
    await asyncio.to_thread(binaries.run, "pg_dump", ["-Fc", "-f", str(dump), "-d", db_uri])
    dump_s = time.perf_counter() - start
    async with await psycopg.AsyncConnection.connect(admin_uri, autocommit=True) as conn:
        await conn.execute("CREATE DATABASE bench_restored")
    restored_uri = make_conninfo(admin_uri, dbname="bench_restored")
    start = time.perf_counter()
    await asyncio.to_thread(
        binaries.run, "pg_restore", ["--exit-on-error", "-d", restored_uri, str(dump)]
    )
    return dump_s, time.perf_counter() - start, restored_uri


async def main() -> None:
    """Measure, print a table, then the headline figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    rows: int = args.rows
    extra = max(1, rows // 100)

    root = Path(tempfile.mkdtemp(prefix="mb-bench-restore-"))
    root.chmod(0o755)  # the server user must traverse it
    binaries = PgBinaries()
    catalog = BackupCatalog(root / "backups", binaries)
    catalog.prepare()
    server = EmbeddedPostgres(root / "data", archive_dir=catalog.wal_dir)
    try:
        admin_uri = await server.start()
        async with await psycopg.AsyncConnection.connect(admin_uri, autocommit=True) as conn:
            await conn.execute("CREATE DATABASE bench")
        db_uri = make_conninfo(admin_uri, dbname="bench")
        db = Database(db_uri, max_size=2)
        await db.open()
        await db.migrate()
        await db.close()

        start = time.perf_counter()
        last = await _load(db_uri, 1, rows, GENESIS)
        load_s = time.perf_counter() - start
        db_bytes = int(str(await _scalar(db_uri, "SELECT pg_database_size('bench')")))

        start = time.perf_counter()
        backup = await catalog.take(admin_uri)
        backup_s = time.perf_counter() - start

        await _load(db_uri, rows + 1, extra, last)
        target = await _scalar(admin_uri, "SELECT clock_timestamp()")
        assert isinstance(target, datetime)
        await switch_wal_and_wait(admin_uri, catalog.wal_dir, timeout_s=120)

        result = await restore_to(
            catalog,
            target,
            root / "restored",
            check_sql=["SELECT count(*) FROM audit_log"],
            dbname="bench",
        )
        assert result.checks == [[[str(rows + extra)]]], result.checks

        dump = root / "bench.dump"
        dump_s, pg_restore_s, restored_uri = await _timed_dump_restore(
            binaries, admin_uri, db_uri, dump
        )
        restored = Database(restored_uri, max_size=2)
        await restored.open()
        assert (await AuditLog(restored).verify()).ok
        await restored.close()

        wal_bytes = sum(p.stat().st_size for p in catalog.wal_dir.iterdir())
        print(f"rows: {rows} loaded by COPY in {load_s:.2f} s (+{extra} after the backup)")
        print(f"database {db_bytes / MB:.1f} MB, archived WAL {wal_bytes / MB:.0f} MB")
        print(f"{'step':<34}{'seconds':>9}{'MB':>9}")
        print(f"{'base backup (pg_basebackup)':<34}{backup_s:>9.2f}{backup.size_bytes / MB:>9.1f}")
        print(f"{'PITR restore (verify+replay)':<34}{result.elapsed_s:>9.2f}")
        print(f"{'pg_dump -Fc':<34}{dump_s:>9.2f}{dump.stat().st_size / MB:>9.1f}")
        print(f"{'pg_restore (fresh database)':<34}{pg_restore_s:>9.2f}")
        figures = {
            "base_backup_s": backup_s,
            "pitr_restore_s": result.elapsed_s,
            "pg_dump_s": dump_s,
            "pg_restore_s": pg_restore_s,
            "backup_vs_dump_ratio": backup_s / dump_s,
            "restore_vs_pg_restore_ratio": result.elapsed_s / pg_restore_s,
        }
        for name, value in figures.items():
            print(f"{name}: {value:.2f}")
    finally:
        await server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
