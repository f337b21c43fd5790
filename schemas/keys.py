"""Master key rotation: the workflow's input, its batches and its result."""

from __future__ import annotations

from pydantic import BaseModel, Field


class KeyRotationInput(BaseModel):
    """Rewrap every data key under ``target_key_id``, then retire the keys left unused."""

    target_key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    requested_by: str = Field(min_length=1, max_length=200)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    rewrapped_so_far: int = Field(default=0, ge=0, description="carried across continue-as-new")


class RewrapBatchInput(BaseModel):
    """One batch of the rotation."""

    target_key_id: str
    batch_size: int
    requested_by: str


class RewrapBatchResult(BaseModel):
    """How many data keys this batch rewrapped, and how many still use another key."""

    rewrapped: int
    remaining: int


class RetireKeysInput(BaseModel):
    """Retire every master key except ``keep`` that no data key uses any more."""

    keep: str
    requested_by: str


class RetireKeysResult(BaseModel):
    """The master keys retired by this call."""

    retired: list[str]


class KeyRotationResult(BaseModel):
    """A finished rotation."""

    target_key_id: str
    rewrapped: int
    retired: list[str]


class KeyRotationStatus(BaseModel):
    """Query ``status`` of the rotation workflow."""

    target_key_id: str
    rewrapped: int
    remaining: int | None
    retired: list[str] = []
    done: bool = False
