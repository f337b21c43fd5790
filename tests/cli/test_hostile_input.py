"""`mb deploy` refuses control characters in a prompt or a bundle in one line, before it
reaches any backend (none runs here: the addresses point nowhere)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _mb(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MB_")},
        "MB_DATA_DIR": str(tmp_path / "data"),
        "MB_TEMPORAL_ADDRESS": "127.0.0.1:1",  # nothing listens: reaching it would fail
        "MB_DATABASE_URL": f"postgresql:///none?host={tmp_path}",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("prompt", "code"),
    [("a todo \x1b[31mlist", "U+001B"), ("a todo list\x7f", "U+007F"), ("a\x85todo", "U+0085")],
    ids=["escape", "del", "c1"],
)
def test_a_prompt_with_a_control_character_is_one_line_of_refusal(
    tmp_path: Path, prompt: str, code: str
) -> None:
    done = _mb(tmp_path, "deploy", prompt)

    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert code in done.stderr and "control character" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "todo" not in done.stderr


def test_a_bundle_with_a_nul_is_one_line_of_refusal(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "templates").mkdir(parents=True)
    (bundle / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    (bundle / "templates" / "index.html").write_text("<h1>Sign in</h1>\x00")

    done = _mb(tmp_path, "deploy", "--bundle", str(bundle), "--app", "nul-app")

    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "templates/index.html" in done.stderr and "U+0000" in done.stderr
    assert not (tmp_path / "data" / "bundles").exists()
