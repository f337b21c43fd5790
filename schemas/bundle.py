"""The app bundle: the unit of code that is generated, QA-gated and deployed.

A bundle is a small tree of text files:

- ``main.py`` exposing the ASGI ``app`` (or the manifest's ``entrypoint``),
- ``requirements.txt`` with the app's dependencies,
- ``tests/test_*.py``, pytest tests that import ``main``,
- optionally ``microapp.toml`` (name, entrypoint, health path, secret names, the
  ``host:port`` pairs it reaches through the egress proxy).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.egress import DeclaredEgress

MAX_BUNDLE_FILES = 200
MAX_FILE_BYTES = 512 * 1024
MAX_BUNDLE_BYTES = 2 * 1024 * 1024

_ENTRYPOINT = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
)
_SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class AppManifest(BaseModel):
    """The optional ``microapp.toml`` of a bundle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="app", min_length=1, max_length=80)
    entrypoint: str = Field(default="main:app", description="module:attribute of the ASGI app")
    health_path: str = Field(default="/health", description="GET path answering 2xx when healthy")
    secrets: tuple[str, ...] = Field(default=(), description="secret names injected as env vars")
    egress: DeclaredEgress = Field(
        default=(),
        description="host:port pairs the app reaches through the egress proxy "
        "(names only, a leading '*.' label at most; approved per app by an operator)",
    )

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint_shape(cls, value: str) -> str:
        if not _ENTRYPOINT.match(value):
            raise ValueError("entrypoint must look like 'module:attribute'")
        return value

    @field_validator("health_path")
    @classmethod
    def _health_path_shape(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in " \r\n\t?#"):
            raise ValueError("health_path must be an absolute URL path without query")
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _SECRET_NAME.match(name):
                raise ValueError(f"secret name {name!r} must be UPPER_SNAKE_CASE")
        return value


class BundleFile(BaseModel):
    """One text file of a bundle, at a relative POSIX path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=MAX_FILE_BYTES)

    @field_validator("path")
    @classmethod
    def _safe_relative_path(cls, value: str) -> str:
        pure = PurePosixPath(value)
        if pure.is_absolute() or "\\" in value or value != pure.as_posix():
            raise ValueError(f"bundle path {value!r} must be a normalised relative POSIX path")
        if any(part in ("", ".", "..") or part.startswith(".") for part in pure.parts):
            raise ValueError(f"bundle path {value!r} must not contain '.', '..' or hidden parts")
        if not re.fullmatch(r"[A-Za-z0-9_./-]+", value):
            raise ValueError(f"bundle path {value!r} has characters outside [A-Za-z0-9_./-]")
        return value


class AppBundle(BaseModel):
    """A complete app bundle: manifest plus files (sorted by path)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    manifest: AppManifest = AppManifest()
    files: tuple[BundleFile, ...]

    @model_validator(mode="after")
    def _complete_and_bounded(self) -> AppBundle:
        paths = [f.path for f in self.files]
        if len(paths) != len(set(paths)):
            raise ValueError("bundle has duplicate paths")
        if len(paths) > MAX_BUNDLE_FILES:
            raise ValueError(f"bundle has {len(paths)} files; the limit is {MAX_BUNDLE_FILES}")
        total = sum(len(f.content.encode()) for f in self.files)
        if total > MAX_BUNDLE_BYTES:
            raise ValueError(f"bundle is {total} bytes; the limit is {MAX_BUNDLE_BYTES}")
        module = self.manifest.entrypoint.split(":")[0].replace(".", "/") + ".py"
        required = {module, "requirements.txt"}
        missing = sorted(required - set(paths))
        if missing:
            raise ValueError(f"bundle is missing {', '.join(missing)}")
        if not any(PurePosixPath(p).match("tests/test_*.py") for p in paths):
            raise ValueError("bundle has no tests/test_*.py")
        if paths != sorted(paths):
            raise ValueError("bundle files must be sorted by path")
        return self

    def file(self, path: str) -> str | None:
        """Return the content of ``path``, or None when the bundle lacks it."""
        for f in self.files:
            if f.path == path:
                return f.content
        return None
