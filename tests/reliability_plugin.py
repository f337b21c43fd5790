"""Collects the reliability scenarios (``@pytest.mark.reliability``) and their results.

A test joins the README's reliability table by carrying
``@pytest.mark.reliability("scenario", done="what the test does to the system")``;
its docstring says what was checked. With ``--reliability-json PATH`` the
session writes every marked test, its scenario and its outcome to PATH, which
``python -m bench.reliability`` turns into the table (after ``--collect-only``
the outcomes are null). Under pytest-xdist the workers collect and run the
tests, and each report carries its row to the controller, which writes PATH.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-json",
        metavar="PATH",
        # Also from the environment: a whole `make test` can write it, and pytest runs
        # that tests start (a bundle's suite) do not inherit an option they lack.
        default=os.environ.get("MB_RELIABILITY_JSON") or None,
        help="write the reliability scenarios and their results to PATH"
        " (default: $MB_RELIABILITY_JSON)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability(scenario, done): a row of the README's reliability table"
        " (the test's docstring says what is checked)",
    )
    on_worker = hasattr(config, "workerinput")  # an xdist worker: the controller writes
    path = None if on_worker else config.getoption("--reliability-json")
    config.pluginmanager.register(ReliabilityRecorder(path))


_ROW = "reliability"


class ReliabilityRecorder:
    """The marked tests of this session, their scenario and their outcome."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self.rows: dict[str, dict[str, Any]] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("reliability")
            if marker is None:
                continue
            doc = inspect.getdoc(getattr(item, "obj", None)) or ""
            if not marker.args or "done" not in marker.kwargs or not doc:
                raise pytest.UsageError(
                    f"{item.nodeid}: needs reliability(scenario, done=...) and a docstring"
                )
            row = {
                "scenario": str(marker.args[0]),
                "done": str(marker.kwargs["done"]),
                "checked": " ".join(doc.split("\n\n")[0].split()),
                "outcome": None,
                "seconds": 0.0,
            }
            self.rows[item.nodeid] = row
            item.user_properties.append((_ROW, row))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        if nodeid not in self.rows:  # the controller learns the row from a worker's report
            carried = dict(report.user_properties).get(_ROW)
            if not isinstance(carried, dict):
                return
            self.rows[nodeid] = {**carried, "outcome": None, "seconds": 0.0}
        row = self.rows[nodeid]
        row["seconds"] = round(row["seconds"] + report.duration, 1)
        if report.failed:
            row["outcome"] = "failed"
        elif report.skipped:
            row["outcome"] = row["outcome"] or "skipped"
        elif report.when == "call" and row["outcome"] is None:
            row["outcome"] = "passed"

    def pytest_sessionfinish(self) -> None:
        if self._path:
            Path(self._path).write_text(json.dumps(self.rows, indent=2) + "\n")
