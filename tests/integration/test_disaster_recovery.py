"""A machine lost with its data directory, rebuilt from the backups and the key escrow:
`mb up` on the rebuilt directory serves the app again, its secret reveals, the
histories decode and the audit chain verifies."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyrage
import pytest

from cli.endpoints import resolve
from schemas.settings import Settings
from store.base_backups import ESCROW_FILE, BackupCatalog
from store.wal_archive import switch_wal_and_wait
from tests.integration.test_mb_up import DEMO, Up
from tests.mb_env import mb_env
from tests.snapshot import advisory_snapshot

pytestmark = pytest.mark.integration

APP = "climbing-team-todo"


@pytest.fixture
def site() -> Iterator[Path]:
    """The lost machine's data directory, the backup storage and the operator's desk."""
    path = Path(tempfile.mkdtemp(prefix="mb-dr-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(data_dir: Path, backups: Path, identity: Path, recipient: str) -> dict[str, str]:
    return mb_env(
        data_dir,
        MB_BACKUP_DIR=str(backups),
        MB_ESCROW_RECIPIENTS=recipient,
        MB_ESCROW_IDENTITY_FILE=str(identity),
        MB_ADVISORY_DB=str(advisory_snapshot()),
    )


def _mb(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"mb {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.timeout(1200)
@pytest.mark.reliability(
    "Machine lost with its keys",
    done=(
        "Deploy an app, set its secret, back up (with the key escrow) and write again; delete"
        " the data directory (keys, database, everything); restore the database to the last"
        " archived moment and the keys from the escrow into a new directory; `mb up` on it"
    ),
)
def test_a_lost_data_directory_is_rebuilt_from_backup_and_escrow(site: Path) -> None:
    """The app serves again from its own origin; the secret written after the backup
    reveals (WAL replayed); the workflows' encrypted histories replay with the restored
    payload keys; the release's evidence verifies; `mb audit verify` passes; the rebuilt
    stack archives, backs up and passes its own restore drill."""
    lost, rebuilt, backups = site / "lost", site / "rebuilt", site / "backups"
    identity = pyrage.x25519.Identity.generate()
    identity_file = site / "operator-identity.txt"  # kept by the operator, off the machine
    identity_file.write_text(f"{identity}\n")
    identity_file.chmod(0o600)
    recipient = str(identity.to_public())

    env = _env(lost, backups, identity_file, recipient)
    first = Up(env, site / "up-1.log", "--demo", DEMO)
    try:
        first.wait_for("live at", within=300)
        first.wait_for("Press Ctrl-C", within=60)
        _mb(env, "secrets", "set", APP, "TEAM_TOKEN", stdin="value-1\n")
        backed_up = _mb(env, "backup", "now")
        assert "restore drill ok" in backed_up, backed_up
        _mb(env, "secrets", "set", APP, "TEAM_TOKEN", stdin="value-2\n")
        target = datetime.now(UTC)
        url = resolve(Settings(data_dir=lost)).database_url
        asyncio.run(switch_wal_and_wait(url, backups / "wal"))  # archived past the target
        assert "intact" in _mb(env, "audit", "verify")
    finally:
        assert first.interrupt() == 0, first.output()

    # The disaster: the machine's data directory is gone. The Temporal cluster is not
    # (in production it is a service of its own): its store moves to the new machine.
    temporal_store = site / "temporal-cluster"
    shutil.copytree(lost / "temporal", temporal_store)
    shutil.rmtree(lost)

    [backup] = BackupCatalog(backups).list()
    env = _env(rebuilt, backups, identity_file, recipient)
    restored = _mb(
        env,
        "restore",
        "--to",
        target.isoformat(),
        "--into",
        str(rebuilt / "postgres"),
        "--primary",
    )
    assert f"restored backup {backup.id}" in restored
    imported = _mb(
        env,
        "keys",
        "import",
        "--from",
        str(backups / "base" / backup.id / ESCROW_FILE),
        "--identity",
        str(identity_file),
    )
    assert "1 master" in imported and "1 codec" in imported and "1 evidence" in imported
    shutil.copytree(temporal_store, rebuilt / "temporal")

    second = Up(env, site / "up-2.log")
    try:
        second.wait_for("Press Ctrl-C", within=300)
        apps = Settings(apps_port=int(env["MB_APPS_PORT"])).apps_base_url
        page = httpx.get(f"{apps}/apps/{APP}/", timeout=30)
        assert page.status_code == 200, second.output()[-4000:]
        assert "Climbing Team Todo" in page.text
        assert _mb(env, "secrets", "reveal", APP, "TEAM_TOKEN").strip() == "value-2"
        replayed = _mb(env, "replay", "--all")  # exit 0: every history decoded and replayed
        assert " 0 failed" in replayed, replayed
        _mb(env, "evidence", "verify", APP, "1")
        assert "intact" in _mb(env, "audit", "verify")
        # A working stack again: it archives its new timeline, backs up and drills.
        assert "restore drill ok" in _mb(env, "backup", "now")
    finally:
        assert second.interrupt() == 0, second.output()
