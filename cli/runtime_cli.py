"""``mb runtime build-base``: the Docker runtime's Python base image, built from Debian
packages and imported into the local engine (no registry needed)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cli.runner import CommandError, console, load_settings, run

runtime_app = typer.Typer(help="The app runtime (MB_RUNTIME: sandbox or docker).")


@runtime_app.command("build-base")
def runtime_build_base(
    tag: Annotated[
        str | None, typer.Option(help="image tag (default MB_DOCKER_BASE_IMAGE)")
    ] = None,
) -> None:
    """Build the Docker runtime's Python base image from Debian packages (no registry
    needed) and import it into the local engine."""

    async def main() -> int:
        import docker

        from runtime.docker_base import build_base_image

        name = tag or load_settings().docker_base_image
        try:
            client = docker.from_env()
            image_id = await asyncio.to_thread(build_base_image, client, name)
        except docker.errors.DockerException as err:
            raise CommandError(f"the Docker Engine refused: {err}") from None
        console.print(f"built {name} ({image_id[:19]})")
        return 0

    run(main())
