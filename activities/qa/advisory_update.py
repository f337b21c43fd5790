"""Refreshing the offline advisory database from an OSV dump (``mb advisories update``):
downloaded with a size cap, every member checked to be an OSV JSON record, unpacked
beside the target and swapped in atomically, so a failed refresh keeps the old one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import httpx

from activities.qa.advisories import MAX_RECORDS, parse_advisory
from runtime.locks import file_lock

log = logging.getLogger(__name__)

DEFAULT_ADVISORY_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024


class AdvisoryUpdateError(RuntimeError):
    """A refresh failed (download, verification or unpacking); the previous copy is intact."""


async def update_advisories(
    url: str,
    target: Path,
    *,
    timeout_s: float = 600.0,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> int:
    """Download an OSV zip of JSON records and install it at ``target``; returns the count.

    The download is verified (a zip whose every member is a valid OSV JSON
    record) and unpacked into a new directory next to ``target``, which then
    replaces the previous copy in one step (``target`` becomes a symbolic link
    to the new directory). On any failure — HTTP error, timeout, oversized or
    corrupt download, invalid record — AdvisoryUpdateError is raised and the
    previous copy is untouched.
    """
    parent = target.parent
    await asyncio.to_thread(parent.mkdir, parents=True, exist_ok=True)
    async with file_lock(parent / f".{target.name}.lock"):
        fd, tmp_name = await asyncio.to_thread(
            tempfile.mkstemp, prefix=f".{target.name}.download-", suffix=".zip", dir=parent
        )
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    async with asyncio.timeout(timeout_s):
                        await _download(url, out, max_bytes)
                except TimeoutError:
                    raise AdvisoryUpdateError(
                        f"downloading {url} timed out after {timeout_s:.0f} s"
                    ) from None
            return await asyncio.to_thread(_install_zip, tmp, target)
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)


async def _download(url: str, out: BinaryIO, max_bytes: int) -> None:
    try:
        async with (
            httpx.AsyncClient(follow_redirects=True, timeout=60.0) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise AdvisoryUpdateError(f"downloading {url}: HTTP {response.status_code}")
            total = 0
            async for chunk in response.aiter_bytes(1024 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise AdvisoryUpdateError(f"downloading {url}: larger than {max_bytes} bytes")
                await asyncio.to_thread(out.write, chunk)
    except httpx.HTTPError as exc:
        raise AdvisoryUpdateError(f"downloading {url}: {exc!r}") from None


def _install_zip(archive: Path, target: Path) -> int:
    """Verify the zip, unpack it beside ``target`` and swap it in; returns the record count."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.v-", dir=target.parent))
    try:
        count = _unpack_records(archive, staging)
        staging.chmod(0o755)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count


def _unpack_records(archive: Path, staging: Path) -> int:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            _check_members(members)
            for info in members:
                data = zf.read(info)  # verifies the member's CRC
                try:
                    advisory = parse_advisory(json.loads(data))
                except ValueError as exc:
                    raise AdvisoryUpdateError(
                        f"{info.filename} is not an OSV record: {exc}"
                    ) from None
                if not advisory.id:
                    raise AdvisoryUpdateError(f"{info.filename} has no id")
                (staging / info.filename).write_bytes(data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
        raise AdvisoryUpdateError(f"the download is not a valid zip: {exc}") from None
    return len(members)


def _check_members(members: Iterable[zipfile.ZipInfo]) -> None:
    count = total = 0
    for info in members:
        count += 1
        total += info.file_size
        name = info.filename
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".json"):
            raise AdvisoryUpdateError(f"unexpected member {name!r}: expected flat *.json records")
    if count == 0:
        raise AdvisoryUpdateError("the zip holds no advisories")
    if count > MAX_RECORDS or total > MAX_UNPACKED_BYTES:
        raise AdvisoryUpdateError(f"the zip is too large ({count} members, {total} bytes)")


def _swap_in(new_dir: Path, target: Path) -> None:
    """Point ``target`` at ``new_dir`` in one rename; remove the previous copy."""
    parent = target.parent
    link = parent / f".{target.name}.link-{uuid.uuid4().hex}"
    os.symlink(new_dir.name, link)
    previous: Path | None = None
    if target.is_symlink():
        previous = parent / os.readlink(target)
    elif target.exists():
        # A plain directory cannot be replaced by a link in one step: move it aside first.
        previous = parent / f".{target.name}.old-{uuid.uuid4().hex}"
        target.rename(previous)
    os.replace(link, target)
    ours = re.compile(rf"^\.{re.escape(target.name)}\.(v|old)-")
    if previous is not None and previous.parent == parent and ours.match(previous.name):
        shutil.rmtree(previous, ignore_errors=True)
