"""QA report routes: owner-only, JSON and an escaped HTML page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.services import Services
from schemas.qa import (
    FlakyTest,
    FuzzFailure,
    FuzzReport,
    Mutant,
    MutationReport,
    QAGateReport,
    Rerun,
    StaticFinding,
    StaticReport,
    TestOutcome,
    TestRun,
    TestsReport,
)
from schemas.settings import Settings
from store.db import Database
from store.tokens import TokenRepository

EVIL = "<script>alert('pwned')</script>"


@pytest.fixture
async def client(
    db: Database, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    services = Services.build(Settings(data_dir=tmp_path / "d"), db, temporal=None)  # type: ignore[arg-type]
    tokens = TokenRepository(db)
    headers = {}
    for user in ("alice", "bob"):
        await tokens.ensure_user(user, user)
        headers[user] = f"Bearer {await tokens.issue(user)}"
    report = QAGateReport(
        bundle_hash="b" * 64,
        deployment_id="dep-1",
        verdict="fail",
        stages=[
            TestsReport(
                verdict="fail",
                reason="1 flaky on rerun",
                runs=[
                    TestRun(
                        index=i,
                        order="fixed",
                        exit_code=0,
                        duration_s=1.0,
                        outcomes={f"t::{EVIL}": TestOutcome.PASSED},
                        hash_seed=1000 + i,
                        random_seed=2000 + i,
                    )
                    for i in (1, 2, 3)
                ],
                flaky=[
                    FlakyTest(
                        nodeid=f"t::{EVIL}",
                        outcomes=[TestOutcome.PASSED] * 4 + [TestOutcome.FAILED],
                        sources=["random", EVIL],
                    )
                ],
                touched={f"t::{EVIL}": ["random"]},
                reruns=[
                    Rerun(
                        index=1,
                        kind="repeated",
                        tests=1,
                        repetitions=2,
                        hash_seed=31337,
                        random_seed=7,
                        exit_code=0,
                        duration_s=1.5,
                    )
                ],
            ),
            MutationReport(
                verdict="fail",
                reason="score 40% < 70%",
                score=0.4,
                threshold=0.7,
                killed=4,
                survived=6,
                mutable_fraction=0.9,
                min_mutable_fraction=0.5,
                survivors=[
                    Mutant(name="main.x__mutmut_1", status="survived", diff=f"- a\n+ {EVIL}")
                ],
            ),
            FuzzReport(
                verdict="fail",
                reason="1 failure",
                seed=7,
                examples_per_target=50,
                failures=[
                    FuzzFailure(
                        kind="server_error",
                        target="GET /average",
                        example="curl '/average?people=0'",
                        detail=EVIL,
                    )
                ],
            ),
            StaticReport(
                verdict="fail",
                reason="1 gating finding",
                files_scanned=2,
                policy="HIGH",
                findings=[
                    StaticFinding(
                        file="main.py",
                        line=3,
                        test_id="B307",
                        test_name="eval",
                        severity="MEDIUM",
                        confidence="HIGH",
                        text=EVIL,
                        gating=True,
                    )
                ],
            ),
        ],
    )
    digest = await services.artifacts.put("qa-report", report.model_dump_json().encode())
    await services.qa_reports.save_report(
        deployment_id="dep-1",
        app_id="tips-app",
        owner_id="alice",
        bundle_hash="b" * 64,
        verdict="fail",
        report_sha256=digest,
        summary="mutation: score 40% < 70%",
    )
    # dep-2: the generated bundle failed, the generator's repair (attempt 2) passed.
    for attempt, verdict, summary in ((1, "fail", f"static: B307 {EVIL}"), (2, "pass", "ok")):
        attempt_report = report.model_copy(
            update={"deployment_id": "dep-2", "verdict": verdict, "bundle_hash": f"{attempt}" * 64}
        )
        await services.qa_reports.save_report(
            deployment_id="dep-2",
            app_id="tips-app",
            owner_id="alice",
            bundle_hash=f"{attempt}" * 64,
            verdict=verdict,
            report_sha256=await services.artifacts.put(
                "qa-report", attempt_report.model_dump_json().encode()
            ),
            summary=summary,
            attempt=attempt,
        )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://t"
    ) as http:
        yield http, headers


async def test_the_owner_reads_the_report_as_json(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, auth = client
    r = await http.get("/v1/deployments/dep-1/report", headers={"Authorization": auth["alice"]})
    assert r.status_code == 200
    body = r.json()
    assert body["verdict"] == "fail"
    assert [s["stage"] for s in body["stages"]] == ["tests", "mutation", "fuzz", "static"]
    assert body["stages"][1]["survivors"][0]["diff"].startswith("- a")
    assert body["stages"][0]["flaky"][0]["sources"][0] == "random"


async def test_the_html_page_escapes_everything_and_forbids_scripts(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, auth = client
    r = await http.get(
        "/v1/deployments/dep-1/report.html", headers={"Authorization": auth["alice"]}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert EVIL not in page and "&lt;script&gt;" in page
    assert "B307" in page and "GET /average" in page and "main.x__mutmut_1" in page
    assert 'style="width:40%"' in page  # the score bar
    assert "passed, passed, passed, passed, failed" in page and "31337" in page  # reruns
    assert "random, &lt;script&gt;" in page  # what the flaky test touched


async def test_another_user_and_unknown_ids_get_404(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, auth = client
    for path in ("/v1/deployments/dep-1/report", "/v1/deployments/dep-1/report.html"):
        r = await http.get(path, headers={"Authorization": auth["bob"]})
        assert r.status_code == 404 and "dep-1" in r.json()["detail"]
    r = await http.get("/v1/deployments/nope/report", headers={"Authorization": auth["alice"]})
    assert r.status_code == 404
    assert (await http.get("/v1/deployments/dep-1/report")).status_code == 401


async def test_each_attempt_of_a_repaired_deployment_has_its_report(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, auth = client
    alice = {"Authorization": auth["alice"]}
    latest = await http.get("/v1/deployments/dep-2/report", headers=alice)
    assert latest.status_code == 200 and latest.json()["verdict"] == "pass"
    assert latest.json()["bundle_hash"] == "2" * 64  # the deployment's verdict: the last
    first = await http.get("/v1/deployments/dep-2/report?attempt=1", headers=alice)
    assert first.status_code == 200 and first.json()["verdict"] == "fail"
    assert first.json()["bundle_hash"] == "1" * 64
    missing = await http.get("/v1/deployments/dep-2/report?attempt=3", headers=alice)
    assert missing.status_code == 404 and "attempt 3" in missing.json()["detail"]
    for bad in ("0", "99", "x"):
        r = await http.get(f"/v1/deployments/dep-2/report?attempt={bad}", headers=alice)
        assert r.status_code == 422
    bob = {"Authorization": auth["bob"]}
    for path in ("/v1/deployments/dep-2/report?attempt=1", "/v1/deployments/dep-2/report.html"):
        r = await http.get(path, headers=bob)
        assert r.status_code == 404


async def test_the_html_page_lists_every_attempt_escaped(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, auth = client
    r = await http.get(
        "/v1/deployments/dep-2/report.html?attempt=1", headers={"Authorization": auth["alice"]}
    )
    assert r.status_code == 200
    page = r.text
    assert "<h2>Attempts</h2>" in page
    assert "<strong>1</strong> (shown)" in page
    assert '<a href="report.html?attempt=2">2</a>' in page
    assert EVIL not in page and "static: B307 &lt;script&gt;" in page
    assert "<code>1111111111111111</code>" in page and "<code>2222222222222222</code>" in page
    single = await http.get(
        "/v1/deployments/dep-1/report.html", headers={"Authorization": auth["alice"]}
    )
    assert "Attempts" not in single.text  # one bundle judged: nothing to list
