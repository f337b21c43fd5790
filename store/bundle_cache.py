"""Bundles by hash: stored in the artifact store, materialised on local disk when needed."""

from __future__ import annotations

from pathlib import Path

from schemas.bundle import AppBundle
from store.artifacts import ArtifactStore
from store.bundles import bundle_bytes, bundle_from_bytes, write_bundle


class BundleCache:
    """Put bundles into the artifact store; check them out as directories on this host."""

    def __init__(self, artifacts: ArtifactStore, root: Path) -> None:
        self._artifacts = artifacts
        self._root = root

    async def put(self, bundle: AppBundle) -> str:
        """Store a bundle; returns its hash (the same as ``store.bundles.bundle_hash``)."""
        return await self._artifacts.put("bundle", bundle_bytes(bundle))

    async def load(self, digest: str) -> AppBundle:
        """The bundle stored under ``digest``."""
        return bundle_from_bytes(await self._artifacts.get(digest))

    async def checkout(self, digest: str) -> tuple[Path, AppBundle]:
        """The bundle and a read-only-by-convention directory holding its files."""
        bundle = await self.load(digest)
        return write_bundle(bundle, self._root / digest), bundle
