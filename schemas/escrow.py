"""Key escrow: the plaintext document inside an escrow file, and what an import did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr

ESCROW_FORMAT = "mb-key-escrow/1"

# Key material: hidden from repr and logs, written out only into the (encrypted) JSON.
KeyText = Annotated[
    SecretStr, PlainSerializer(lambda v: v.get_secret_value(), return_type=str, when_used="json")
]
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
OwnerKeyName = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]


class AesRingEscrow(BaseModel):
    """An AES key ring: base64 keys by id, and the current id."""

    model_config = ConfigDict(extra="forbid")

    current: KeyId
    keys: dict[KeyId, KeyText] = Field(min_length=1)


class SigningRingEscrow(BaseModel):
    """The evidence signing ring: PKCS#8 PEM private keys by id, and the current id."""

    model_config = ConfigDict(extra="forbid")

    current: KeyId | None = None
    keys: dict[KeyId, KeyText] = Field(default_factory=dict)


class KeyEscrow(BaseModel):
    """Everything in ``<data dir>/keys`` that data depends on (the plaintext of an escrow)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["mb-key-escrow/1"] = "mb-key-escrow/1"
    created_at: datetime
    master: AesRingEscrow
    codec: AesRingEscrow
    evidence: SigningRingEscrow
    owners: dict[OwnerKeyName, KeyText] = Field(
        default_factory=dict, description="owners' erasure keys by key name"
    )
    erased: list[OwnerKeyName] = Field(
        default_factory=list, description="key names shredded by erasure before this escrow"
    )


class EscrowImport(BaseModel):
    """What ``mb keys import`` wrote (counts and names, never key material)."""

    created_at: datetime = Field(description="when the escrow was made")
    added: dict[str, int] = Field(description="keys written per ring")
    already_present: dict[str, int]
    skipped_erased: int = Field(description="owner keys not restored: erased since")
    current_kept: list[str] = Field(
        default_factory=list, description="rings whose existing current key was kept"
    )
