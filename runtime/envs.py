"""Virtualenvs for bundles, built outside the sandbox and cached by their resolved pins.

A bundle's ``requirements.txt`` plus the platform's own packages (pytest and
friends for the QA gate, uvicorn to serve the app) are resolved to exact
pins with uv; the environment's key is the SHA-256 of the Python version and
those pins. Two bundles with the same resolution share one environment, so the
second deploy of a similar app installs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from uv import find_uv_bin

from runtime.base import PythonEnv
from runtime.locks import file_lock

log = logging.getLogger(__name__)

PLATFORM_REQUIREMENTS = (
    "pytest>=8",
    "pytest-json-report>=1.5",
    "httpx>=0.27",
    "uvicorn>=0.30",
    "mutmut>=3.8,<4",
    "hypothesis>=6.100",
    "schemathesis>=4,<5",
)
"""Installed into every bundle environment: the QA gate's tools and the app server.

The tools run inside the sandbox with the bundle's own interpreter, because
running them means running the bundle's (untrusted) code.
"""


class RequirementsError(ValueError):
    """A requirements file the platform refuses or cannot resolve; the message says why."""


class EnvBuildError(RuntimeError):
    """Building an environment failed for a reason other than the bundle (retryable)."""


def base_python() -> Path:
    """The interpreter environments are built from (this installation's base Python)."""
    executable = getattr(sys, "_base_executable", None) or sys.executable
    return Path(executable).resolve()


def parse_requirements(text: str) -> list[str]:
    """Validate a bundle's requirements: plain PyPI specifiers only, normalised.

    Options (``-e``, ``--index-url``, ``-r``), direct URLs and local paths are
    refused: a bundle must not point the installer at arbitrary code.
    """
    result: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise RequirementsError(
                f"requirements.txt line {lineno}: options such as {line.split()[0]!r} "
                "are not allowed"
            )
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise RequirementsError(f"requirements.txt line {lineno}: {exc}") from None
        if req.url:
            raise RequirementsError(
                f"requirements.txt line {lineno}: direct references ({req.name} @ ...) "
                "are not allowed"
            )
        result.append(str(req))
    return sorted(set(result))


class EnvBuilder:
    """Resolves, builds and caches bundle environments under ``root``."""

    def __init__(
        self,
        root: Path,
        *,
        python: Path | None = None,
        resolution_ttl_s: float = 3600.0,
        timeout_s: float = 600.0,
    ) -> None:
        self.root = root
        self.python = python or base_python()
        self.resolution_ttl_s = resolution_ttl_s
        self.timeout_s = timeout_s
        self._uv = find_uv_bin()
        self.builds = 0
        """How many environments this builder actually installed (cache misses)."""

    @property
    def python_version(self) -> str:
        """``major.minor.micro`` of the base interpreter (part of every key)."""
        return ".".join(str(v) for v in sys.version_info[:3])

    async def ensure(self, requirements_txt: str) -> PythonEnv:
        """Return the environment for these requirements, building it if needed."""
        pins = await self.resolve(requirements_txt)
        key = hashlib.sha256(
            "\n".join([f"python=={self.python_version}", *pins]).encode()
        ).hexdigest()
        env = PythonEnv(key=key, path=self.root / key)
        if self._complete(env):
            return env
        async with file_lock(self.root / f".env-{key}.lock", poll_s=0.1):
            if not self._complete(env):
                await self._build(env, pins)
        return env

    async def resolve(self, requirements_txt: str) -> list[str]:
        """Exact pins for the bundle's requirements plus the platform's, cached for a while."""
        wanted = sorted(set(parse_requirements(requirements_txt)) | set(PLATFORM_REQUIREMENTS))
        digest = hashlib.sha256(
            "\n".join([f"python=={self.python_version}", *wanted]).encode()
        ).hexdigest()
        cache = self.root / "resolutions" / f"{digest}.txt"
        if cache.exists() and time.time() - cache.stat().st_mtime < self.resolution_ttl_s:
            return cache.read_text().split()
        try:
            out = await self._uv_run(
                "pip",
                "compile",
                "-",
                "--python-version",
                ".".join(self.python_version.split(".")[:2]),
                "--no-header",
                "--no-annotate",
                "--quiet",
                stdin="\n".join(wanted) + "\n",
                what="resolving requirements",
                bundle_fault=True,
            )
        except EnvBuildError:
            if not cache.exists():
                raise
            # The index is unreachable: an older resolution of the same requirements
            # still names an environment we may already have (e.g. restarting live apps).
            log.warning("package index unreachable; using the previous resolution")
            return cache.read_text().split()
        pins = sorted(line.strip() for line in out.splitlines() if "==" in line)
        if not pins:
            raise EnvBuildError("resolution returned no pins")
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("\n".join(pins) + "\n")
        tmp.replace(cache)
        return pins

    def _complete(self, env: PythonEnv) -> bool:
        return (env.path / ".mb-complete").exists()

    async def _build(self, env: PythonEnv, pins: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".build-{env.key[:12]}-", dir=self.root))
        try:
            await self._uv_run(
                "venv",
                "--quiet",
                "--relocatable",
                "--python",
                str(self.python),
                str(staging),
                what="creating the virtualenv",
            )
            await self._uv_run(
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--python",
                str(staging / "bin" / "python"),
                "-r",
                "-",
                stdin="\n".join(pins) + "\n",
                what="installing dependencies",
                bundle_fault=True,
            )
            _make_world_readable(staging)
            (staging / ".mb-complete").write_text("\n".join(pins) + "\n")
            if env.path.exists():
                shutil.rmtree(env.path)
            staging.rename(env.path)
            self.builds += 1
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    async def _uv_run(
        self, *args: str, stdin: str | None = None, what: str, bundle_fault: bool = False
    ) -> str:
        proc = await asyncio.create_subprocess_exec(
            self._uv,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**_uv_environment(), "UV_PYTHON_DOWNLOADS": "never"},
        )
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(stdin.encode() if stdin is not None else None),
                timeout=self.timeout_s,
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise EnvBuildError(f"{what} timed out after {self.timeout_s:.0f} s") from None
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip().splitlines()[-12:]
            message = f"{what} failed: " + "\n".join(detail)
            # A resolution failure is the bundle's fault unless uv could not reach the index.
            network = any(w in message.lower() for w in ("connect", "timed out", "dns", "network"))
            if bundle_fault and not network:
                raise RequirementsError(message)
            raise EnvBuildError(message)
        return out.decode()


def _uv_environment() -> dict[str, str]:
    """The host environment minus our own configuration (no MB_* values reach uv)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MB_")}


def _make_world_readable(root: Path) -> None:
    """The sandbox runs as an unprivileged user: it must read (never write) the env."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)  # noqa: S103
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, (mode | 0o444) & ~0o022)
