"""The generated tables of README.md: each lives between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` and is rewritten only by its runner (``bench.reliability``,
``python -m bench``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def block(text: str, name: str) -> str:
    """The table ``name`` as ``text`` holds it (ending with one newline)."""
    start, end = _markers(name)
    try:
        return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"
    except IndexError:
        raise SystemExit(f"README.md has no {start} ... {end} block") from None


def replace(name: str, body: str) -> None:
    """Put ``body`` between the markers of ``name`` in README.md."""
    start, end = _markers(name)
    text = README.read_text()
    block(text, name)  # both markers are there
    head, rest = text.split(start, 1)
    README.write_text(head + start + "\n" + body + end + rest.split(end, 1)[1])


def first_column(table: str) -> list[str]:
    """The first cell of each body row of a markdown table."""
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    return [row.split(" | ")[0].removeprefix("| ").replace("\\|", "|") for row in rows]


def commit() -> str:
    """The short hash of HEAD, or ``unknown`` outside a git checkout."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"
