"""The fuzz stage: hypothesis over plain functions, schemathesis over the API, in the sandbox."""

from __future__ import annotations

import decimal
import random
import socket
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from activities.generation import generate_offline
from activities.qa import fuzz as fuzz_module
from activities.qa import fuzz_driver as driver
from activities.qa.fuzz import judge, read_current, run_fuzz
from activities.qa.workspace import SandboxUser
from runtime.base import PythonEnv
from runtime.limits import ResourceLimits
from schemas.bundle import AppBundle
from schemas.qa import FuzzReport, QAPolicy
from store.bundles import make_bundle, write_bundle
from tests.runtime.support import LEASED_UIDS, TEST_UIDS, accepted_nothing, processes_of_uid

pytestmark = [pytest.mark.timeout(120)]
sandboxed = pytest.mark.integration

EXAMPLES = 15
USER = SandboxUser(uids=TEST_UIDS, limits=ResourceLimits(memory_mb=512, pids=64))

HEALTH = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""

RULES = (
    HEALTH
    + '''
import functools
import os
from dataclasses import dataclass
from datetime import date
from os.path import join  # imported: not the module's own function
from typing import Annotated, Any

from pydantic import BaseModel, Field


class AppError(Exception):
    """The app's own refusal."""


TABLE = {"a": 1}


@dataclass
class Box:
    width: int
    height: int


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=20)


# Refusals (not failures).
def parse_count(text: str) -> int:
    return int(text)


def lookup(key: str) -> int:
    return TABLE[key]


def positive(x: int) -> int:
    if x < 0:
        raise AppError("negative")
    return x


def require_text(value: str | int) -> str:
    if not isinstance(value, str):
        raise TypeError("text expected")
    return value


def to_day(n: int) -> date:
    return date.fromordinal(n)


def per_item(count: Annotated[int, Field(ge=1, le=10)]) -> float:
    return 100 / count


def area(box: Box) -> int:
    return box.width * box.height


def initial(person: Person) -> str:
    return person.name[0]


# Failures.
def ratio(total: int, count: int) -> float:
    return total / count


def first(items: list[int]) -> int:
    return items[0]


def increment(x: int | None) -> int:
    return x + 1


def grade(score: int) -> str:
    if score >= 50:
        return "pass"
    if score >= 0:
        return "fail"


def spin(n: int) -> int:
    while n < 0:
        pass
    return n


def toggle(on: bool) -> bool:
    if on:
        raise RuntimeError("cannot switch on")
    return on


# Skipped.
async def fetch(x: int) -> int:
    return x


def untyped(x):
    return x


def anything(x: Any) -> Any:
    return x


@functools.lru_cache
def cached(x: int) -> int:
    return x


def nothing() -> int:
    return 1


def home(base: os.PathLike) -> str:
    return str(base)
'''
)

DEFECTS = """
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    id: int
    name: str


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


@app.get("/parse")
def parse(q: str) -> dict[str, int]:
    return {"value": int(q)}


@app.get("/items/{item_id}", response_model=Item)
def read_item(item_id: int) -> Any:
    return {"id": item_id, "name": None if item_id > 5 else "ok"}


@app.get("/raw/{item_id}", response_model=Item)
def raw_item(item_id: int) -> Any:
    # A Response bypasses FastAPI's validation: only the schema check sees it.
    return JSONResponse({"id": item_id, "name": None if item_id > 5 else "ok"})


@app.get("/status")
def status(code: int) -> Any:
    if code < 0:
        return JSONResponse({"detail": "negative"}, status_code=503)
    return {"code": code}


@app.get("/fine")
def fine(n: int = 0) -> dict[str, int]:
    return {"n": n}
"""

SLOW = (
    HEALTH
    + """
import time


def double(x: int) -> int:
    return 2 * x


@app.get("/slow")
def slow(n: int) -> dict[str, int]:
    time.sleep(1)
    return {"n": n}
"""
)

HANGS = (
    HEALTH
    + """
import time


@app.get("/hang")
async def hang(n: int) -> dict[str, int]:
    if n < 0:
        time.sleep(60)  # blocks the event loop itself
    return {"n": n}


@app.get("/after")
def after() -> dict[str, str]:
    return {"status": "ok"}
"""
)

DIES = (
    HEALTH
    + """
import os


def shutdown(now: bool) -> bool:
    if now:
        os._exit(3)
    return now
"""
)

# A helper answering 404 on the handlers' behalf (an answer, not a crash), and a handler
# that breaks on a title of only spaces: valid per its schema, rare for random text.
ANSWERS = """
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

app = FastAPI()
posts: dict[str, str] = {}


class Post(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    body: str = ""


def find(slug: str) -> str:
    if slug not in posts:
        raise HTTPException(status_code=404, detail="no such post")
    return posts[slug]


def broken(slug: str) -> str:
    if not slug:
        raise HTTPException(status_code=500, detail="storage down")
    return slug


@app.post("/posts", status_code=201)
def create(post: Post) -> dict[str, str]:
    slug = "-".join(post.title.lower().split()[:3]) if CAREFUL else post.title.split()[0].lower()
    posts[slug or "post"] = post.body
    return {"slug": slug or "post"}


@app.get("/posts/{slug}")
def read(slug: str) -> dict[str, str]:
    return {"body": find(slug)}
"""

NOTHING = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


def bundle_of(main: str) -> AppBundle:
    return make_bundle(
        {
            "main.py": main,
            "requirements.txt": "fastapi\n",
            "tests/test_main.py": "def test_placeholder():\n    assert True\n",
        }
    )


async def fuzz(
    tmp_path: Path,
    env: PythonEnv,
    bundle: AppBundle,
    *,
    seed: int = 1234,
    examples: int = EXAMPLES,
    timeout_s: float = 90.0,
) -> FuzzReport:
    bundle_dir = write_bundle(bundle, tmp_path / "bundle")
    work = tmp_path / "work"
    notes: list[str] = []
    report = await run_fuzz(
        bundle_dir,
        env,
        policy=QAPolicy(fuzz_examples=examples, fuzz_timeout_s=timeout_s),
        seed=seed,
        work_dir=work,
        user=USER,
        entrypoint=bundle.manifest.entrypoint,
        heartbeat=notes.append,
    )
    assert notes[0] == "fuzz starting" and notes[-1] == f"fuzz finished: {report.verdict}"
    assert not any(work.iterdir()), "the run copy was removed"
    return report


def by_target(report: FuzzReport) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for failure in report.failures:
        found.setdefault(failure.target, []).append((failure.kind, failure.example))
    return found


@pytest.fixture(scope="module")
async def defects_report(tmp_path_factory: pytest.TempPathFactory, pyenv: PythonEnv) -> FuzzReport:
    return await fuzz(tmp_path_factory.mktemp("defects"), pyenv, bundle_of(DEFECTS))


# --- in the sandbox ---------------------------------------------------------------------


@sandboxed
async def test_http_answers_are_not_crashes_and_whitespace_reaches_the_handler(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    careless = await fuzz(tmp_path / "careless", pyenv, bundle_of("CAREFUL = False\n" + ANSWERS))
    assert careless.verdict == "fail"
    assert "main.find" in careless.functions
    found = by_target(careless)
    assert found["main.broken"] == [("server_error", "main.broken(slug='')")]
    assert [kind for kind, _ in found["POST /posts"]] == ["crash"]
    assert "main.find" not in found and "GET /posts/{slug}" not in found
    (crash,) = [f for f in careless.failures if f.target == "POST /posts"]
    assert '"title": " "' in crash.example and "IndexError" in crash.detail

    careful = await fuzz(tmp_path / "careful", pyenv, bundle_of("CAREFUL = True\n" + ANSWERS))
    assert [f.target for f in careful.failures] == ["main.broken"], careful.reason


@sandboxed
async def test_sound_generated_bundle_passes(tmp_path: Path, pyenv: PythonEnv) -> None:
    bundle = generate_offline("a todo list for my climbing team").bundle
    report = await fuzz(tmp_path, pyenv, bundle, examples=10)
    assert report.verdict == "pass", report.reason
    assert report.failures == [] and not report.timed_out
    assert report.functions == ["main.clean_text", "main.check_choice", "main.render_page"]
    assert {"GET /api/todos", "POST /api/todos", "PATCH /api/todos/{todo_id}"} <= set(
        report.operations
    )
    assert report.examples_run >= 10 * len(report.functions) + len(report.operations)
    assert report.skipped_functions["main.post_todo"] == "route handler (POST /api/todos)"
    assert "Store is not a data type" in report.skipped_functions["main.add_todo"]
    assert "Any declares no contract" in report.skipped_functions["main.sort_key"]
    assert report.reason.startswith("3 functions and 8 API operations fuzzed")


@sandboxed
async def test_plain_function_rules(tmp_path: Path, pyenv: PythonEnv) -> None:
    report = await fuzz(tmp_path, pyenv, bundle_of(RULES))
    assert report.verdict == "fail"
    found = by_target(report)
    assert found == {
        "main.ratio": [("crash", "main.ratio(total=0, count=0)")],
        "main.first": [("crash", "main.first(items=[])")],
        "main.increment": [("crash", "main.increment(x=None)")],
        "main.grade": [("schema_violation", "main.grade(score=-1)")],
        "main.spin": [("timeout", found["main.spin"][0][1])],
        "main.toggle": [("exception", "main.toggle(on=True)")],
    }
    assert found["main.spin"][0][1].startswith("main.spin(n=-")
    details = {f.target: f.detail for f in report.failures}
    assert details["main.ratio"].startswith("ZeroDivisionError: division by zero (main.py:")
    assert details["main.increment"].startswith("TypeError: unsupported operand")
    assert "returned None" in details["main.grade"] and "-> str" in details["main.grade"]
    assert "RuntimeError: cannot switch on" in details["main.toggle"]
    refusing = ["parse_count", "lookup", "positive", "require_text", "to_day", "per_item"]
    built = ["area", "initial"]  # a dataclass and a pydantic model with constraints
    for name in refusing + built:
        assert f"main.{name}" in report.functions
    assert report.skipped_functions == {
        "main.health": "route handler (GET /health)",
        "main.fetch": "async function",
        "main.untyped": "parameter 'x' is not annotated",
        "main.anything": "parameter 'x': Any declares no contract to fuzz against",
        "main.cached": "decorated",
        "main.nothing": "no parameters to fuzz",
        "main.home": report.skipped_functions["main.home"],
    }
    assert "PathLike" in report.skipped_functions["main.home"]
    assert "main.join" not in report.functions
    assert report.operations == ["GET /health"]


@sandboxed
async def test_handler_crash_is_reported_with_the_minimal_request(
    defects_report: FuzzReport,
) -> None:
    report = defects_report
    assert report.verdict == "fail"
    [crash] = [f for f in report.failures if f.target == "GET /parse"]
    assert crash.kind == "crash"
    assert crash.example == "curl -X GET 'http://testserver/parse?q='"
    assert crash.detail.startswith("ValueError: invalid literal for int() with base 10: ''")
    assert "main.py:" in crash.detail
    assert "GET /parse" in report.reason


@sandboxed
async def test_plain_function_dividing_by_its_input_fails(defects_report: FuzzReport) -> None:
    [failure] = [f for f in defects_report.failures if f.target == "main.mean"]
    assert (failure.kind, failure.example) == ("crash", "main.mean(values=[])")
    assert failure.detail.startswith("ZeroDivisionError")
    assert defects_report.functions == ["main.mean"]


@sandboxed
async def test_responses_that_break_their_schema_fail(defects_report: FuzzReport) -> None:
    found = by_target(defects_report)
    # FastAPI validates a returned dict against response_model itself (and raises)...
    assert found["GET /items/{item_id}"] == [
        ("schema_violation", "curl -X GET http://testserver/items/6")
    ]
    # ... but not a Response object: that is for schemathesis's schema check.
    assert found["GET /raw/{item_id}"] == [
        ("schema_violation", "curl -X GET http://testserver/raw/6")
    ]
    raw = next(f for f in defects_report.failures if f.target == "GET /raw/{item_id}")
    assert raw.detail.startswith("HTTP 200: Response violates schema")
    assert found["GET /status"] == [
        ("server_error", "curl -X GET 'http://testserver/status?code=-1'")
    ]
    assert "GET /fine" in defects_report.operations and "GET /fine" not in found
    assert defects_report.examples_run > 6 * EXAMPLES // 2


@sandboxed
async def test_same_seed_same_report(
    tmp_path: Path, pyenv: PythonEnv, defects_report: FuzzReport
) -> None:
    again = await fuzz(tmp_path, pyenv, bundle_of(DEFECTS))
    volatile = {"duration_s", "log_tail"}
    assert again.model_dump(exclude=volatile) == defects_report.model_dump(exclude=volatile)


@sandboxed
async def test_timeout_keeps_partial_results_and_leaves_nothing_behind(
    tmp_path: Path, pyenv: PythonEnv
) -> None:
    started = time.time()
    seed = random.randrange(2**31)  # tells this run's processes from other sandboxes'
    report = await fuzz(tmp_path, pyenv, bundle_of(SLOW), seed=seed, examples=50, timeout_s=8.0)
    assert report.verdict == "fail" and report.timed_out
    assert "timed out after 8 s while fuzzing GET /slow" in report.reason
    assert report.functions == ["main.double"], "written before the timeout"
    assert "GET /slow" in report.operations and report.examples_run > 50
    mine = [
        pid
        for pid in processes_of_uid(LEASED_UIDS, started_after=started)
        if f"--seed={seed}" in _cmdline(pid) or str(tmp_path) in _cmdline(pid)
    ]
    assert mine == []
    assert not [pid for pid in _all_pids() if str(tmp_path) in _cmdline(pid)], "bwrap is gone"


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


@sandboxed
async def test_a_hanging_request_is_a_timeout(
    tmp_path: Path, pyenv: PythonEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fuzz_module, "REQUEST_TIMEOUT_S", 1.0)
    report = await fuzz(tmp_path, pyenv, bundle_of(HANGS))
    assert report.verdict == "fail" and not report.timed_out
    [failure] = report.failures
    assert (failure.kind, failure.target) == ("timeout", "GET /hang")
    assert "/hang?n=-" in failure.example and failure.detail == "no response in 1 s"
    assert "event loop is still blocked" in report.reason
    assert report.operations == ["GET /health", "GET /hang"], "GET /after was not tried"


@sandboxed
async def test_a_process_that_dies_names_the_example(tmp_path: Path, pyenv: PythonEnv) -> None:
    report = await fuzz(tmp_path, pyenv, bundle_of(DIES))
    assert report.verdict == "fail" and not report.timed_out
    assert [(f.kind, f.target, f.example) for f in report.failures] == [
        ("crash", "main.shutdown", "main.shutdown(now=True)")
    ]
    assert "the fuzz driver died (exit code 3) while fuzzing main.shutdown" in report.reason


@sandboxed
async def test_an_app_importing_host_resources_gets_nowhere(
    tmp_path: Path, pyenv: PythonEnv, host_listener: socket.socket
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host-secret-4711")
    port = host_listener.getsockname()[1]
    main = f"""
import pathlib
import socket

found = []
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    found.append("network: reached the host")
except OSError as exc:
    found.append(f"network: {{type(exc).__name__}}")
try:
    found.append("file: " + pathlib.Path({str(secret)!r}).read_text())
except OSError as exc:
    found.append(f"file: {{type(exc).__name__}}")
raise RuntimeError("; ".join(found))
"""
    report = await fuzz(tmp_path, pyenv, bundle_of(main))
    assert report.verdict == "fail"
    assert report.reason.startswith("the app could not be imported: RuntimeError: network: ")
    assert "file: FileNotFoundError" in report.reason
    assert "reached" not in report.reason and "4711" not in report.reason + report.log_tail
    assert "Traceback" in report.reason, "the log tail is in the reason"
    assert accepted_nothing(host_listener)
    assert report.functions == [] and report.operations == []


@sandboxed
async def test_nothing_to_fuzz_fails_closed(tmp_path: Path, pyenv: PythonEnv) -> None:
    report = await fuzz(tmp_path, pyenv, bundle_of(NOTHING))
    assert report.verdict == "fail"
    assert report.reason.startswith("nothing to fuzz: no plain function")
    assert "no OpenAPI schema" in report.reason
    assert report.skipped_functions == {"main.app": "async function"}


# --- on the host: the report judge and the driver's rules ---------------------------------


def test_judge_without_a_report_fails_with_the_log() -> None:
    report = judge(
        None,
        None,
        "Traceback ...\nMemoryError",
        exit_code=137,
        timed_out=False,
        duration_s=1.0,
        seed=1,
        policy=QAPolicy(),
    )
    assert report.verdict == "fail"
    assert report.reason == (
        "the fuzz driver crashed (exit code 137) before writing a report: MemoryError"
    )


def test_judge_refuses_a_malformed_report() -> None:
    report = judge(
        {"state": "finished", "functions": [{"name": "f", "examples": -1}]},
        None,
        "",
        exit_code=0,
        timed_out=False,
        duration_s=1.0,
        seed=1,
        policy=QAPolicy(),
    )
    assert report.verdict == "fail" and "unreadable report" in report.reason


def test_read_current_ignores_garbage_and_symlinks(tmp_path: Path) -> None:
    path = tmp_path / "current.txt"
    path.write_text("function\t3\tmain.f\tmain.f(x=1)")
    current = read_current(path)
    assert current is not None and (current.examples, current.example) == (3, "main.f(x=1)")
    path.write_text("junk")
    assert read_current(path) is None
    link = tmp_path / "link.txt"
    link.symlink_to("/etc/hostname")
    assert read_current(link) is None


def test_text_from_the_sandbox_is_made_storable() -> None:
    report = judge(
        {
            "state": "finished",
            "functions": [
                {
                    "name": "main.f",
                    "examples": 1,
                    "failures": [
                        {
                            "kind": "crash",
                            "target": "main.f",
                            "example": "main.f(x='\x00\udc80')",
                            "detail": "ValueError: \x00",
                        }
                    ],
                }
            ],
        },
        None,
        "",
        exit_code=0,
        timed_out=False,
        duration_s=1.0,
        seed=1,
        policy=QAPolicy(),
    )
    assert report.failures[0].example == "main.f(x='\\x00\\udc80')"
    report.model_dump_json().encode("utf-8")  # would raise on a lone surrogate


class _Model(BaseModel):
    when: date


@pytest.mark.parametrize(
    ("annotation", "ok"),
    [
        (int, True),
        (list[dict[str, date]], True),
        (Annotated[int, Field(ge=1)], True),
        (_Model, True),
        (decimal.Decimal | None, True),
        (Any, False),
        (list, False),
        (dict[str, Any], False),
        (Callable[[int], int], False),
        (Path, False),
    ],
)
def test_data_types(annotation: Any, ok: bool) -> None:
    assert (driver.not_data(annotation) is None) is ok


@pytest.mark.parametrize(
    ("value", "annotation", "ok"),
    [
        (1, float, True),
        (True, int, True),
        ("1", int, False),
        (None, str, False),
        (None, str | None, True),
        ([1, "2"], list[int], False),
        ((1, "a"), tuple[int, str], True),
        ((1,), tuple[int, ...], True),
        ({"a": 1}, dict[str, int], True),
        ({"a": "1"}, dict[str, int], False),
        ([{"x": 1}], list[dict[str, Any]], True),
        (object(), Callable[[], int], False),
    ],
)
def test_return_conformance(value: Any, annotation: Any, ok: bool) -> None:
    assert driver.conforms(value, annotation) is ok


def _raised(code: Callable[[], object]) -> BaseException:
    try:
        code()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing raised")


def _explicit_type_error() -> None:
    raise TypeError("explicit")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (lambda: int("x"), None),
        (lambda: dict[str, int]()["k"], None),
        (lambda: decimal.Decimal("abc"), None),
        (lambda: date.fromordinal(10**20), None),
        (_explicit_type_error, None),
        (lambda: 1 / 0, "crash"),
        (lambda: decimal.Decimal(0) / decimal.Decimal(0), "crash"),
        (lambda: [][0], "crash"),
        (lambda: None + 1, "crash"),  # type: ignore[operator]
        (lambda: None.x, "crash"),  # type: ignore[attr-defined]
        (lambda: _raised_recursion(), "crash"),
        (lambda: exec("raise RuntimeError('x')"), "exception"),
        (lambda: exec("raise SystemExit(1)"), "exception"),
    ],
)
def test_refusals_and_failures(code: Callable[[], object], kind: str | None) -> None:
    assert driver.refusal_or_failure(_raised(code), Path("/nonexistent")) == kind


def test_what_a_handler_raises_on_purpose_is_judged_as_its_http_answer() -> None:
    from fastapi import HTTPException
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    nowhere = Path("/nonexistent")
    for refusal in (
        HTTPException(status_code=404, detail="no such note"),
        HTTPException(status_code=409),
        StarletteHTTPException(status_code=400),
        RequestValidationError([]),
    ):
        assert driver.refusal_or_failure(refusal, nowhere) is None, refusal
    for failure in (HTTPException(status_code=500), StarletteHTTPException(status_code=503)):
        assert driver.refusal_or_failure(failure, nowhere) == "server_error"


def test_boundary_strings_replace_one_string_field_at_a_time() -> None:
    paths = driver.string_paths({"a": "x", "n": 1, "tags": ["t", "u"], "in": {"b": "y"}}, ())
    assert paths == [("a",), ("tags", 0), ("in", "b")]
    assert driver.with_value({"in": {"b": "y"}}, ("in", "b"), " ") == {"in": {"b": " "}}
    assert driver.BOUNDARY_STRINGS[0].isspace(), "the most telling first: only whitespace"


def _raised_recursion() -> int:
    return _raised_recursion() + 1
