"""``python -m runtime.egress CONFIG``: run the egress proxy of this host.

Prints ``ready`` once every socket listens; SIGHUP reloads CONFIG (a bad file
is logged and the running configuration kept); SIGTERM or SIGINT stops. After
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


async def serve(config_path: Path) -> None:
    """Serve until SIGTERM/SIGINT, reloading on SIGHUP."""
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

    task = asyncio.ensure_future(reloader())
    try:
        await stop.wait()
    finally:
        task.cancel()
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
    if len(args) != 1:
        sys.stderr.write("usage: python -m runtime.egress CONFIG.json\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
