"""The egress proxy server: HTTP CONNECT and plain HTTP, one unix socket per app.

Which socket a connection arrives on says which app (and release) it comes
from. Each request is parsed with ``h11``, judged by :mod:`runtime.egress.policy`,
and either refused with a status and a reason (recorded) or connected to one
of the addresses the proxy resolved and checked itself, then relayed byte for
byte (a CONNECT tunnel carries the app's own TLS: the proxy never sees inside
it) under the app's budgets. Every decision goes to the decision log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import h11

from runtime.egress.decision_log import DecisionLog
from runtime.egress.limits import AppBudget
from runtime.egress.policy import AppPolicy, Refusal, networks, resolve_checked
from runtime.egress.resolver import Resolver
from schemas.egress import AppEgress, EgressDecision, ProxyConfig, RefusalReason

log = logging.getLogger(__name__)

HEAD_LIMIT = 16 * 1024
"""Largest request head (request line and headers) the proxy reads."""
HEAD_TIMEOUT_S = 10.0
CHUNK = 64 * 1024
MAX_REFUSAL_LINES_PER_MINUTE = 120
"""Refusals of one app written one line each per minute; past that they are counted and the
count is written with the next line (an app hammering the proxy cannot flood the log)."""

_HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authorization",
    b"proxy-authenticate",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"host",
}
_STATUS = {
    RefusalReason.BAD_REQUEST: (400, "Bad Request"),
    RefusalReason.RATE_LIMITED: (429, "Too Many Requests"),
    RefusalReason.BYTE_LIMIT: (429, "Too Many Requests"),
    RefusalReason.UNRESOLVABLE: (502, "Bad Gateway"),
    RefusalReason.UPSTREAM_FAILED: (502, "Bad Gateway"),
}

Method = Literal["CONNECT", "HTTP", "?"]
_BUDGETS = {
    RefusalReason.RATE_LIMITED: "connection budget (per minute, or open at once)",
    RefusalReason.BYTE_LIMIT: "hourly byte budget",
}


@dataclass(frozen=True)
class ProxyRequest:
    """A parsed request: where to, and (plain HTTP) the head to send upstream."""

    method: Method
    host: str
    port: int
    upstream_head: bytes | None = None


class BadRequest(ValueError):
    """Not a request this proxy serves."""


def parse_request(head: bytes) -> ProxyRequest:
    """A request head (ending in an empty line) into a :class:`ProxyRequest`."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_LIMIT)
    try:
        conn.receive_data(head)
        event = conn.next_event()
    except h11.RemoteProtocolError as exc:
        raise BadRequest(f"malformed request: {exc}") from None
    if not isinstance(event, h11.Request):
        raise BadRequest("incomplete request head")
    target = event.target.decode("ascii", "replace")
    if event.method == b"CONNECT":
        host, sep, port = target.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadRequest(f"CONNECT target {target[:100]!r} is not host:port")
        return ProxyRequest("CONNECT", host, int(port))
    try:
        url = urlsplit(target)
        port_number = url.port or 80
    except ValueError:
        raise BadRequest(f"target {target[:100]!r} is not a URL") from None
    if url.scheme != "http" or not url.hostname:
        raise BadRequest("plain requests must use an absolute http:// URL (https: use CONNECT)")
    if url.username is not None or url.password is not None:
        raise BadRequest("URLs with credentials are not relayed")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    authority = url.hostname if port_number == 80 else f"{url.hostname}:{port_number}"
    lines = [b"%s %s HTTP/1.1" % (event.method, path.encode("ascii"))]
    lines += [b"%s: %s" % (n, v) for n, v in event.headers if n.lower() not in _HOP_BY_HOP]
    for name, value in event.headers:
        if name.lower() == b"transfer-encoding":  # the body is relayed as it comes
            lines.append(b"transfer-encoding: %s" % value)
    lines += [b"host: " + authority.encode("ascii"), b"connection: close"]
    return ProxyRequest("HTTP", url.hostname, port_number, b"\r\n".join(lines) + b"\r\n\r\n")


def refusal_response(refusal: Refusal) -> bytes:
    """The HTTP answer to a refused request (the reason in a header and the body)."""
    status, phrase = _STATUS.get(refusal.reason, (403, "Forbidden"))
    body = f"egress refused ({refusal.reason.value}): {refusal.detail}\n".encode("utf-8", "replace")
    return (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n"
        f"x-mb-egress-refused: {refusal.reason.value}\r\n\r\n"
    ).encode() + body


class _Quota:
    """How many refusals of one app were written this minute, and how many were not."""

    def __init__(self) -> None:
        self.minute = -1
        self.used = 0
        self.unlogged = 0


@dataclass
class _AppState:
    """What the proxy holds for one socket: its instance's policy, its app's budget."""

    policy: AppPolicy
    budget: AppBudget
    quota: _Quota


class EgressProxy:
    """Serves every app of a :class:`ProxyConfig` on its socket; :meth:`apply` reloads."""

    def __init__(
        self,
        decisions: DecisionLog,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._decisions = decisions
        self._clock = clock
        self._wall = wall
        self._config = ProxyConfig(decision_log=str(decisions.path))
        self._resolver = Resolver()
        self._apps: dict[str, _AppState] = {}  # socket path -> state
        self._budgets: dict[str, tuple[AppBudget, _Quota]] = {}  # app id -> shared by instances
        self._servers: dict[str, tuple[str, asyncio.Server]] = {}  # socket -> (app, server)
        self._tasks: set[asyncio.Task[None]] = set()

    async def apply(self, config: ProxyConfig) -> None:
        """Serve ``config``: new sockets opened, gone ones closed, policies replaced.

        Connections already open keep going; the next request of an app is
        judged by its new release's list (a rollback takes its list with it).
        """
        hosts = Path(config.hosts_file) if config.hosts_file else None
        self._resolver = await asyncio.to_thread(Resolver.from_file, hosts, use_dns=config.use_dns)
        self._config = config
        apps: dict[str, _AppState] = {}
        budgets: dict[str, tuple[AppBudget, _Quota]] = {}
        for app in config.apps:
            policy = AppPolicy(
                app, platform_allow=config.platform_allow, platform_deny=config.platform_deny
            )
            if app.app_id not in budgets:
                budget, quota = self._budgets.get(app.app_id) or (
                    AppBudget(app.limits, self._clock),
                    _Quota(),
                )
                budget.update(app.limits)
                budgets[app.app_id] = (budget, quota)
            apps[app.socket_path] = _AppState(policy, *budgets[app.app_id])
        self._apps, self._budgets = apps, budgets
        wanted = {a.socket_path: a for a in config.apps}
        for path, (app_id, server) in list(self._servers.items()):
            if path not in wanted or wanted[path].app_id != app_id:
                server.close()
                del self._servers[path]
                await asyncio.to_thread(_unlink, path)
        for path, app in wanted.items():
            if path not in self._servers:
                self._servers[path] = (app.app_id, await self._listen(app))

    async def _listen(self, app: AppEgress) -> asyncio.Server:
        await asyncio.to_thread(_unlink, app.socket_path)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                await self._serve(app.socket_path, reader, writer)
            except Exception:
                log.exception("egress: connection of %s failed", app.app_id)
            finally:
                writer.close()
                if task is not None:
                    self._tasks.discard(task)

        server = await asyncio.start_unix_server(serve, path=app.socket_path, limit=HEAD_LIMIT)
        # The directory it lies in (the app's own, 0700) is what keeps other users out.
        await asyncio.to_thread(os.chmod, app.socket_path, 0o666)
        return server

    async def close(self) -> None:
        """Stop listening, end open connections, remove the sockets."""
        for path, (_app, server) in self._servers.items():
            server.close()
            await asyncio.to_thread(_unlink, path)
        self._servers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)

    # -- one connection ------------------------------------------------------

    async def _serve(
        self, socket_path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        state = self._apps.get(socket_path)
        if state is None:
            return
        app_id = state.policy.app.app_id
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            request = parse_request(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            bad = Refusal(RefusalReason.BAD_REQUEST, f"no complete request head: {exc!r}"[:200])
            await self._refuse(state, writer, "?", "?", 0, bad)
            return
        except BadRequest as exc:
            await self._refuse(
                state, writer, "?", "?", 0, Refusal(RefusalReason.BAD_REQUEST, str(exc))
            )
            return
        host, port = request.host, request.port
        refusal = state.policy.check(host, port) or state.budget.admit()
        if isinstance(refusal, RefusalReason):
            budget = _BUDGETS.get(refusal, refusal.value)
            refusal = Refusal(refusal, f"{app_id} is over its {budget}")
            await self._refuse(state, writer, request.method, host, port, refusal)
            return
        if refusal is not None:
            await self._refuse(state, writer, request.method, host, port, refusal)
            return
        try:
            await self._relay(state, request, reader, writer)
        finally:
            state.budget.release()

    async def _relay(
        self,
        state: _AppState,
        request: ProxyRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        host, port, method = request.host, request.port, request.method
        checked = await resolve_checked(
            self._resolver, host, port, networks(self._config.simulated_internet)
        )
        if isinstance(checked, Refusal):
            await self._refuse(state, writer, method, host, port, checked)
            return
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        address = None
        errors = []
        for address in checked:
            try:
                async with asyncio.timeout(self._config.connect_timeout_s):
                    upstream = await asyncio.open_connection(str(address), port, limit=CHUNK)
                break
            except (OSError, TimeoutError) as exc:
                errors.append(f"{address}: {exc!r}")
        if upstream is None:
            failed = Refusal(RefusalReason.UPSTREAM_FAILED, "; ".join(errors)[:300])
            await self._refuse(state, writer, method, host, port, failed)
            return
        up_reader, up_writer = upstream
        if request.upstream_head is None:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_writer.write(request.upstream_head)
        counts = {"up": 0, "down": 0}
        cut = False
        try:
            cut = await self._pump_both(state, reader, writer, up_reader, up_writer, counts)
        finally:
            up_writer.close()
        self._record(
            state,
            self._decision(
                state,
                method,
                host,
                port,
                allowed=True,
                address=str(address),
                bytes_up=counts["up"],
                bytes_down=counts["down"],
            ),
        )
        if cut:
            over = Refusal(RefusalReason.BYTE_LIMIT, "the connection was cut: hourly bytes spent")
            self._record(state, self._refusal(state, method, host, port, over))

    async def _pump_both(
        self,
        state: _AppState,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        counts: dict[str, int],
    ) -> bool:
        """Relay both ways until both sides end, the app's bytes run out, or it idles."""
        last = [self._clock()]
        over = asyncio.Event()

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, key: str) -> None:
            while data := await src.read(CHUNK):
                last[0] = self._clock()
                counts[key] += len(data)
                if not state.budget.charge(len(data)):
                    over.set()
                    return
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof():
                with contextlib.suppress(OSError):
                    dst.write_eof()

        pumps = [
            asyncio.ensure_future(pump(reader, up_writer, "up")),
            asyncio.ensure_future(pump(up_reader, writer, "down")),
        ]
        idle = self._config.idle_timeout_s
        watch_over = asyncio.ensure_future(over.wait())
        pending = set(pumps)
        try:
            while pending and not over.is_set():
                done, _ = await asyncio.wait(
                    {*pending, watch_over},
                    timeout=min(idle, 5.0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                finished = done & pending
                pending -= finished
                if any(not p.cancelled() and p.exception() is not None for p in finished):
                    break  # one side failed: the other has nothing left to relay to
                if self._clock() - last[0] >= idle:
                    break
        finally:
            for task in (*pumps, watch_over):
                task.cancel()
            await asyncio.gather(*pumps, watch_over, return_exceptions=True)
        return over.is_set()

    # -- recording -----------------------------------------------------------

    def _refusal(
        self, state: _AppState, method: Method, host: str, port: int, refusal: Refusal
    ) -> EgressDecision:
        return self._decision(
            state,
            method,
            host,
            port,
            allowed=False,
            reason=refusal.reason,
            detail=refusal.detail[:500],
        )

    def _decision(
        self, state: _AppState, method: Method, host: str, port: int, **outcome: Any
    ) -> EgressDecision:
        """A decision about one connection of the app behind ``state``."""
        return EgressDecision(
            at=self._wall(),
            app_id=state.policy.app.app_id,
            version=state.policy.app.version,
            host=host[:255],
            port=port,
            method=method,
            **outcome,
        )

    async def _refuse(
        self,
        state: _AppState,
        writer: asyncio.StreamWriter,
        method: Method,
        host: str,
        port: int,
        refusal: Refusal,
    ) -> None:
        self._record(state, self._refusal(state, method, host, port, refusal))
        with contextlib.suppress(OSError):
            writer.write(refusal_response(refusal))
            await writer.drain()

    def _record(self, state: _AppState, decision: EgressDecision) -> None:
        quota = state.quota
        if not decision.allowed:
            minute = int(self._clock() // 60)
            if minute != quota.minute:
                quota.minute, quota.used = minute, 0
            quota.used += 1
            if quota.used > MAX_REFUSAL_LINES_PER_MINUTE:
                quota.unlogged += 1
                return
        if quota.unlogged:
            note = f" (+{quota.unlogged} refusals of this app not written one by one)"
            decision = decision.model_copy(update={"detail": decision.detail + note})
            quota.unlogged = 0
        self._decisions.record(decision)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
