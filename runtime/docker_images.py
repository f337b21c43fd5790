"""The Docker runtime's images: the base image a worker builds on its first start, an
image per bundle environment (``mb-env:<hash>`` of the env key and the image's layout:
the environment's installed packages, prepared on the host, over the base) and one per release
(``mb-app-<app>:<hash>``: the bundle over its environment image), built without
network access; and the pruning that keeps a few releases' images for fast rollbacks.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.base import PythonEnv
from runtime.docker_base import APP_UID, DEFAULT_BASE_IMAGE, build_base_image
from runtime.errors import AppStartError, BaseImageMissing, DockerUnavailable, SandboxStartError

LABEL = "io.microbuilder"
ENV_MOUNT = "/env/site-packages"
"""Where an environment image holds its packages (the container adds it as a site dir)."""


class DockerImages:
    """Image building for :class:`runtime.docker.DockerRuntime` (a mixin: it uses the
    runtime's ``client``, ``base_image``, ``host`` and ``keep_releases``). Blocking."""

    client: Any
    base_image: str
    host: str
    keep_releases: int

    def ensure_base_image(self, say: Callable[[str], None]) -> bool:
        """Build the default base image when this engine lacks it (a worker's first
        start); returns whether it built. A configured image that is missing cannot be
        made here: :class:`BaseImageMissing` says how to get it."""
        if self._image_exists(self.base_image):
            return False
        if self.base_image != DEFAULT_BASE_IMAGE:
            raise BaseImageMissing(self._missing_base_message())
        say(f"building the Docker base image {self.base_image} (first start, about a minute)")
        build_base_image(self.client, self.base_image, say)
        return True

    def _missing_base_message(self) -> str:
        if self.base_image == DEFAULT_BASE_IMAGE:
            fix = "run `mb runtime build-base` (or restart the worker, which builds it)"
        else:
            fix = f"load it into this engine (docker pull/load {self.base_image})"
        return f"the Docker base image {self.base_image} is not on host {self.host}: {fix}"

    def _ensure_env_image(self, env: PythonEnv) -> str:
        dockerfile = f"FROM {self.base_image}\nCOPY site-packages {ENV_MOUNT}\n"
        # The tag covers how the image is laid out, not only what it holds: an image an
        # earlier layout built is never taken for this one's.
        recipe = hashlib.sha256(f"{env.key}\0{dockerfile}".encode()).hexdigest()
        tag = f"mb-env:{recipe[:24]}"
        if self._image_exists(tag):
            return tag
        if not self._image_exists(self.base_image):
            raise BaseImageMissing(self._missing_base_message())
        site = _site_packages(env)
        with tempfile.TemporaryDirectory(prefix="mb-env-build-") as ctx:
            shutil.copytree(site, Path(ctx) / "site-packages", symlinks=True)
            (Path(ctx) / "Dockerfile").write_text(dockerfile)
            self._build(ctx, tag, {f"{LABEL}.env": env.key})
        return tag

    def _ensure_app_image(self, app_id: str, version: int, bundle_dir: Path, env: PythonEnv) -> str:
        env_image = self._ensure_env_image(env)
        dockerfile = (
            f"FROM {env_image}\nCOPY app /app\nCOPY --chown={APP_UID}:{APP_UID} data /data\n"
        )
        digest = hashlib.sha256(dockerfile.encode())
        for path in sorted(p for p in bundle_dir.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(bundle_dir)).encode() + b"\0")
            digest.update(path.read_bytes())
        tag = f"mb-app-{app_id}:{digest.hexdigest()[:24]}"
        if self._image_exists(tag):
            return tag
        with tempfile.TemporaryDirectory(prefix="mb-app-build-") as ctx:
            shutil.copytree(bundle_dir, Path(ctx) / "app", symlinks=False)
            (Path(ctx) / "data").mkdir()
            (Path(ctx) / "Dockerfile").write_text(dockerfile)
            self._build(ctx, tag, {f"{LABEL}.app": app_id, f"{LABEL}.version": str(version)})
        return tag

    def _prune_images(self, app_id: str) -> list[str]:
        """Remove the app's release images older than the newest ``keep_releases`` + 1
        versions, unless a container still uses them; returns the removed tags."""
        import docker

        images = self.client.images.list(filters={"label": f"{LABEL}.app={app_id}"})
        versions = sorted(
            {int(image.labels.get(f"{LABEL}.version", "0")) for image in images}, reverse=True
        )
        kept = set(versions[: self.keep_releases + 1])
        in_use = {
            container.attrs["Image"]
            for container in self.client.containers.list(
                all=True, filters={"label": f"{LABEL}.app={app_id}"}
            )
        }
        removed = []
        for image in images:
            if int(image.labels.get(f"{LABEL}.version", "0")) in kept or image.id in in_use:
                continue
            with contextlib.suppress(docker.errors.APIError):
                self.client.images.remove(image.id, force=False)
                removed.extend(image.tags)
        return removed

    def _image_exists(self, tag: str) -> bool:
        import docker

        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    def _build(self, context: str, tag: str, labels: dict[str, str]) -> None:
        import docker

        try:
            self.client.images.build(
                path=context,
                tag=tag,
                labels=labels,
                network_mode="none",
                rm=True,
                forcerm=True,
                pull=False,
            )
        except docker.errors.BuildError as err:
            # the same context fails the same way: not worth a retry
            lines = [str(c.get("stream") or c.get("error") or "") for c in err.build_log]
            raise AppStartError(f"image {tag} did not build: {''.join(lines)[-1500:]}") from None
        except docker.errors.APIError as err:
            raise DockerUnavailable(f"image {tag} did not build: {err.explanation}") from None


def _site_packages(env: PythonEnv) -> Path:
    """The env's installed packages (``lib/pythonX.Y/site-packages``)."""
    found = sorted(env.path.glob("lib/python3.*/site-packages"))
    if len(found) != 1:
        raise SandboxStartError(f"{env.path} has no single site-packages directory")
    return found[0]
