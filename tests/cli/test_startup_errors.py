"""Every way start-up fails that can be produced here ends in one line naming the cause and
the fix, a non-zero exit, and no traceback; and what can be repaired on the way up is."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import typer

from cli.runner import run
from runtime.base import PythonEnv
from runtime.bwrap import SandboxUnavailable, find_bwrap
from runtime.docker import DockerRuntime
from runtime.errors import AppStartError, BaseImageMissing, DockerUnavailable
from store.embedded import DatabaseStartError, EmbeddedPostgres
from store.gateway_ca import DirectoryCaSource
from store.server_user import SERVER_USER, ServerUserError, ensure_server_user
from store.wal_archive import prepare_archive_dir
from tests.mb_env import mb_env
from tests.runtime.support import TEST_UIDS

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the server user exists only when run as root")


def _mb(
    *args: str, env: dict[str, str], user: int | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli.main", *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, cwd=Path.cwd()
    )


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return mb_env(data_dir, COLUMNS="300", **extra)


def _one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for text in expected:
        assert text in errors[0], output
    return errors[0]


# --- the server user --------------------------------------------------------------------


@needs_root
def test_a_missing_server_user_is_created_as_a_locked_system_account() -> None:
    name = f"mbt{uuid.uuid4().hex[:12]}"
    try:
        entry = ensure_server_user(name)
        assert entry.pw_name == name
        assert entry.pw_uid < 1000  # a system account
        assert entry.pw_shell.endswith("nologin")
        assert ensure_server_user(name).pw_uid == entry.pw_uid  # idempotent
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@needs_root
def test_the_wal_archive_is_prepared_on_a_machine_without_the_server_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first `make demo` of a fresh machine chowned the archive before the package
    had made its user (KeyError: getpwnam)."""
    name = f"mbt{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr("store.server_user.SERVER_USER", name)
    try:
        prepare_archive_dir(tmp_path / "wal")
        assert (tmp_path / "wal").stat().st_uid == pwd.getpwnam(name).pw_uid
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@needs_root
def test_no_permission_to_create_the_server_user_is_one_line_with_the_fix() -> None:
    name = f"mbt{uuid.uuid4().hex[:12]}"
    code = (
        "from store.server_user import ensure_server_user, ServerUserError\n"
        f"try:\n    ensure_server_user({name!r})\n"
        "except ServerUserError as err:\n    print(err)\n"
    )
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path.cwd(),
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert message.startswith(f"cannot create the system user {name}"), message
    assert f"useradd --system --user-group --no-create-home {name}" in message
    with pytest.raises(KeyError):
        pwd.getpwnam(name)


def test_useradd_missing_is_a_server_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("store.server_user._SBIN_PATH", "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ServerUserError, match="useradd was not found"):
        ensure_server_user(f"mbt{uuid.uuid4().hex[:12]}")


# --- the database -----------------------------------------------------------------------


@needs_root
async def test_a_data_directory_owned_by_another_user_is_refused_with_the_fix(
    world_dir: Path,
) -> None:
    pgdata = world_dir / "postgres"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("18\n")
    nobody = pwd.getpwnam("nobody")
    os.chown(pgdata, nobody.pw_uid, nobody.pw_gid)
    os.chown(pgdata / "PG_VERSION", nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(DatabaseStartError, match=f"belongs to nobody.*chown -R {SERVER_USER}:"):
        await EmbeddedPostgres(pgdata).start()
    assert (pgdata / "PG_VERSION").stat().st_uid == nobody.pw_uid  # nothing changed


@needs_root
def test_mb_up_with_a_foreign_data_directory_says_so_in_one_line(world_dir: Path) -> None:
    pgdata = world_dir / "data" / "postgres"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")
    os.chown(pgdata / "PG_VERSION", pwd.getpwnam("nobody").pw_uid, 0)
    done = _mb("up", env=_env(world_dir / "data", MB_BACKUPS="false"))
    _one_line_error(done, "belongs to nobody", "MB_DATA_DIR")


@needs_root
async def test_a_data_directory_whose_owner_was_removed_is_adopted(world_dir: Path) -> None:
    pgdata = world_dir / "postgres"
    server = EmbeddedPostgres(pgdata)
    await server.start()
    await server.stop()
    orphan = 4_000_000 + os.getpid() % 1000  # a uid no account has
    subprocess.run(["chown", "-R", f"{orphan}:{orphan}", str(pgdata)], check=True)
    again = EmbeddedPostgres(pgdata)
    try:
        assert await again.start()
    finally:
        await again.stop()
    assert (pgdata / "PG_VERSION").stat().st_uid == pwd.getpwnam(SERVER_USER).pw_uid


async def test_a_stale_postmaster_pid_held_by_another_process_is_removed(
    world_dir: Path,
) -> None:
    pgdata = world_dir / "postgres"
    server = EmbeddedPostgres(pgdata)
    await server.start()
    await server.stop()
    # after a reboot the pid is someone else's
    squatter = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        (pgdata / "postmaster.pid").write_text(f"{squatter.pid}\n{pgdata}\n1700000000\n5432\n")
        again = EmbeddedPostgres(pgdata)
        try:
            uri = await again.start()
            import psycopg

            async with await psycopg.AsyncConnection.connect(uri) as conn:
                assert (await (await conn.execute("select 1")).fetchone()) == (1,)
        finally:
            await again.stop()
    finally:
        squatter.kill()
        await squatter.wait()


async def test_a_server_that_cannot_start_names_the_cause_from_its_log(world_dir: Path) -> None:
    pgdata = world_dir / "postgres"
    server = EmbeddedPostgres(pgdata)
    await server.start()
    await server.stop()
    (pgdata / "postgresql.conf").write_text("shared_buffers = 'not a size'\n", encoding="utf-8")
    with pytest.raises(DatabaseStartError) as caught:
        await EmbeddedPostgres(pgdata).start()
    message = str(caught.value)
    assert "\n" not in message and "shared_buffers" in message and str(pgdata / "log") in message


# --- ports, sandbox, docker, permissions ------------------------------------------------


def test_mb_up_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = _mb("up", env=_env(tmp_path / "data", MB_CODEC_PORT=str(port)))
    _one_line_error(done, f"port {port}", "MB_CODEC_PORT")


def test_a_host_gateway_with_an_unusable_name_or_ca_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _mb("host-gateway", env=_env(data, MB_RUNTIME_HOST="Host_A"))
    _one_line_error(done, "'Host_A' cannot name a host gateway")
    DirectoryCaSource(data / "keys" / "gateway-ca").load()
    (data / "keys" / "gateway-ca" / "ca.key").chmod(0o644)
    done = _mb("host-gateway", env=_env(data, MB_RUNTIME_HOST="host-a"))
    _one_line_error(done, "ca.key is readable by others; chmod 600 it")


def test_bubblewrap_missing_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        find_bwrap(search_path=str(tmp_path))


@pytest.mark.parametrize("command", ["up", "worker"])
def test_an_unreachable_docker_engine_is_one_line_before_anything_starts(
    tmp_path: Path, command: str
) -> None:
    env = _env(
        tmp_path / "data",
        MB_RUNTIME="docker",
        DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock",
        MB_DATABASE_URL="postgresql:///unused?host=/nonexistent",
        MB_TEMPORAL_ADDRESS="127.0.0.1:1",
    )
    done = _mb(command, env=env)
    _one_line_error(done, "Docker Engine does not answer", "MB_RUNTIME=sandbox")
    assert not (tmp_path / "data" / "postgres").exists()


def _runtime_without_base(tmp_path: Path, base_image: str) -> DockerRuntime:
    runtime = DockerRuntime(
        tmp_path / "containers",
        host="h1",
        uids=TEST_UIDS,
        memory_mb=64,
        pids=16,
        cpu=0.5,
        base_image=base_image,
    )
    try:
        runtime.client.ping()
    except DockerUnavailable:
        pytest.fail("these tests need a Docker Engine (make docker-daemon)")
    return runtime


def test_a_missing_configured_base_image_is_refused_not_pulled(tmp_path: Path) -> None:
    runtime = _runtime_without_base(tmp_path, f"mb-test/absent-{uuid.uuid4().hex[:8]}:1")
    with pytest.raises(BaseImageMissing, match="is not on host h1: load it"):
        runtime.ensure_base_image(lambda _step: None)


def test_a_start_without_the_base_image_fails_at_once_and_for_good(tmp_path: Path) -> None:
    """A deployment retried a build whose FROM tried a registry pull until it timed out:
    the start now fails with an error the start activity never retries."""
    runtime = _runtime_without_base(tmp_path, f"mb-test/absent-{uuid.uuid4().hex[:8]}:1")
    env = PythonEnv(key=uuid.uuid4().hex * 2, path=tmp_path / "env")
    with pytest.raises(BaseImageMissing, match="docker pull/load") as caught:
        runtime._ensure_env_image(env)
    assert isinstance(caught.value, AppStartError)  # the start activity's non-retryable kind


@needs_root
def test_a_data_directory_the_user_cannot_write_is_one_line(world_dir: Path) -> None:
    data = world_dir / "data"
    data.mkdir(mode=0o700)  # root's, and the command runs as nobody
    done = _mb("up", env=_env(data), user=65534)
    _one_line_error(done, "permission denied", str(data))


def test_an_unforeseen_failure_is_one_line_and_its_traceback_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MB_DATA_DIR", str(tmp_path / "data"))

    async def broken() -> int:
        raise LookupError("the first line\nand a second one")

    with pytest.raises(typer.Exit) as exited:
        run(broken())
    assert exited.value.exit_code == 1
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert "unexpected LookupError: the first line (traceback in " in lines[0]
    report = Path(lines[0].rsplit("traceback in ", 1)[1].rstrip(")"))
    assert report.parent == tmp_path / "data" / "logs"
    assert "Traceback" in report.read_text() and "and a second one" in report.read_text()
