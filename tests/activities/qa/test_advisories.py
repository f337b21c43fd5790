"""The OSV advisory database: range evaluation, loading both layouts, caching, refreshing."""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from activities.qa.advisories import (
    AdvisoryDatabaseError,
    UncheckableVersion,
    load_advisories,
    parse_advisory,
)
from activities.qa.advisory_update import AdvisoryUpdateError, update_advisories
from tests.snapshot import ADVISORY_SNAPSHOT

pytestmark = pytest.mark.timeout(60)

SNAPSHOT = ADVISORY_SNAPSHOT


def record(ident: str = "TEST-1", *, package: str = "demo", **affected: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "summary": f"{ident} summary",
        "aliases": [f"CVE-{ident}"],
        "affected": [{"package": {"ecosystem": "PyPI", "name": package}, **affected}],
    }


def eco(*events: tuple[str, str], kind: str = "ECOSYSTEM") -> dict[str, Any]:
    return {"type": kind, "events": [{k: v} for k, v in events]}


def affects(rec: dict[str, Any], version: str) -> bool:
    (entry,) = parse_advisory(rec).affected
    return entry.affects(version)


# --- range evaluation ---------------------------------------------------------------------


def test_introduced_zero_and_fixed() -> None:
    rec = record(ranges=[eco(("introduced", "0"), ("fixed", "2.0"))])
    assert affects(rec, "0.0.1")
    assert affects(rec, "1.9.9")
    assert affects(rec, "2.0rc1"), "a pre-release of the fix is still affected"
    assert not affects(rec, "2.0")
    assert not affects(rec, "2.0.0"), "PEP 440 equality, not string equality"
    assert not affects(rec, "10.0")


def test_several_introduced_fixed_pairs_in_any_order() -> None:
    rec = record(
        ranges=[
            eco(("introduced", "3.0"), ("fixed", "3.2"), ("introduced", "1.0"), ("fixed", "1.2"))
        ]
    )
    expected = {
        "0.9": False,
        "1.0": True,
        "1.1.5": True,
        "1.2": False,
        "2.5": False,
        "3.0": True,
        "3.1": True,
        "3.2": False,
        "4": False,
    }
    assert {v: affects(rec, v) for v in expected} == expected


def test_last_affected_is_inclusive() -> None:
    rec = record(ranges=[eco(("introduced", "1.0"), ("last_affected", "1.11.0"))])
    assert not affects(rec, "0.9")
    assert affects(rec, "1.11.0")
    assert not affects(rec, "1.11.1")


def test_multiple_ranges_any_one_matches() -> None:
    rec = record(
        ranges=[
            eco(("introduced", "1.0"), ("fixed", "1.5")),
            eco(("introduced", "2.0"), ("fixed", "2.3")),
        ]
    )
    assert [affects(rec, v) for v in ("1.4", "1.5", "2.2", "2.3")] == [True, False, True, False]


def test_limit_bounds_the_range() -> None:
    rec = record(ranges=[eco(("introduced", "0"), ("limit", "2.0"))])
    assert affects(rec, "1.9")
    assert not affects(rec, "2.0")
    star = record(ranges=[eco(("introduced", "1.0"), ("limit", "*"))])
    assert affects(star, "99")


def test_versions_list() -> None:
    rec = record(versions=["0.5", "0.12.01"])
    assert affects(rec, "0.5")
    assert affects(rec, "0.5.0"), "the same version spelled differently"
    assert affects(rec, "0.12.1")
    assert not affects(rec, "0.6")


def test_git_ranges_are_ignored_but_need_other_version_data() -> None:
    git = eco(
        ("introduced", "0"), ("fixed", "c45d7c49ea75133e52ab22a8e9e13173938e36ff"), kind="GIT"
    )
    with_versions = record(ranges=[git], versions=["1.0"])
    assert affects(with_versions, "1.0")
    assert not affects(with_versions, "1.1")
    with pytest.raises(UncheckableVersion, match="no PyPI versions"):
        affects(record(ranges=[git]), "1.0")


def test_unparseable_versions_cannot_be_checked() -> None:
    rec = record(ranges=[eco(("introduced", "0"), ("fixed", "2019-09-12"))], versions=["x-1"])
    with pytest.raises(UncheckableVersion, match="2019-09-12"):
        affects(rec, "1.0")
    assert affects(rec, "x-1"), "an exact listed version still matches"
    with pytest.raises(UncheckableVersion, match="not a PEP 440 version"):
        affects(record(ranges=[eco(("introduced", "0"))]), "not a version")


def test_range_without_introduced_counts_from_zero() -> None:
    assert affects(record(ranges=[eco(("fixed", "2.0"))]), "1.0")


def test_semver_ranges_are_compared_too() -> None:
    rec = record(ranges=[eco(("introduced", "1.0.0"), ("fixed", "1.0.2"), kind="SEMVER")])
    assert affects(rec, "1.0.1")
    assert not affects(rec, "1.0.2")


def test_fixed_versions_in_version_order() -> None:
    rec = record(
        ranges=[
            eco(("introduced", "2.0"), ("fixed", "2.10.0"), ("introduced", "0"), ("fixed", "1.9"))
        ]
    )
    (entry,) = parse_advisory(rec).affected
    assert entry.fixed_versions == ("1.9", "2.10.0")


def test_records_are_validated() -> None:
    with pytest.raises(ValueError, match="string id"):
        parse_advisory({"affected": []})
    with pytest.raises(ValueError, match="unknown range event"):
        parse_advisory(record(ranges=[{"type": "ECOSYSTEM", "events": [{"fixd": "1"}]}]))
    npm = record()
    npm["affected"][0]["package"]["ecosystem"] = "npm"
    assert parse_advisory(npm).affected == ()


# --- loading ------------------------------------------------------------------------------

YAML_RECORD = """\
id: PYSEC-0000-1
details: |
  First line of the details.
  Second line.
affected:
- package:
    name: Foo_Bar
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: '0'
    - fixed: 1.10
aliases:
- CVE-0000-1
modified: 2024-01-03T22:31:36Z
"""


def write_json(root: Path, rec: dict[str, Any]) -> None:
    (root / f"{rec['id']}.json").write_text(json.dumps(rec))


def test_yaml_and_json_layouts_load_and_index_by_normalised_name(tmp_path: Path) -> None:
    (tmp_path / "vulns" / "foo-bar").mkdir(parents=True)
    (tmp_path / "vulns" / "foo-bar" / "PYSEC-0000-1.yaml").write_text(YAML_RECORD)
    (tmp_path / "vulns" / ".id-allocator").write_text("not a record")
    write_json(tmp_path, record("GHSA-1", package="other.pkg", ranges=[eco(("introduced", "0"))]))
    withdrawn = record("GHSA-2", package="foo-bar", ranges=[eco(("introduced", "0"))])
    withdrawn["withdrawn"] = "2024-01-01T00:00:00Z"
    write_json(tmp_path, withdrawn)

    db = load_advisories(tmp_path)
    assert (db.advisories, db.withdrawn) == (2, 1)
    (match,) = db.match("FOO.bar", "1.9")
    assert match.advisory.id == "PYSEC-0000-1"
    assert match.advisory.aliases == ("CVE-0000-1",)
    assert match.advisory.summary == "First line of the details."
    assert match.fixed_versions == ("1.10",), "YAML 1.10 stays the string '1.10', not 1.1"
    assert db.match("foo-bar", "1.10") == []
    assert [m.advisory.id for m in db.match("Other_Pkg", "5")] == ["GHSA-1"]
    assert "2 loaded, 1 withdrawn ignored" in db.describe()


def test_missing_and_malformed_databases_raise(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryDatabaseError, match="does not exist"):
        load_advisories(tmp_path / "absent")
    (tmp_path / "BAD-1.json").write_text("{not json")
    with pytest.raises(AdvisoryDatabaseError, match=r"BAD-1\.json"):
        load_advisories(tmp_path)


def test_empty_directory_loads_as_empty(tmp_path: Path) -> None:
    assert load_advisories(tmp_path).advisories == 0


def test_cache_is_reused_until_a_file_changes(tmp_path: Path) -> None:
    write_json(tmp_path, record("A-1", ranges=[eco(("introduced", "0"), ("fixed", "1.0"))]))
    first = load_advisories(tmp_path)
    assert load_advisories(tmp_path) is first
    write_json(tmp_path, record("A-1", ranges=[eco(("introduced", "0"), ("fixed", "3.0"))]))
    os.utime(tmp_path / "A-1.json", ns=(time.time_ns(), time.time_ns() + 10**9))
    second = load_advisories(tmp_path)
    assert second is not first
    assert [m.fixed_versions for m in second.match("demo", "2.0")] == [("3.0",)]


def real_snapshot() -> Path:
    if not SNAPSHOT.is_dir():
        pytest.fail(
            f"the PyPA advisory snapshot is missing: expected {SNAPSHOT} (shared/advisories)"
        )
    return SNAPSHOT


def test_real_snapshot_loads_and_matches_requests() -> None:
    db = load_advisories(real_snapshot())
    assert db.advisories + db.withdrawn == 2661
    assert db.advisories > 2600
    matches = {m.advisory.id: m for m in db.match("requests", "2.19.1")}
    assert matches["PYSEC-2018-28"].fixed_versions == ("2.20.0",)
    assert "CVE-2018-18074" in matches["PYSEC-2018-28"].advisory.aliases
    assert "PYSEC-2018-28" not in {m.advisory.id for m in db.match("requests", "2.20.0")}
    # last_affected in the real data: py <= 1.11.0 (PYSEC-2022-42969)
    assert [m.advisory.id for m in db.match("py", "1.11.0")] == ["PYSEC-2022-42969"]


# --- refreshing from a local server -------------------------------------------------------


def make_zip(records: list[dict[str, Any]], *, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def corrupt_member(data: bytes) -> bytes:
    """Flip a byte inside the first member's compressed data (the CRC check must catch it)."""
    start = 30 + int.from_bytes(data[26:28], "little") + int.from_bytes(data[28:30], "little")
    return data[: start + 5] + bytes([data[start + 5] ^ 0xFF]) + data[start + 6 :]


class OsvServer:
    """A real HTTP server on 127.0.0.1 serving canned responses by path."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, delay = routes.get(self.path, (404, b"not found", 0.0))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def osv_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OsvServer]:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    server = OsvServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


GOOD = [
    record("PYSEC-1", package="requests", ranges=[eco(("introduced", "0"), ("fixed", "2.20.0"))]),
    record("GHSA-xxxx", package="flask", ranges=[eco(("introduced", "1.0"), ("fixed", "1.1"))]),
]


async def test_update_installs_and_replaces_the_database(
    osv_server: OsvServer, tmp_path: Path
) -> None:
    target = tmp_path / "advisories"
    osv_server.routes["/PyPI/all.zip"] = (200, make_zip(GOOD), 0.0)
    assert await update_advisories(osv_server.url("/PyPI/all.zip"), target, timeout_s=10) == 2
    db = load_advisories(target)
    assert [m.advisory.id for m in db.match("requests", "2.19.1")] == ["PYSEC-1"]

    newer = [*GOOD, record("PYSEC-2", package="django", ranges=[eco(("introduced", "0"))])]
    osv_server.routes["/PyPI/all.zip"] = (200, make_zip(newer), 0.0)
    assert await update_advisories(osv_server.url("/PyPI/all.zip"), target, timeout_s=10) == 3
    assert load_advisories(target).advisories == 3
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers[-1] == "advisories" and len(leftovers) == 3, (
        "the link, its directory and the lock file; no staging or previous copy"
    )


async def test_update_replaces_a_plain_directory(osv_server: OsvServer, tmp_path: Path) -> None:
    target = tmp_path / "advisories"
    target.mkdir()
    write_json(target, record("OLD-1"))
    osv_server.routes["/all.zip"] = (200, make_zip(GOOD), 0.0)
    assert await update_advisories(osv_server.url("/all.zip"), target, timeout_s=10) == 2
    assert sorted(p.name for p in target.iterdir()) == ["GHSA-xxxx.json", "PYSEC-1.json"]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, b"internal error", "HTTP 500"),
        (404, b"", "HTTP 404"),
        (200, b"PK\x03\x04 this is not really a zip", "not a valid zip"),
        (200, make_zip(GOOD)[:-40], "not a valid zip"),
        (200, corrupt_member(make_zip(GOOD)), "not a valid zip"),
        (200, make_zip([], extra={"README.md": b"hello"}), "unexpected member"),
        (200, make_zip([], extra={"../evil.json": b"{}"}), "unexpected member"),
        (200, make_zip([], extra={"X-1.json": b"[1, 2]"}), "not an OSV record"),
        (200, make_zip([]), "holds no advisories"),
    ],
)
async def test_failed_update_leaves_the_previous_database(
    osv_server: OsvServer, tmp_path: Path, status: int, body: bytes, error: str
) -> None:
    target = tmp_path / "advisories"
    osv_server.routes["/good.zip"] = (200, make_zip(GOOD), 0.0)
    await update_advisories(osv_server.url("/good.zip"), target, timeout_s=10)
    before = sorted(p.name for p in tmp_path.iterdir())
    contents = sorted(p.name for p in target.iterdir())

    osv_server.routes["/bad.zip"] = (status, body, 0.0)
    with pytest.raises(AdvisoryUpdateError, match=error):
        await update_advisories(osv_server.url("/bad.zip"), target, timeout_s=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert sorted(p.name for p in target.iterdir()) == contents
    assert load_advisories(target).advisories == 2


async def test_slow_download_times_out(osv_server: OsvServer, tmp_path: Path) -> None:
    delay = 2.0
    osv_server.routes["/slow.zip"] = (200, make_zip(GOOD), delay)
    started = time.perf_counter()
    with pytest.raises(AdvisoryUpdateError, match="timed out"):
        await update_advisories(osv_server.url("/slow.zip"), tmp_path / "adv", timeout_s=0.3)
    assert time.perf_counter() - started < delay  # given up before the server would answer
    assert not (tmp_path / "adv").exists()


async def test_oversized_download_is_refused(osv_server: OsvServer, tmp_path: Path) -> None:
    osv_server.routes["/big.zip"] = (200, make_zip(GOOD), 0.0)
    with pytest.raises(AdvisoryUpdateError, match="larger than"):
        await update_advisories(
            osv_server.url("/big.zip"), tmp_path / "adv", timeout_s=10, max_bytes=100
        )
