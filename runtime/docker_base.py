"""``mb runtime build-base``: a Python base image for the Docker runtime, made from
Debian packages on a machine that reaches no container registry.

The packages of a minimal Python 3.11 (the interpreter, its standard library and
the shared libraries they load, plus ``dash`` as ``/bin/sh``) are fetched with
``apt-get download``, unpacked with ``dpkg-deb -x`` (no maintainer scripts run),
given an ``/etc/passwd`` naming the app user, and imported as one layer with the
Docker Engine API. With a registry, ``MB_DOCKER_BASE_IMAGE=python:3.11-slim``
does as well.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_BASE_IMAGE = "microbuilder/python-base:bookworm-3.11"
PYTHON_VERSION = "3.11"
APP_UID = 65534

# The closure of python3.11's run-time dependencies on Debian 12 (bookworm).
PACKAGES = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "media-types",
    "tzdata",
    "libc6",
    "libgcc-s1",
    "libssl3",
    "zlib1g",
    "libffi8",
    "libexpat1",
    "libbz2-1.0",
    "liblzma5",
    "libsqlite3-0",
    "libreadline8",
    "libncursesw6",
    "libtinfo6",
    "libuuid1",
    "libdb5.3",
    "libnsl2",
    "libtirpc3",
    "libtirpc-common",
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libk5crypto3",
    "libcom-err2",
    "libkrb5support0",
    "libkeyutils1",
    "libcrypt1",
    "dash",
)

_ETC_PASSWD = f"root:x:0:0:root:/root:/bin/sh\napp:x:{APP_UID}:{APP_UID}:app:/tmp:/bin/sh\n"
_ETC_GROUP = f"root:x:0:\napp:x:{APP_UID}:\n"


class BaseImageError(RuntimeError):
    """The base image could not be built (the message says which step failed)."""


def build_rootfs(root: Path, download_dir: Path) -> None:
    """Unpack the packages into ``root`` (an empty directory)."""
    download_dir.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(
        ["apt-get", "download", *PACKAGES],
        cwd=download_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if fetched.returncode != 0:
        raise BaseImageError(f"apt-get download failed: {fetched.stderr.strip()[-800:]}")
    for deb in sorted(download_dir.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    (root / "bin" / "sh").unlink(missing_ok=True)
    (root / "bin" / "sh").symlink_to("dash")
    (root / "usr" / "bin" / "python3").symlink_to(f"python{PYTHON_VERSION}")
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text(_ETC_PASSWD)
    (etc / "group").write_text(_ETC_GROUP)
    for empty in ("tmp", "app", "data", "run/app", "env"):
        (root / empty).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    docs = root / "usr" / "share" / "doc"
    shutil.rmtree(docs, ignore_errors=True)


def rootfs_tar(root: Path) -> bytes:
    """The root filesystem as an uncompressed tar, owned by root (but ``/data``)."""
    buffer = io.BytesIO()

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        # /data starts the app's volume: Docker copies its owner into a new volume.
        owner = APP_UID if info.name == "data" else 0
        info.uid = info.gid = owner
        info.uname = info.gname = "app" if owner else "root"
        return info

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name, filter=owned_by_root)
    return buffer.getvalue()


def build_base_image(
    client: Any, tag: str = DEFAULT_BASE_IMAGE, say: Callable[[str], None] | None = None
) -> str:
    """Build the rootfs and import it as ``tag``; returns the image id. ``say`` hears
    each step as it starts."""
    tell = say or (lambda _step: None)
    repository, _, version = tag.rpartition(":")
    with tempfile.TemporaryDirectory(prefix="mb-base-") as scratch:
        root = Path(scratch) / "rootfs"
        root.mkdir()
        tell(f"downloading {len(PACKAGES)} Debian packages (apt-get download)")
        build_rootfs(root, Path(scratch) / "debs")
        tell("packing the root filesystem")
        data = rootfs_tar(root)
    tell(f"importing {tag} ({len(data) / 1e6:.0f} MB)")
    changes = [
        f'LABEL mb.python="{PYTHON_VERSION}"',
        "ENV PATH=/usr/bin:/bin LANG=C.UTF-8",
        f"USER {APP_UID}:{APP_UID}",
        "WORKDIR /app",
    ]
    client.api.import_image_from_data(
        data, repository=repository or tag, tag=version or "latest", changes=changes
    )
    image = client.images.get(tag)
    return str(image.id)
