"""The app side of egress: a loopback port relayed to the egress proxy's unix socket.

An app has no network interface but its own loopback, and HTTP clients take
a proxy URL, not a socket path. This file (standard library only: it runs
under the app's own interpreter, bound read-only into the sandbox or copied
into the image) listens on ``127.0.0.1:PORT`` and relays each connection to
the socket bound into the app, then runs the app in the same process::

    python egress_forwarder.py PORT SOCKET -m uvicorn ARGS...   # forwarder + app
    python egress_forwarder.py PORT SOCKET                      # forwarder alone

The relay decides nothing: the proxy on the other side of the socket does.
"""

from __future__ import annotations

import asyncio
import contextlib
import runpy
import sys
import threading

CHUNK = 64 * 1024


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except OSError:
        pass


async def serve(port: int, socket_path: str, ready: threading.Event | None = None) -> None:
    """Relay ``127.0.0.1:port`` to ``socket_path`` until cancelled."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def start_in_thread(port: int, socket_path: str, timeout_s: float = 10.0) -> bool:
    """Relay in a daemon thread of this process; True once the port listens."""
    ready = threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(serve(port, socket_path, ready)),
        name="egress-forwarder",
        daemon=True,
    )
    thread.start()
    return ready.wait(timeout_s)


def main(argv: list[str]) -> int:
    """Start the relay; then run ``-m MODULE ARGS`` in this process, or relay forever."""
    if len(argv) < 2 or not argv[0].isdigit() or (len(argv) > 2 and argv[2] != "-m"):
        sys.stderr.write("usage: egress_forwarder.py PORT SOCKET [-m MODULE ARGS...]\n")
        return 2
    port, socket_path = int(argv[0]), argv[1]
    if len(argv) <= 3:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(port, socket_path))
        return 0
    if not start_in_thread(port, socket_path):
        sys.stderr.write(f"egress forwarder: 127.0.0.1:{port} did not open\n")
        return 1
    module = argv[3]
    sys.argv = [module, *argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
