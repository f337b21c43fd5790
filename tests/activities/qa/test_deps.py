"""The dependency-scanning stage: real bundle environments against the real PyPA snapshot."""

from __future__ import annotations

import json
import os
import stat
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.generation import generate_offline
from activities.qa.deps import (
    AllowListError,
    installed_packages,
    load_allowlist,
    merge_findings,
    parse_safety_json,
    scan_dependencies,
)
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder
from schemas.qa import AllowedAdvisory, DependencyFinding, DependencyReport
from tests.activities.generation.test_generation_offline import KIND_PROMPTS
from tests.snapshot import ADVISORY_SNAPSHOT

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[3]
SNAPSHOT = ADVISORY_SNAPSHOT
TODAY = date(2026, 11, 29)

# requests==2.19.1 (PYSEC-2018-28) cannot share an environment with the platform's
# schemathesis>=4, which needs requests>=2.22: the real environment pins 2.30.0, affected by
# PYSEC-2023-74 (fixed in 2.31.0); 2.19.1 is checked on a hand-laid site-packages below.
PINNED = "fastapi>=0.115\nrequests==2.30.0\n"
RANGE = "fastapi>=0.115\nrequests>=2.25,<2.31\n"


@pytest.fixture(scope="session")
def snapshot() -> Path:
    if not SNAPSHOT.is_dir():
        pytest.fail(
            f"the PyPA advisory snapshot is missing: expected {SNAPSHOT} "
            "(shared/advisories/pypa/vulns beside the repository)"
        )
    return SNAPSHOT


@pytest.fixture(scope="session")
async def envs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PythonEnv]:
    """Real bundle environments (uv, cached): the blueprints', a pinned and a ranged one."""
    builder = EnvBuilder(tmp_path_factory.getbasetemp() / "mb-envs")
    result: dict[str, PythonEnv] = {}
    for kind, prompt in sorted(KIND_PROMPTS.items()):
        requirements = generate_offline(prompt).bundle.file("requirements.txt") or ""
        result[f"blueprint:{kind}"] = await builder.ensure(requirements)
    result["pinned"] = await builder.ensure(PINNED)
    result["range"] = await builder.ensure(RANGE)
    return result


def fake_env(root: Path, packages: dict[str, str], **raw: str) -> PythonEnv:
    """A site-packages laid out by hand: ``*.dist-info/METADATA`` and nothing to run."""
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    for name, version in packages.items():
        meta = site / f"{name}-{version}.dist-info"
        meta.mkdir()
        # The body repeats a header-like line: only the headers count.
        (meta / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nVersion: 0.0.0\n"
        )
    for dirname, metadata in raw.items():
        (site / dirname).mkdir()
        if metadata:
            (site / dirname / "METADATA").write_text(metadata)
    return PythonEnv(key="hand-laid", path=root)


async def scan(env: PythonEnv, database: Path, **kwargs: Any) -> DependencyReport:
    return await scan_dependencies(env, database=database, today=TODAY, **kwargs)


# --- real environments --------------------------------------------------------------------


async def test_pinned_vulnerable_requests_is_found(
    envs: dict[str, PythonEnv], snapshot: Path
) -> None:
    report = await scan(envs["pinned"], snapshot)
    assert report.verdict == "fail"
    (finding,) = report.findings
    assert (finding.package, finding.installed_version) == ("requests", "2.30.0")
    assert finding.advisory_id == "PYSEC-2023-74"
    assert {"CVE-2023-32681", "GHSA-j8r2-6x86-q33q"} <= set(finding.aliases)
    assert finding.fixed_versions == ["2.31.0"]
    assert finding.summary.startswith("Requests is a HTTP library.")
    assert finding.source == "osv" and finding.allowed_until is None
    assert "requests 2.30.0: PYSEC-2023-74" in report.reason
    assert report.advisories_loaded > 2600
    assert str(snapshot) in report.database and f"{report.advisories_loaded} loaded" in (
        report.database
    )
    assert report.sources == ["osv"]
    assert not report.unchecked


async def test_installed_version_is_reported_not_the_requirement(
    envs: dict[str, PythonEnv], snapshot: Path
) -> None:
    report = await scan(envs["range"], snapshot)
    installed = {p.name: p.version for p in report.packages}
    assert installed["requests"] == "2.30.0", "the highest version below 2.31 was installed"
    assert [(f.advisory_id, f.installed_version) for f in report.findings] == [
        ("PYSEC-2023-74", "2.30.0")
    ]


@pytest.mark.parametrize("kind", sorted(KIND_PROMPTS))
async def test_blueprint_environments_are_clean(
    envs: dict[str, PythonEnv], snapshot: Path, kind: str
) -> None:
    report = await scan(envs[f"blueprint:{kind}"], snapshot)
    assert report.verdict == "pass", report.reason
    assert report.findings == [] and report.unchecked == {}
    names = {p.name.lower() for p in report.packages}
    assert {"fastapi", "pytest", "uvicorn", "starlette"} <= names
    assert "no known vulnerabilities" in report.reason


def test_installed_packages_match_the_envs_metadata(envs: dict[str, PythonEnv]) -> None:
    env = envs["pinned"]
    packages = installed_packages(env)
    dist_infos = list(env.path.glob("lib/python*/site-packages/*.dist-info"))
    assert len(packages) == len(dist_infos) > 20
    assert {"name": "requests", "version": "2.30.0"} in [p.model_dump() for p in packages]


# --- hand-laid environments ---------------------------------------------------------------


async def test_requests_2_19_1_has_pysec_2018_28(tmp_path: Path, snapshot: Path) -> None:
    report = await scan(fake_env(tmp_path, {"requests": "2.19.1"}), snapshot)
    found = {f.advisory_id: f for f in report.findings}
    assert "CVE-2018-18074" in found["PYSEC-2018-28"].aliases
    assert found["PYSEC-2018-28"].fixed_versions == ["2.20.0"]
    assert found["PYSEC-2018-28"].installed_version == "2.19.1"
    assert report.verdict == "fail"


def test_metadata_is_read_without_running_anything(tmp_path: Path) -> None:
    env = fake_env(
        tmp_path,
        {"Demo_Pkg": "1.0"},
        **{
            "renamed-9.9.dist-info": "Name: renamed\nVersion: 2.0\n",
            "nometa-3.1.dist-info": "",
        },
    )
    assert not env.python.exists()
    found = {(p.name, p.version) for p in installed_packages(env)}
    assert found == {("Demo_Pkg", "1.0"), ("renamed", "2.0"), ("nometa", "3.1")}


@pytest.mark.parametrize(
    ("entry", "allowed"),
    [
        (AllowedAdvisory(id="PYSEC-2018-28", expires=TODAY + timedelta(days=30)), True),
        (AllowedAdvisory(id="CVE-2018-18074", package="Requests", expires=TODAY), True),
        (AllowedAdvisory(id="GHSA-x84v-xcm2-53pg", expires=TODAY - timedelta(days=1)), False),
        (AllowedAdvisory(id="PYSEC-2018-28", package="urllib3", expires=date(2099, 1, 1)), False),
    ],
)
async def test_allow_list(
    tmp_path: Path, snapshot: Path, entry: AllowedAdvisory, allowed: bool
) -> None:
    # requests 2.19.1 also has PYSEC-2023-74: allowed here, so the verdict depends on the entry
    # under test only.
    env = fake_env(tmp_path, {"requests": "2.19.1"})
    other = AllowedAdvisory(id="PYSEC-2023-74", expires=date(2099, 1, 1))
    report = await scan(env, snapshot, allow=[entry, other])
    assert {f.advisory_id for f in report.findings} == {"PYSEC-2018-28", "PYSEC-2023-74"}
    finding = next(f for f in report.findings if f.advisory_id == "PYSEC-2018-28")
    assert (finding.allowed_until is not None) == allowed
    assert report.verdict == ("pass" if allowed else "fail"), report.reason
    if allowed:
        assert finding.allowed_until == entry.expires
        assert f"allow-listed (PYSEC-2018-28 until {entry.expires}" in report.reason
    if entry.expires < TODAY:
        assert "allow-list expired for PYSEC-2018-28" in report.reason


def test_allowlist_file(tmp_path: Path) -> None:
    path = tmp_path / "allow.json"
    path.write_text(json.dumps([{"id": "CVE-2018-18074", "expires": "2027-01-31", "reason": "x"}]))
    assert load_allowlist(path) == [
        AllowedAdvisory(id="CVE-2018-18074", expires=date(2027, 1, 31), reason="x")
    ]
    path.write_text(json.dumps([{"id": "CVE-2018-18074"}]))
    with pytest.raises(AllowListError, match="expires"):
        load_allowlist(path)


async def test_unparseable_installed_version_fails_closed(tmp_path: Path, snapshot: Path) -> None:
    env = fake_env(
        tmp_path, {"certifi": "2026.1.1"}, **{"odd-x.dist-info": "Name: odd\nVersion: x!y\n"}
    )
    report = await scan(env, snapshot)
    assert report.verdict == "fail"
    assert report.findings == []
    assert "not a PEP 440 version" in report.unchecked["odd"]
    assert "1 not checked: odd" in report.reason


async def test_advisory_that_cannot_be_evaluated_fails_closed(
    tmp_path: Path, snapshot: Path
) -> None:
    # PYSEC-2019-125 (steam) gives "fixed: 2019-09-12", which is not a PEP 440 version.
    report = await scan(fake_env(tmp_path, {"steam": "1.0"}), snapshot)
    assert report.verdict == "fail"
    assert "PYSEC-2019-125" in report.unchecked["steam"]


async def test_environment_without_distributions_fails_closed(
    tmp_path: Path, snapshot: Path
) -> None:
    report = await scan(PythonEnv(key="none", path=tmp_path / "not-a-venv"), snapshot)
    assert report.verdict == "fail"
    assert "no installed distributions" in report.reason


@pytest.mark.parametrize("problem", ["missing", "empty", "malformed"])
async def test_unusable_database_fails_closed(tmp_path: Path, problem: str) -> None:
    database = tmp_path / "db"
    if problem != "missing":
        database.mkdir()
    if problem == "malformed":
        (database / "PYSEC-1.yaml").write_text("id: [unclosed\n")
    report = await scan(fake_env(tmp_path / "env", {"certifi": "2026.1.1"}), database)
    assert report.verdict == "fail"
    assert report.findings == [] and report.advisories_loaded == 0
    expected = {"missing": "does not exist", "empty": "no PyPI advisories", "malformed": "PYSEC-1"}
    assert expected[problem] in report.reason
    assert str(database) in report.database


# --- safety -------------------------------------------------------------------------------

# The real `safety` needs its vendor's service, which cannot be reached from here: this
# stand-in prints canned `safety check --output json` (format 1.1) output instead, and
# records how it was called.
STAND_IN = """#!/bin/sh
printf '%s\\n' "$@" > "$STANDIN_DIR/argv"
printf '%s' "$SAFETY_API_KEY" > "$STANDIN_DIR/key"
cat > "$STANDIN_DIR/stdin"
if [ -f "$STANDIN_DIR/sleep" ]; then sleep 5; fi
cat "$STANDIN_DIR/stdout"
exit "$(cat "$STANDIN_DIR/exit_code")"
"""


def safety_vuln(ident: str, package: str, version: str, cve: str | None, fixed: str) -> Any:
    return {
        "vulnerability_id": ident,
        "package_name": package,
        "ignored": False,
        "analyzed_version": version,
        "advisory": f"Affected versions of {package} are vulnerable.\nMore text.",
        "fixed_versions": [fixed],
        "CVE": cve,
        "more_info_url": f"https://data.safetycli.com/v/{ident}/f17",
    }


CANNED = {
    "report_meta": {"scan_target": "stdin", "vulnerabilities_found": 2},
    "scanned_packages": {},
    "affected_packages": {},
    "announcements": [],
    "vulnerabilities": [
        safety_vuln("58755", "requests", "2.30.0", "CVE-2023-32681", "2.31.0"),
        safety_vuln("71064", "requests", "2.30.0", "CVE-2024-35195", "2.32.0"),
    ],
    "ignored_vulnerabilities": [],
    "remediations": {},
}


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "safety"
    script.write_text(STAND_IN)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    state = tmp_path / "standin"
    state.mkdir()
    (state / "stdout").write_text("+ deprecation banner\n" + json.dumps(CANNED))
    (state / "exit_code").write_text("64")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_DIR", str(state))
    return state


async def test_safety_findings_are_merged(
    envs: dict[str, PythonEnv], snapshot: Path, stand_in: Path
) -> None:
    report = await scan(envs["pinned"], snapshot, safety_api_key="key-123")
    assert report.sources == ["osv", "safety"]
    ids = [(f.advisory_id, f.source) for f in report.findings]
    assert ids == [("71064", "safety"), ("PYSEC-2023-74", "osv")]
    osv = report.findings[1]
    assert "58755" in osv.aliases, "the duplicate's id became an alias"
    assert report.findings[0].aliases == ["CVE-2024-35195"]
    assert report.findings[0].summary == "Affected versions of requests are vulnerable."
    assert report.verdict == "fail"

    argv = (stand_in / "argv").read_text().split()
    assert argv[:4] == ["--disable-optional-telemetry", "check", "--stdin", "--output"]
    assert "key-123" not in argv, "the key is not on the command line"
    assert (stand_in / "key").read_text() == "key-123"
    assert "requests==2.30.0" in (stand_in / "stdin").read_text().split()

    allowed = await scan(
        envs["pinned"],
        snapshot,
        safety_api_key="key-123",
        allow=[
            AllowedAdvisory(id="58755", expires=TODAY),
            AllowedAdvisory(id="CVE-2024-35195", expires=TODAY),
        ],
    )
    assert allowed.verdict == "pass", allowed.reason


@pytest.mark.parametrize(
    ("exit_code", "stdout", "sleep", "error"),
    [
        ("65", "Invalid API key", False, "exit code 65"),
        ("1", "Unable to reach the Safety platform", False, "exit code 1"),
        ("0", "no json here", False, "not JSON"),
        ("0", '{"vulnerabilities": [{"package_name": "x"}]}', False, "lacks package"),
        ("0", "{}", True, "timed out"),
    ],
)
async def test_safety_failure_fails_closed(
    tmp_path: Path,
    snapshot: Path,
    stand_in: Path,
    exit_code: str,
    stdout: str,
    sleep: bool,
    error: str,
) -> None:
    (stand_in / "exit_code").write_text(exit_code)
    (stand_in / "stdout").write_text(stdout)
    if sleep:
        (stand_in / "sleep").write_text("")
    env = fake_env(tmp_path / "env", {"certifi": "2026.1.1"})
    report = await scan(env, snapshot, safety_api_key="k", safety_timeout_s=0.5)
    assert report.verdict == "fail"
    assert "safety: " in report.reason and error in report.reason
    assert "safety" in report.sources


async def test_missing_safety_executable_fails_closed(
    tmp_path: Path, snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    report = await scan(fake_env(tmp_path, {"certifi": "2026.1.1"}), snapshot, safety_api_key="k")
    assert report.verdict == "fail"
    assert "safety executable is not installed" in report.reason


def test_merge_deduplicates_by_id_or_alias_per_package() -> None:
    osv = DependencyFinding(
        package="Foo_Bar",
        installed_version="1.0",
        advisory_id="PYSEC-1",
        aliases=["CVE-1"],
        fixed_versions=["1.1"],
        source="osv",
    )
    extra = parse_safety_json(
        json.dumps(
            {
                "vulnerabilities": [
                    safety_vuln("900", "foo-bar", "1.0", "CVE-1", "1.2"),
                    safety_vuln("900", "foo-bar", "1.0", "CVE-1", "1.2"),
                    safety_vuln("901", "other", "1.0", "CVE-1", "2.0"),
                ]
            }
        )
    )
    merged = merge_findings([osv], extra)
    assert [(f.package, f.advisory_id, f.source) for f in merged] == [
        ("Foo_Bar", "PYSEC-1", "osv"),
        ("other", "901", "safety"),
    ]
    assert merged[0].aliases == ["CVE-1", "900"]
    assert merged[0].fixed_versions == ["1.1", "1.2"]
    assert osv.aliases == ["CVE-1"], "the input is not modified"
