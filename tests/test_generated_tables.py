"""The README's reliability and benchmark tables are the generated ones, complete and green."""

from __future__ import annotations

from collections import OrderedDict

import bench.__main__ as bench_runner
from bench import readme_tables
from bench.readme_tables import README
from bench.reliability import TABLE_FILE, collect, render, scenarios


def test_the_readme_lists_every_reliability_scenario_and_none_failed() -> None:
    expected = list(scenarios(collect(run=False)))
    block = readme_tables.block(README.read_text(), "reliability-table")
    listed = readme_tables.first_column(block)
    assert listed == expected, "run `python -m bench.reliability` to regenerate the table"
    assert "**FAILED**" not in block
    assert TABLE_FILE.read_text().endswith(block)  # the same generated table in both


def test_a_failed_scenario_is_shown_as_failed() -> None:
    row = {"done": "kill it", "checked": "it lives", "seconds": 1.0}
    grouped = OrderedDict(
        [
            ("Kills", [{**row, "outcome": "passed", "nodeid": "t.py::test_a"}]),
            ("Restarts", [{**row, "outcome": "failed", "nodeid": "t.py::test_b"}]),
        ]
    )
    table = render(grouped, "abc1234", "2026-11-29")
    assert "| Kills | kill it | it lives | passed (1 test, 1 s) |" in table
    assert "| Restarts | kill it | it lives | **FAILED**: test_b |" in table


def test_the_readme_results_table_is_the_one_the_bench_runner_wrote() -> None:
    block = readme_tables.block(README.read_text(), bench_runner.BLOCK)
    results = bench_runner.RESULTS.read_text()
    assert block.strip() and block in results, "run `python -m bench` to regenerate both"
    assert readme_tables.first_column(block) == [h.what for h in bench_runner.HEADLINES]
    assert "**failed**" not in block
