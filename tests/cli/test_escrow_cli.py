"""`mb keys export` / `mb keys import` as an operator runs them: the passphrase from
standard input (never argv), one-line refusals that change nothing, no key printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from schemas.settings import Settings
from store.aes_keys import encode_key
from store.key_rings import codec_key_ring, master_key_ring

PASSPHRASE = "a long enough escrow passphrase"


def mb(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MB_")},
        "MB_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=SecretStr("postgresql://unused"))


def test_export_then_import_into_a_new_data_directory(tmp_path: Path) -> None:
    old, new, escrow = tmp_path / "old", tmp_path / "new", tmp_path / "keys.age"
    master = master_key_ring(settings(old))
    codec_key_ring(settings(old))

    exported = mb(old, "keys", "export", "--to", str(escrow), stdin=PASSPHRASE + "\n")
    assert exported.returncode == 0, exported.stderr
    assert "wrote" in exported.stdout and escrow.stat().st_mode & 0o777 == 0o600
    shown = exported.stdout + exported.stderr
    assert encode_key(master.current) not in shown and PASSPHRASE not in shown

    wrong = mb(new, "keys", "import", "--from", str(escrow), stdin="not the passphrase at all\n")
    assert wrong.returncode == 1
    assert wrong.stderr.strip().startswith("error: the escrow does not authenticate")
    assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.stderr
    assert not (new / "keys").exists()  # nothing changed

    imported = mb(new, "keys", "import", "--from", str(escrow), stdin=PASSPHRASE + "\n")
    assert imported.returncode == 0, imported.stderr
    assert "1 master" in imported.stdout
    assert master_key_ring(settings(new)) == master
    assert encode_key(master.current) not in imported.stdout + imported.stderr


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    data, escrow = tmp_path / "data", tmp_path / "keys.age"
    master_key_ring(settings(data))
    short = mb(data, "keys", "export", "--to", str(escrow), stdin="short\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    assert not escrow.exists()
    bad = mb(data, "keys", "export", "--to", str(escrow), "--recipient", "age1nope")
    assert bad.returncode == 1 and "not an age X25519 recipient" in bad.stderr
    assert not escrow.exists()
    missing = mb(data, "keys", "import", "--from", str(tmp_path / "absent.age"), stdin="x" * 20)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    for result in (short, bad, missing):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
