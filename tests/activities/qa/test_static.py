"""The static-analysis stage: real bandit over real bundles, gated by the QA policy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.generation import generate_offline
from activities.generation.blueprints import BLUEPRINTS
from activities.qa.static import UNPARSEABLE_TEST_ID, is_gating, scan_static
from schemas.qa import QAPolicy, StaticReport
from store.bundles import make_bundle, write_bundle
from tests.activities.generation.test_generation_offline import INJECTION_PROMPTS, KIND_PROMPTS

pytestmark = pytest.mark.timeout(60)

DEFAULT = QAPolicy()

DEFECTIVE_MAIN = """\
import subprocess

from fastapi import FastAPI

app = FastAPI()
DB_PASSWORD = "hunter2"


@app.get("/calc")
def calc(expr: str) -> dict:
    return {"value": eval(expr)}


@app.post("/run")
def run(cmd: str) -> dict:
    return {"code": subprocess.run(cmd, shell=True).returncode}
"""

TEST_FILE = """\
from fastapi.testclient import TestClient

from main import app


def test_health():
    assert TestClient(app).get("/health").status_code == 200
"""


def scan(
    tmp_path: Path, main: str, *, policy: QAPolicy = DEFAULT, extra: dict[str, str] | None = None
) -> StaticReport:
    files = {"main.py": main, "requirements.txt": "fastapi\n", "tests/test_app.py": TEST_FILE}
    bundle_dir = write_bundle(make_bundle(files | (extra or {})), tmp_path / "bundle")
    return scan_static(bundle_dir, policy=policy)


def by_id(report: StaticReport) -> dict[str, list[tuple[int, bool]]]:
    result: dict[str, list[tuple[int, bool]]] = {}
    for f in report.findings:
        result.setdefault(f.test_id, []).append((f.line, f.gating))
    return result


def test_defective_bundle_fails_under_the_default_policy(tmp_path: Path) -> None:
    report = scan(tmp_path, DEFECTIVE_MAIN)
    found = by_id(report)
    assert found["B307"] == [(11, True)], "eval: MEDIUM severity, HIGH confidence gates"
    assert found["B602"] == [(16, True)], "shell=True: HIGH severity gates"
    assert found["B105"] == [(6, False)], "hard-coded password: LOW/MEDIUM is reported only"
    assert found["B404"] == [(1, False)], "import subprocess: LOW, reported only"
    assert report.verdict == "fail"
    assert report.reason.startswith("2 gating findings: B307 main.py:11, B602 main.py:16")
    assert report.files_scanned == 2
    assert report.bandit_version == "1.9.4"
    assert "severity >= HIGH" in report.policy and "MEDIUM with HIGH confidence" in report.policy
    eval_finding = next(f for f in report.findings if f.test_id == "B307")
    assert (eval_finding.file, eval_finding.severity, eval_finding.confidence) == (
        "main.py",
        "MEDIUM",
        "HIGH",
    )
    assert eval_finding.test_name == "blacklist" and "literal_eval" in eval_finding.text
    assert [f.gating for f in report.findings] == sorted(
        (f.gating for f in report.findings), reverse=True
    ), "gating findings come first"


@pytest.mark.parametrize(
    ("snippet", "test_id", "policy", "verdict"),
    [
        ('PASSWORD = "hunter2"\n', "B105", DEFAULT, "pass"),
        ('PASSWORD = "hunter2"\n', "B105", QAPolicy(bandit_fail_severity="LOW"), "fail"),
        ('PASSWORD = "hunter2"\n', "B105", QAPolicy(bandit_fail_severity="MEDIUM"), "pass"),
        ("def f(x):\n    return eval(x)\n", "B307", DEFAULT, "fail"),
        (
            "def f(x):\n    return eval(x)\n",
            "B307",
            QAPolicy(bandit_fail_severity_high_confidence="HIGH"),
            "pass",
        ),
        (
            "import subprocess\n\n\ndef f(c):\n    subprocess.run(c, shell=True)\n",
            "B602",
            QAPolicy(bandit_fail_severity_high_confidence="HIGH"),
            "fail",
        ),
    ],
)
def test_policy_decides_which_findings_gate(
    tmp_path: Path, snippet: str, test_id: str, policy: QAPolicy, verdict: str
) -> None:
    report = scan(tmp_path, snippet, policy=policy)
    assert test_id in by_id(report)
    assert report.verdict == verdict, report.reason


def test_gating_rule() -> None:
    assert is_gating("HIGH", "LOW", DEFAULT)
    assert is_gating("MEDIUM", "HIGH", DEFAULT)
    assert not is_gating("MEDIUM", "MEDIUM", DEFAULT)
    assert not is_gating("LOW", "HIGH", DEFAULT)
    assert not is_gating("UNDEFINED", "HIGH", QAPolicy(bandit_fail_severity_high_confidence="LOW"))
    strict = QAPolicy(bandit_fail_severity="LOW")
    assert is_gating("LOW", "LOW", strict)


def test_unparseable_file_fails_closed(tmp_path: Path) -> None:
    report = scan(tmp_path, "VALUE = 1\n", extra={"helpers.py": "def broken(:\n    pass\n"})
    assert report.verdict == "fail"
    bad = [f for f in report.findings if f.test_id == UNPARSEABLE_TEST_ID]
    assert len(bad) == 1
    assert (bad[0].file, bad[0].line, bad[0].gating) == ("helpers.py", 1, True)
    assert "syntax" in bad[0].text
    assert report.files_scanned == 2, "main.py and the test; not the broken file"
    assert "helpers.py" in report.reason


def test_nosec_comments_do_not_exempt_bundle_code(tmp_path: Path) -> None:
    report = scan(tmp_path, "def f(x):\n    return eval(x)  # nosec\n")
    assert by_id(report)["B307"] == [(2, True)]
    assert report.verdict == "fail"


def test_assert_is_only_reported_outside_tests(tmp_path: Path) -> None:
    conftest = "def pytest_configure(config):\n    assert config\n"
    report = scan(
        tmp_path,
        "def f(x):\n    assert x\n    return x\n",
        policy=QAPolicy(bandit_fail_severity="LOW"),
        extra={"tests/conftest.py": conftest},
    )
    assert [(f.file, f.line) for f in report.findings if f.test_id == "B101"] == [("main.py", 2)]
    assert report.verdict == "fail", "B101 in app code gates under the strictest policy"


def test_a_directory_without_python_fails(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing to run\n")
    report = scan_static(tmp_path, policy=DEFAULT)
    assert (report.verdict, report.files_scanned) == ("fail", 0)


def test_missing_bundle_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan_static(tmp_path / "absent", policy=DEFAULT)


@pytest.fixture(scope="module")
def blueprint_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("static-blueprints")
    prompts = KIND_PROMPTS | {f"nasty-{kind}": p for kind, p in INJECTION_PROMPTS.items()}
    yield {
        name: write_bundle(generate_offline(prompt).bundle, root / name)
        for name, prompt in prompts.items()
    }
    shutil.rmtree(root, ignore_errors=True)


def test_every_blueprint_kind_is_covered() -> None:
    assert set(KIND_PROMPTS) == {bp.kind for bp in BLUEPRINTS}


@pytest.mark.parametrize("name", sorted(KIND_PROMPTS) + [f"nasty-{k}" for k in INJECTION_PROMPTS])
def test_generated_bundles_pass(blueprint_dirs: dict[str, Path], name: str) -> None:
    report = scan_static(blueprint_dirs[name], policy=DEFAULT)
    assert report.verdict == "pass", report.reason
    assert not [f for f in report.findings if f.gating]
    assert report.files_scanned >= 3, "main.py, conftest.py and the tests are scanned"
