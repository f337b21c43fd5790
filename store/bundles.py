"""Reading, hashing and writing app bundles.

The canonical form of a bundle is its JSON serialisation with files sorted by
path; its SHA-256 is the bundle's identity in the artifact store and the only
thing about it that travels through workflow history.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from schemas.bundle import MAX_BUNDLE_FILES, MAX_FILE_BYTES, AppBundle, AppManifest, BundleFile
from schemas.text import first_control_character

MANIFEST_FILE = "microapp.toml"
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".git", ".venv", "mutants", ".hypothesis"}


class BundleError(ValueError):
    """A bundle that cannot be read or is malformed; the message says why."""


def make_bundle(files: dict[str, str] | Iterable[BundleFile]) -> AppBundle:
    """Build a validated bundle from path -> content; reads ``microapp.toml`` if present."""
    try:
        items = (
            [BundleFile(path=p, content=c) for p, c in files.items()]
            if isinstance(files, dict)
            else list(files)
        )
        items.sort(key=lambda f: f.path)
        for item in items:
            problem = first_control_character(item.content)
            if problem is not None:
                raise BundleError(
                    f"{item.path}: contains {problem}; only tab, newline and carriage return"
                    " are allowed in bundle text"
                )
        manifest_text = next((f.content for f in items if f.path == MANIFEST_FILE), None)
        manifest = parse_manifest(manifest_text) if manifest_text is not None else AppManifest()
        return AppBundle(manifest=manifest, files=tuple(items))
    except ValidationError as exc:
        raise BundleError(_first_error(exc)) from None


def parse_manifest(text: str) -> AppManifest:
    """Parse ``microapp.toml``: top-level keys name, entrypoint, health_path, secrets, egress."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BundleError(f"{MANIFEST_FILE}: {exc}") from None
    for key in ("secrets", "egress"):
        if isinstance(data.get(key), list):
            data[key] = tuple(data[key])
    try:
        return AppManifest.model_validate(data)
    except ValidationError as exc:
        raise BundleError(f"{MANIFEST_FILE}: {_first_error(exc)}") from None


def load_bundle_dir(root: Path) -> AppBundle:
    """Read a bundle from a directory (skipping caches, venvs and hidden files)."""
    if not root.is_dir():
        raise BundleError(f"{root} is not a directory")
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_symlink():
            raise BundleError(f"{rel}: symbolic links are not allowed in a bundle")
        if not path.is_file():
            continue
        if len(files) >= MAX_BUNDLE_FILES:
            raise BundleError(f"bundle has more than {MAX_BUNDLE_FILES} files")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise BundleError(f"{rel}: larger than {MAX_FILE_BYTES} bytes")
        try:
            files[rel.as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise BundleError(f"{rel}: not UTF-8 text") from None
    return make_bundle(files)


def bundle_bytes(bundle: AppBundle) -> bytes:
    """The canonical serialisation (stable across processes and versions of this code)."""
    return bundle.model_dump_json().encode()


def bundle_hash(bundle: AppBundle) -> str:
    """SHA-256 hex of the canonical serialisation: the bundle's identity."""
    return hashlib.sha256(bundle_bytes(bundle)).hexdigest()


def bundle_from_bytes(data: bytes) -> AppBundle:
    """Inverse of :func:`bundle_bytes`."""
    return AppBundle.model_validate_json(data)


def write_bundle(bundle: AppBundle, target: Path) -> Path:
    """Materialise a bundle as files under ``target`` (atomically; idempotent).

    Files are world-readable so an unprivileged sandbox user can read them.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        for f in bundle.files:
            dest = staging / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(f.content, encoding="utf-8")
        for dirpath, dirnames, filenames in os.walk(staging):
            os.chmod(dirpath, 0o755)  # noqa: S103 - sandbox user must read the code
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
            del dirnames
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # lost a race to another writer: theirs is identical
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg
