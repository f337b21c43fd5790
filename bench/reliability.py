"""Run the reliability scenarios and write the README's reliability table from the results.

Every test marked ``@pytest.mark.reliability(scenario, done=...)`` runs once
(``pytest -m reliability``); the table has one row per scenario: what was done
(the markers), what was checked (the tests' docstrings) and the outcome of
this run. The table goes to ``bench/RELIABILITY.md`` and between the
``reliability-table`` markers in README.md, so nothing in it is typed by hand.

    python -m bench.reliability            # run, then write both
    python -m bench.reliability --check    # collect only: does the README list every scenario?
    python -m bench.reliability --from-json F  # the table from a full run's results:
                                           # MB_RELIABILITY_JSON=F make test
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import readme_tables
from bench.readme_tables import README, ROOT

TABLE_FILE = ROOT / "bench" / "RELIABILITY.md"
BLOCK = "reliability-table"


def collect(run: bool) -> dict[str, dict[str, Any]]:
    """The marked tests by node id (with outcomes when ``run``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reliability.json"
        args = [sys.executable, "-m", "pytest", "-m", "reliability", f"--reliability-json={out}"]
        args += ["-q", "-p", "no:randomly"] if run else ["--collect-only", "-q"]
        done = subprocess.run(args, cwd=ROOT, capture_output=not run, text=True)
        if not out.exists():
            sys.stderr.write((done.stdout or "") + (done.stderr or ""))
            raise SystemExit(f"pytest wrote no results (exit {done.returncode})")
        rows: dict[str, dict[str, Any]] = json.loads(out.read_text())
        return rows


def scenarios(rows: dict[str, dict[str, Any]]) -> OrderedDict[str, list[dict[str, Any]]]:
    """Rows grouped by scenario, in the order the tests were collected."""
    grouped: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for nodeid, row in rows.items():
        grouped.setdefault(row["scenario"], []).append({**row, "nodeid": nodeid})
    return grouped


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _unique(values: list[str]) -> list[str]:
    return list(OrderedDict.fromkeys(values))


def render(
    grouped: OrderedDict[str, list[dict[str, Any]]],
    commit: str,
    day: str,
    how: str = "`python -m bench.reliability`",
) -> str:
    """The markdown table (with a line saying which run it comes from)."""
    lines = [
        f"Last run: {day}, commit `{commit}` ({how}).",
        "",
        "| scenario | what was done | what was checked | last run |",
        "| --- | --- | --- | --- |",
    ]
    for scenario, tests in grouped.items():
        done = "<br>".join(_cell(d) for d in _unique([t["done"] for t in tests]))
        checked = "<br>".join(_cell(c) for c in _unique([t["checked"] for t in tests]))
        failed = [t["nodeid"].split("::")[-1] for t in tests if t["outcome"] != "passed"]
        seconds = sum(t["seconds"] for t in tests)
        if failed:
            result = f"**FAILED**: {', '.join(failed)}"
        else:
            result = f"passed ({len(tests)} test{'s' if len(tests) > 1 else ''}, {seconds:.0f} s)"
        lines.append(f"| {_cell(scenario)} | {done} | {checked} | {result} |")
    return "\n".join(lines) + "\n"


def write(table: str) -> None:
    """The table into bench/RELIABILITY.md and README.md."""
    TABLE_FILE.write_text("# Reliability scenarios\n\n" + table)
    readme_tables.replace(BLOCK, table)


def main() -> int:
    """Run (or with --check, compare) and print one figure line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the README, run nothing")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="write the table from the results a whole test run wrote (--reliability-json)",
    )
    parser.add_argument("--commit", help="with --from-json: the commit that run tested")
    args = parser.parse_args()
    if args.check:
        expected = list(scenarios(collect(run=False)))
        listed = readme_tables.first_column(readme_tables.block(README.read_text(), BLOCK))
        if listed != expected:
            print(f"README lists {listed}\nthe tests define {expected}")
            return 1
        print(f"reliability_scenarios_listed: {len(listed)}")
        return 0
    started = time.monotonic()
    how = "`python -m bench.reliability`"
    if args.from_json is not None:
        how = "the scenarios of a whole `make test`, `python -m bench.reliability --from-json`"
        # What each test checks as the code says today; how it went in that run (a test
        # the run did not have counts as failed).
        ran = json.loads(args.from_json.read_text())
        rows = collect(run=False)
        for nodeid, row in rows.items():
            result = ran.get(nodeid, {})
            row.update(outcome=result.get("outcome"), seconds=result.get("seconds", 0.0))
        grouped = scenarios(rows)
    else:
        grouped = scenarios(collect(run=True))
    commit = args.commit or readme_tables.commit()
    write(render(grouped, commit, datetime.now(UTC).date().isoformat(), how))
    passed = sum(all(t["outcome"] == "passed" for t in tests) for tests in grouped.values())
    print(f"reliability_run_s: {time.monotonic() - started:.0f}")
    print(f"reliability_scenarios_passed: {passed}/{len(grouped)}")
    return 0 if passed == len(grouped) else 1


if __name__ == "__main__":
    raise SystemExit(main())
