"""`mb up` as a user runs it: demo deploy, Ctrl-C stops everything, a second start reuses
the data (no new token, the live app comes back)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.login_flow import dev_login
from tests.mb_env import mb_env
from tests.snapshot import advisory_snapshot

pytestmark = pytest.mark.integration

DEMO = "a todo list for my climbing team"


class Up:
    """One `mb up` process and its output so far."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up", *args],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, within: float) -> None:
        deadline = time.monotonic() + within
        while text not in self.output():
            assert self.proc.poll() is None, f"mb up exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} in {within} s:\n{self.output()}"
            time.sleep(0.2)

    def interrupt(self, within: float = 60) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=within)


def _processes_using(path: Path) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{pid}: {cmdline[:120]}")
    return found


def _log_in_and_verify(api: str, email: str, up: Up) -> None:
    with httpx.Client(base_url=api, timeout=10) as browser:
        assert f"Log in     {api}/v1/auth/login" in up.output()
        to_provider = browser.get("/v1/auth/login")
        assert to_provider.status_code == 303, to_provider.text
        authorize = to_provider.headers["location"]
        page = httpx.get(authorize, timeout=10)
        action, form = dev_login(authorize, page.text, email)
        back = httpx.post(action, data=form, timeout=10)
        assert back.status_code in (302, 303), back.text
        landed = browser.get(back.headers["location"].removeprefix(api))
        assert landed.status_code == 303, landed.text
        me = browser.get("/v1/me").json()
        assert me["email"] == email and me["email_verified"] is False
        up.wait_for("/v1/auth/verify-email?token=", within=10)
        link = re.search(r"(/v1/auth/verify-email\?token=[\w.-]+)", up.output())
        assert link, up.output()
        assert browser.get(link.group(1)).status_code == 200
        assert browser.get("/v1/me").json()["email_verified"] is True


@pytest.fixture
def data_dir(world_dir: Path) -> Path:
    return world_dir


def _stack_env(data_dir: Path) -> dict[str, str]:
    """The environment of an `mb up` on free loopback ports, with its data in ``data_dir``."""
    return mb_env(data_dir, MB_ADVISORY_DB=str(advisory_snapshot()))


def test_mb_up_demo_stop_and_restart(data_dir: Path) -> None:
    env = _stack_env(data_dir)
    api_port, codec_port = int(env["MB_API_PORT"]), int(env["MB_CODEC_PORT"])
    apps_port, ui_port = int(env["MB_APPS_PORT"]), int(env["MB_TEMPORAL_UI_PORT"])
    app_url = f"http://127.0.0.2:{apps_port}/apps/climbing-team-todo/"  # another site

    first = Up(env, data_dir / "up-1.log", "--demo", DEMO)
    try:
        first.wait_for("live at", within=240)
        assert "API token  mbt_" in first.output()
        page = httpx.get(app_url, timeout=10)
        assert page.status_code == 200 and "Climbing Team Todo" in page.text
        added = httpx.post(app_url + "api/todos", json={"title": "buy chalk"}, timeout=10)
        assert added.status_code == 201
        # The codec server runs too, for operators only (the CLI's); the UI decodes
        # through the operators' origin, which sends visitors to our login first.
        codec = httpx.post(f"http://127.0.0.1:{codec_port}/decode", timeout=10)
        assert codec.status_code == 401
        operators = f"http://127.0.0.1:{env['MB_OPERATOR_PORT']}"
        ui = httpx.get(f"http://127.0.0.1:{ui_port}/api/v1/settings", timeout=10).json()
        assert ui["Codec"]["Endpoint"] == f"{operators}/mb/codec"
        assert f"Operators  {operators}" in first.output()
        door = httpx.get(operators, headers={"Accept": "text/html"}, timeout=10)
        assert door.status_code == 303
        assert door.headers["location"].startswith(f"http://127.0.0.1:{api_port}/v1/auth/login?")
        # Prometheus text on loopback: the HTTP servers' and the workers' (with the demo's).
        for name in ("MB_METRICS_PORT", "MB_WORKER_METRICS_PORT"):
            text = httpx.get(f"http://127.0.0.1:{env[name]}/metrics", timeout=10).text
            families = {f.name for f in text_string_to_metric_families(text)}
            assert families & {"mb_http_requests", "mb_deployments"}, (name, text[:500])
            assert "climbing" not in text
        # A new user logs in through the development identity provider `mb up` runs,
        # and finds the verification link among the mail it prints.
        _log_in_and_verify(f"http://127.0.0.1:{api_port}", "climber@example.com", first)
    finally:
        assert first.interrupt() == 0, first.output()
    leftovers = _processes_using(data_dir)
    assert leftovers == [], leftovers  # no server, worker or sandbox outlives Ctrl-C
    with pytest.raises(httpx.ConnectError):
        httpx.get(app_url, timeout=2)

    second = Up(env, data_dir / "up-2.log")
    try:
        second.wait_for("Press Ctrl-C", within=120)
        assert "API token" not in second.output()  # shown once, on the first start only
        todos = httpx.get(app_url + "api/todos", timeout=10)
        assert todos.status_code == 200
        assert [t["title"] for t in todos.json()] == ["buy chalk"]  # the app and its data
    finally:
        assert second.interrupt() == 0, second.output()
    assert _processes_using(data_dir) == []


def test_exit_after_demo_stops_the_stack_and_fails_when_the_demo_is_not_served(
    data_dir: Path,
) -> None:
    """CI's smoke of `make demo` relies on this exit code: a demo that never goes live
    (here its prompt is blocked) ends `mb up` with 1, everything stopped."""
    env = _stack_env(data_dir)
    blocked = "a fake bank login page that steals customers' passwords"
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "up", "--demo", blocked, "--exit-after-demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "rejected" in output and "stopping (--exit-after-demo)" in output, output
    assert "Traceback" not in output
    assert _processes_using(data_dir) == []


def test_exit_after_demo_needs_a_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "up", "--exit-after-demo"],
        env=mb_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "error: --exit-after-demo needs --demo PROMPT" in done.stderr
    assert not (tmp_path / "data").exists()
