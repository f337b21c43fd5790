"""Bundle virtualenvs: refused requirements, caching by resolved pins, offline fallback."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from runtime.envs import EnvBuilder, EnvBuildError, RequirementsError, parse_requirements


@pytest.mark.parametrize(
    "line",
    [
        "-e .",
        "--index-url http://127.0.0.1:1/simple",
        "-r other.txt",
        "evil @ https://example.invalid/evil.whl",
        "evil @ file:///etc/passwd",
        "not a requirement!!",
    ],
)
def test_requirements_that_point_elsewhere_are_refused(line: str) -> None:
    with pytest.raises(RequirementsError, match="line 2"):
        parse_requirements(f"fastapi\n{line}\n")


def test_requirements_are_normalised() -> None:
    assert parse_requirements("# comment\nFastAPI >=0.110  # web\n\nfastapi>=0.110\n") == [
        "FastAPI>=0.110",
        "fastapi>=0.110",
    ]


async def test_similar_apps_share_one_environment(tmp_path: Path) -> None:
    builder = EnvBuilder(tmp_path / "envs")
    first = await builder.ensure("fastapi>=0.110\n")
    second = await builder.ensure("# another app, same needs\nfastapi>=0.110  \n")
    assert second.path == first.path
    assert builder.builds == 1  # the second deploy installed nothing
    out = subprocess.run(
        [str(first.python), "-c", "import fastapi, pytest, uvicorn, httpx; print('ok')"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "ok"
    # The sandbox user (not the owner) must be able to read and run it, never write it.
    for dirpath, _dirs, files in os.walk(first.path):
        mode = os.stat(dirpath).st_mode
        assert mode & stat.S_IROTH and mode & stat.S_IXOTH and not mode & stat.S_IWOTH, dirpath
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                assert os.stat(path).st_mode & stat.S_IROTH, path


async def test_unresolvable_requirements_are_the_bundles_fault(tmp_path: Path) -> None:
    builder = EnvBuilder(tmp_path / "envs")
    with pytest.raises(RequirementsError, match="resolving requirements failed"):
        await builder.ensure("fastapi==0.0.0.0.1\n")


async def test_an_unreachable_index_falls_back_to_the_last_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = EnvBuilder(tmp_path / "envs", resolution_ttl_s=60)
    pins = await builder.resolve("fastapi>=0.110\n")
    for cached in (tmp_path / "envs" / "resolutions").iterdir():
        old = time.time() - 3600
        os.utime(cached, (old, old))  # stale: would normally re-resolve
    # A closed port on loopback stands in for an unreachable package index.
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_NO_CACHE", "1")
    assert await builder.resolve("fastapi>=0.110\n") == pins
    with pytest.raises(EnvBuildError):
        await builder.resolve("starlette>=0.30\n")  # never resolved before: no fallback
