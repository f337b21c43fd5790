"""Where every process gets its keys: one configured key source for all hosts.

A ``KeySource`` hands out the master key ring (secrets), the payload key ring
(Temporal codec), the evidence keys and the gateways' CA. Three ways to point
every host at the same keys:

- a directory laid out like ``<data dir>/keys`` (``MB_KEY_SOURCE_DIR``: a mounted
  Kubernetes or Docker secret); nothing is generated there, a missing key stops
  the process at start;
- the environment (``MB_MASTER_KEY``, ``MB_CODEC_KEY``, ``MB_EVIDENCE_PUBLIC_KEYS``,
  ``MB_GATEWAY_CA_CERT``/``_KEY``), each taking precedence over the source below it;
- a plug-in (``MB_KEY_SOURCE_PLUGIN=module:factory``, e.g. a KMS client): the
  factory takes the settings and returns a ``KeySource``.

Unconfigured, the embedded default is ``<data dir>/keys``, generated on first
start. The owners' erasure keys are files in the same directory in every case.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import SecretStr

from schemas.settings import Settings
from store.aes_keys import AesKeyRing, KeyDirectory, KeyMaterialError, load_ring
from store.gateway_ca import CaSource, DirectoryCaSource, GatewayCa, configured_ca_source
from store.keyring import EvidenceKeys, KeyRingError, PublicEvidenceKeys, SigningKeyRing, key_id

MASTER = "master"
CODEC = "codec"
EVIDENCE = "evidence"
GATEWAY_CA = "gateway-ca"


class KeySourceError(KeyMaterialError):
    """The configured key source cannot be used; the message says why, never a key."""


class KeySource(Protocol):
    """The keys of this deployment, the same on every host (a KMS implements this)."""

    def master_ring(self) -> AesKeyRing:
        """The master keys that wrap the secrets' data keys."""
        ...

    def codec_ring(self) -> AesKeyRing:
        """The Temporal payload keys."""
        ...

    def evidence_keys(self) -> EvidenceKeys:
        """The keys that verify (and, where held, sign) QA evidence."""
        ...

    def gateway_ca(self) -> GatewayCa:
        """The gateways' CA."""
        ...


class DirectoryKeySource:
    """``master/``, ``codec/``, ``evidence/`` and ``gateway-ca/`` under one directory;
    ``create`` generates what is missing (the embedded ``<data dir>/keys`` only)."""

    def __init__(self, root: Path, *, create: bool) -> None:
        self.root = root
        self.create = create

    def master_ring(self) -> AesKeyRing:
        """``<root>/master``."""
        return KeyDirectory(self.root / MASTER, MASTER).load(create=self.create)

    def codec_ring(self) -> AesKeyRing:
        """``<root>/codec``."""
        return KeyDirectory(self.root / CODEC, CODEC).load(create=self.create)

    def evidence_keys(self) -> EvidenceKeys:
        """``<root>/evidence``: public keys (``<kid>.pub``), the signing key where held."""
        return SigningKeyRing(self.root / EVIDENCE, create=self.create)

    def gateway_ca(self) -> GatewayCa:
        """``<root>/gateway-ca``."""
        return DirectoryCaSource(self.root / GATEWAY_CA, create=self.create).load()


class EnvironmentKeySource:
    """The keys the environment sets, each in front of ``fallback``'s."""

    def __init__(self, settings: Settings, fallback: KeySource) -> None:
        self._settings = settings
        self._fallback = fallback

    def master_ring(self) -> AesKeyRing:
        """``MB_MASTER_KEY`` (+ ``MB_MASTER_KEY_PREVIOUS``), else the fallback's."""
        s = self._settings
        return _ring(MASTER, s.master_key, s.master_key_previous, self._fallback.master_ring)

    def codec_ring(self) -> AesKeyRing:
        """``MB_CODEC_KEY`` (+ ``MB_CODEC_KEY_PREVIOUS``), else the fallback's."""
        s = self._settings
        return _ring(CODEC, s.codec_key, s.codec_key_previous, self._fallback.codec_ring)

    def evidence_keys(self) -> EvidenceKeys:
        """``MB_EVIDENCE_PUBLIC_KEYS`` (verify only), else the fallback's."""
        text = self._settings.evidence_public_keys
        if text is None:
            return self._fallback.evidence_keys()
        return PublicEvidenceKeys(parse_public_keys(text), "MB_EVIDENCE_PUBLIC_KEYS")

    def gateway_ca(self) -> GatewayCa:
        """``MB_GATEWAY_CA_CERT``/``_KEY`` or ``MB_GATEWAY_CA_DIR``, else the fallback's."""
        configured = configured_ca_source(self._settings)
        return configured.load() if configured is not None else self._fallback.gateway_ca()


def _ring(
    purpose: str,
    current: SecretStr | None,
    previous: SecretStr | None,
    fallback: Callable[[], AesKeyRing],
) -> AesKeyRing:
    env_name = f"MB_{purpose.upper()}_KEY"
    return load_ring(
        purpose, current=current, previous=previous, env_name=env_name, fallback=fallback
    )


def parse_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """Comma-separated base64 raw Ed25519 public keys, by key id."""
    keys: dict[str, Ed25519PublicKey] = {}
    for i, entry in enumerate(part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(entry, validate=True))
        except (binascii.Error, ValueError):
            raise KeySourceError(
                f"MB_EVIDENCE_PUBLIC_KEYS entry {i + 1} is not base64 of a raw 32-byte"
                " Ed25519 public key"
            ) from None
        keys[key_id(public)] = public
    return keys


def _plugin(spec: str) -> Callable[[Settings], KeySource]:
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise KeySourceError(f"MB_KEY_SOURCE_PLUGIN {spec!r} cannot be loaded: {err}") from None
    if not callable(factory):
        raise KeySourceError(f"MB_KEY_SOURCE_PLUGIN {spec!r} is not callable")
    return factory  # type: ignore[no-any-return]


def key_source(settings: Settings) -> KeySource:
    """The environment's keys in front of the plug-in's, or of the key directory's
    (``MB_KEY_SOURCE_DIR``, else ``<data dir>/keys`` where missing keys are generated)."""
    base: KeySource
    if settings.key_source_plugin is not None:
        base = _plugin(settings.key_source_plugin)(settings)
    else:
        base = DirectoryKeySource(settings.keys_path, create=settings.generates_keys)
    return EnvironmentKeySource(settings, base)


def gateway_ca_source(settings: Settings) -> CaSource:
    """The gateways' CA as a ``CaSource``: the one the environment names, else the key
    source's (read at each load)."""
    configured = configured_ca_source(settings)
    return configured if configured is not None else _SourcedCa(key_source(settings))


class _SourcedCa:
    def __init__(self, source: KeySource) -> None:
        self._source = source

    def load(self) -> GatewayCa:
        return self._source.gateway_ca()


def check_key_source(settings: Settings, *, evidence: bool) -> None:
    """Load every key a process needs at start, so a missing or bad key stops it there
    with the reason (``evidence``: the workers, which verify releases before starting them).
    """
    source = key_source(settings)
    source.master_ring()
    source.codec_ring()
    source.gateway_ca()
    if evidence:
        try:
            source.evidence_keys().check()
        except KeyRingError as err:
            raise KeySourceError(str(err)) from None


class _NotSet(Exception):
    pass


class _NothingBelow:
    """Below the environment: nothing (so only what the environment sets is read)."""

    def master_ring(self) -> AesKeyRing:
        raise _NotSet

    def codec_ring(self) -> AesKeyRing:
        raise _NotSet

    def evidence_keys(self) -> EvidenceKeys:
        raise _NotSet

    def gateway_ca(self) -> GatewayCa:
        raise _NotSet


def check_environment_keys(settings: Settings) -> None:
    """Refuse a malformed key the environment sets, reading and generating nothing else."""
    source = EnvironmentKeySource(settings, _NothingBelow())
    for load in (source.master_ring, source.codec_ring, source.evidence_keys, source.gateway_ca):
        with contextlib.suppress(_NotSet):
            load()


def would_generate_keys(settings: Settings) -> bool:
    """Whether starting now would generate a fresh payload key ring (the embedded key
    directory, no key in the environment, and no ring there yet)."""
    return (
        settings.generates_keys
        and settings.codec_key is None
        and not (settings.keys_path / CODEC / "current").exists()
    )


def refuse_keyless_join(settings: Settings, registered_hosts: Collection[str]) -> None:
    """Refuse a host that would generate its own keys while other hosts already run:
    it could decrypt none of their payloads and verify none of their evidence."""
    others = sorted(set(registered_hosts) - {settings.runtime_host})
    if others and would_generate_keys(settings):
        raise KeySourceError(
            f"runtime host {settings.runtime_host!r} has no keys ({settings.keys_path} is empty)"
            f" and the platform already runs on {', '.join(others)}: point MB_KEY_SOURCE_DIR"
            " at the shared key directory (or set the keys in the environment, see README"
            " 'Keys on every host'); no key was generated"
        )
