"""A TCP relay in a process of its own: ``python -m tests.integration.tcp_relay ADDRESS
TARGET...`` listens on ``ADDRESS`` (a free port per target) and pipes each connection to
its target, ``tcp:HOST:PORT`` or ``unix:PATH``; prints the ports, one line, in order,
then serves until stdin closes. A process rather than a thread of the test, so the
test's own work (its API, gateway and pytest itself) never stalls a host's database
or Temporal connections."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def connector(target: str) -> Connect:
    """How to reach ``tcp:HOST:PORT`` or ``unix:PATH``."""
    kind, _, where = target.partition(":")
    if kind == "unix":
        return lambda: asyncio.open_unix_connection(where)
    if kind == "tcp":
        host, port = where.rsplit(":", 1)
        return lambda: asyncio.open_connection(host, int(port))
    raise SystemExit(f"unknown target {target!r}: tcp:HOST:PORT or unix:PATH")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def listen(address: str, connect: Connect) -> asyncio.Server:
    """Relay every connection to ``address`` (a free port) to ``connect()``."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return await asyncio.start_server(relay, address, 0)


async def main(address: str, targets: list[str]) -> None:
    servers = [await listen(address, connector(target)) for target in targets]
    ports = [str(server.sockets[0].getsockname()[1]) for server in servers]
    sys.stdout.write(" ".join(ports) + "\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.read)  # until the test closes our stdin


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
