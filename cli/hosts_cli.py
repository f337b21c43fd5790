"""Runtime hosts for operators: ``mb hosts`` (list), ``mb hosts drain|undrain NAME``.

Hosts register themselves (``mb worker --runtime-host NAME``); draining one stops
new placements there and moves its live apps to other hosts without a failed
request (see pipeline/host_drain.py).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.endpoints import database, temporal
from cli.runner import JsonFlag, console, load_settings, run, show_rows
from pipeline.host_drain import drain_host, undrain_host, wait_drained
from schemas.hosts import RuntimeHostView
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts

hosts_app = typer.Typer(
    help="Runtime hosts: capacity, load, heartbeat; drain one before maintenance.",
    invoke_without_command=True,
)

HostArg = Annotated[str, typer.Argument(metavar="NAME", help="the runtime host's name")]


@hosts_app.callback()
def hosts_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every registered host: state, apps, capacity, heartbeat age."""
    if ctx.invoked_subcommand is not None:
        return

    async def main() -> int:
        settings = load_settings()
        async with database(settings) as db:
            hosts = await RuntimeHosts(db).hosts(settings.host_dead_after_s)
        if as_json or not hosts:
            return show_rows(hosts, as_json=as_json, empty="no runtime host registered", line=str)
        console.print(hosts_table(hosts))
        return 0

    run(main())


@hosts_app.command("drain")
def hosts_drain(
    name: HostArg,
    wait: Annotated[bool, typer.Option(help="wait until its apps have moved")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait", min=1)] = 600,
) -> None:
    """No new apps on NAME; move its live apps to other hosts (no failed request)."""

    async def main() -> int:
        settings = load_settings()
        client = await temporal(settings)
        async with database(settings) as db:
            hosts = RuntimeHosts(db)
            report = await drain_host(client, hosts, ReleaseRepository(db), name)
            console.print(
                f"{escape(name)}: {report.state}; moving {len(report.moving)} app(s)"
                + (f": {', '.join(report.moving)}" if report.moving else "")
            )
            for line in report.stuck:
                console.print(f"[red]not moved[/] {escape(line)}")
            state = report.state
            if wait and state == "draining":
                state = await wait_drained(hosts, name, within_s=timeout)
        if state == "drained":
            console.print(f"[green]{escape(name)} is drained[/]")
            return 0
        console.print(f"{escape(name)} is {state}; see `mb hosts` and `mb status APP`")
        return 0 if not wait else 1

    run(main())


@hosts_app.command("undrain")
def hosts_undrain(name: HostArg) -> None:
    """Let NAME take new apps again."""

    async def main() -> int:
        async with database(load_settings()) as db:
            await undrain_host(RuntimeHosts(db), name)
        console.print(f"{escape(name)} is active")
        return 0

    run(main())


def hosts_table(hosts: list[RuntimeHostView]) -> Table:
    """Hosts as ``mb hosts`` shows them."""
    table = Table("host", "state", "apps", "memory MiB", "per app", "heartbeat")
    for h in hosts:
        state = h.state if h.live else f"{h.state} (silent)"
        table.add_row(
            escape(h.name),
            state,
            f"{h.apps}/{h.max_apps}",
            str(h.memory_mib),
            str(h.app_memory_mib),
            f"{h.heartbeat_age_s:.0f} s ago",
        )
    return table
