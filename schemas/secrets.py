"""Secrets as the API and the CLI see them: names and versions, values only on reveal."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

SECRET_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
MAX_SECRET_BYTES = 64 * 1024


def validate_secret_name(name: str) -> str:
    """Environment-variable style names: ``[A-Z_][A-Z0-9_]{0,63}``."""
    if not SECRET_NAME.fullmatch(name):
        raise ValueError(
            "a secret name is 1-64 characters of A-Z, 0-9 and _, not starting with a digit"
        )
    return name


def validate_secret_value(value: str) -> str:
    """At most 64 KiB of UTF-8 and no NUL (values become environment variables)."""
    if "\0" in value:
        raise ValueError("a secret value cannot contain a NUL character")
    size = len(value.encode())
    if size > MAX_SECRET_BYTES:
        raise ValueError(f"a secret value is at most {MAX_SECRET_BYTES} bytes; this one is {size}")
    return value


class SetSecretBody(BaseModel):
    """``PUT /v1/apps/{app}/secrets/{name}``."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="at most 64 KiB of UTF-8; never echoed back")

    @field_validator("value")
    @classmethod
    def _value(cls, v: str) -> str:
        return validate_secret_value(v)


class SecretInfo(BaseModel):
    """A secret's name and latest version; never its value."""

    name: str
    version: int
    size: int
    updated_at: datetime
    updated_by: str


class SecretValue(BaseModel):
    """The owner's explicit reveal."""

    name: str
    version: int
    value: str
