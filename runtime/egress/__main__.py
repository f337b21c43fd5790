"""``python -m runtime.egress CONFIG``: run the egress proxy of this host.

Prints ``ready`` once every socket listens; SIGHUP reloads CONFIG (a bad file
is logged and the running configuration kept); SIGTERM or SIGINT stops, and so
does the death of the process that started it with ``--exit-with-parent``. After
each configuration is served, its ``generation`` is written to
``CONFIG.applied`` (what :class:`runtime.egress.registry.EgressRegistry` waits for).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from runtime.egress.decision_log import DecisionLog
from runtime.egress.proxy import EgressProxy
from runtime.egress.registry import applied_path, pid_path
from runtime.procfs import start_time
from schemas.egress import ProxyConfig

log = logging.getLogger("runtime.egress")


async def serve(config_path: Path, *, exit_with_parent: bool = False) -> None:
    """Serve until SIGTERM/SIGINT (or the parent's death), reloading on SIGHUP."""
    parent = os.getppid()
    config = ProxyConfig.load(config_path)
    decisions = DecisionLog(Path(config.decision_log))
    proxy = EgressProxy(decisions)
    await proxy.apply(config)
    await asyncio.to_thread(_mark_applied, config_path, config.generation)
    pid_path(config_path).write_text(f"{os.getpid()} {start_time(os.getpid())}")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: asyncio.Queue[None] = asyncio.Queue()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reloads.put_nowait, None)
    sys.stdout.write("ready\n")
    sys.stdout.flush()

    async def reloader() -> None:
        while True:
            await reloads.get()
            try:
                config = ProxyConfig.load(config_path)
                await proxy.apply(config)
                await asyncio.to_thread(_mark_applied, config_path, config.generation)
            except (OSError, ValueError, ValidationError) as exc:
                log.error(
                    "egress: %s not reloaded, the running configuration stays: %s", config_path, exc
                )
            else:
                log.info("egress: configuration reloaded")
                sys.stdout.write("reloaded\n")
                sys.stdout.flush()

    async def orphaned() -> None:
        while os.getppid() == parent:  # noqa: ASYNC110 - only polling shows a reparenting
            await asyncio.sleep(1.0)
        log.warning("egress: the process that started the proxy is gone; stopping")
        stop.set()

    task = asyncio.ensure_future(reloader())
    watch = asyncio.ensure_future(orphaned()) if exit_with_parent else None
    try:
        await stop.wait()
    finally:
        task.cancel()
        if watch is not None:
            watch.cancel()
        await proxy.close()
        decisions.close()
        pid_path(config_path).unlink(missing_ok=True)


def _mark_applied(config_path: Path, generation: int) -> None:
    target = applied_path(config_path)
    staging = target.with_suffix(".tmp")
    staging.write_text(str(generation))
    staging.replace(target)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = sys.argv[1:] if argv is None else argv
    with_parent = "--exit-with-parent" in args
    args = [a for a in args if a != "--exit-with-parent"]
    if len(args) != 1:
        sys.stderr.write("usage: python -m runtime.egress [--exit-with-parent] CONFIG.json\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(Path(args[0]), exit_with_parent=with_parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
