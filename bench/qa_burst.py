"""A burst of deployments with QA admission off (every stage at once) and on, in one run.

    .venv/bin/python -m bench.qa_burst [--size 20] [--light 2] [--reuse]

The real stack: a Temporal dev server and embedded PostgreSQL in this process and
one ``mb worker`` process per side (its own data directory: each side starts with
the same prebuilt environments and an empty mutation-reuse cache). ``size``
blueprint deployments at once: a heavy owner submits ``size - light`` of them, a
light owner ``light`` more a few seconds later (the fairness probe: with
admission, the light owner's gates take turns with the heavy owner's instead of
waiting behind all of them).

Reported per side: how many went live, p50/p95/max latency from signal to live
(of those that did), and the light owner's worst; then the admission side's over
the other's. The run fails only when a deployment fails with admission: without
it, a loaded machine makes stages time out, which is what this measures.

The burst cycles through the blueprints, so it deploys some bundles more than once.
Mutation reuse is off on both sides unless ``--reuse``: with admission, a later gate
of a bundle an earlier gate finished would reuse its outcomes, which the side
without admission (every gate at once) cannot; off, the sides differ only in
admission.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from activities.qa_admission import gate_capacity
from bench import ADVISORY_SNAPSHOT, stack_settings
from bench.blueprints_gate import PROMPTS
from bench.concurrent_deploys import (
    deploy,
    prebuild_envs,
    retire,
    wait_polling,
    worker_processes,
    worker_settings,
)
from cli.stack import backends
from store.key_rings import master_key_ring, owner_keys
from workers.wiring import evidence_keys

HEAVY, LIGHT = "heavy-owner", "light-owner"
LIGHT_DELAY_S = 5.0


@dataclass
class Side:
    """One side of the comparison: every deployment's latency, by owner."""

    admission: bool
    latencies: dict[str, list[float]] = field(default_factory=lambda: {HEAVY: [], LIGHT: []})
    failed: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``on`` or ``off``."""
        return "on" if self.admission else "off"

    def all(self) -> list[float]:
        """Every live deployment's latency, in seconds."""
        return self.latencies[HEAVY] + self.latencies[LIGHT]

    def quantile(self, q: float) -> float:
        """The q-quantile of all latencies."""
        values = self.all()
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


async def burst(client: Client, side: Side, size: int, light: int) -> None:
    """``size`` deployments: the heavy owner's at once, the light owner's a bit later."""
    prompts = list(PROMPTS.values())
    owners = [HEAVY] * (size - light) + [LIGHT] * light
    app_ids = [f"qb-{side.name}-{i}" for i in range(size)]

    async def one(i: int) -> None:
        if owners[i] == LIGHT:
            await asyncio.sleep(LIGHT_DELAY_S)
        t0 = time.perf_counter()
        try:
            await deploy(client, app_ids[i], prompts[i % len(prompts)], owners[i])
        except Exception as err:
            side.failed.append(f"{app_ids[i]}: {getattr(err, 'cause', None) or err}")
            return
        side.latencies[owners[i]].append(time.perf_counter() - t0)

    await asyncio.gather(*(one(i) for i in range(size)))
    await retire(client, app_ids)


async def main(size: int, light: int, reuse: bool) -> int:
    """Both sides, then the figure lines."""
    root = Path(tempfile.mkdtemp(prefix="mb-bench-qa-burst-"))
    root.chmod(0o755)
    base = stack_settings(root / "stack", advisory_db=ADVISORY_SNAPSHOT, drain_s=0)
    sides = [Side(admission=False), Side(admission=True)]
    try:
        async with backends(base) as (client, _db, endpoints):
            hosts = [worker_settings(root, i) for i in range(len(sides))]
            evidence_keys(base).check()
            for owner in (HEAVY, LIGHT):
                owner_keys(base).get_or_create(owner)
            master_key_ring(base)
            for s in hosts:
                shutil.copytree(base.data_path / "keys", s.data_path / "keys")
            await prebuild_envs(hosts)
            for side, host in zip(sides, hosts, strict=True):
                flag = "true" if side.admission else "false"
                with worker_processes(
                    [host],
                    endpoints,
                    root,
                    qa_admission=flag,
                    qa_mutation_reuse="true" if reuse else "false",
                ) as workers:
                    await wait_polling(client, [w.host for w in workers])
                    begin = time.perf_counter()
                    await burst(client, side, size, light)
                    print(
                        f"admission {side.name}: {len(side.all())}/{size} live,"
                        f" p50 {side.quantile(0.5):5.1f} s p95 {side.quantile(0.95):5.1f} s,"
                        f" max {max(side.all(), default=0):5.1f} s, light owner's worst"
                        f" {max(side.latencies[LIGHT], default=float('nan')):5.1f} s"
                        f" (round {time.perf_counter() - begin:5.1f} s)",
                        flush=True,
                    )
                    for failure in side.failed:  # not a figure line: no "name: value"
                        print(f"    not live, {failure}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"qa_burst_size: {size} ({size - light} heavy owner, {light} light owner)")
    print(f"qa_burst_gates_at_once: {gate_capacity(hosts[1])}")
    print(f"qa_burst_mutation_reuse: {'on' if reuse else 'off'}")
    for side in sides:
        print(f"qa_burst_{side.name}_live: {len(side.all())}/{size}")
        print(f"qa_burst_{side.name}_p50_s: {side.quantile(0.5):.1f}")
        print(f"qa_burst_{side.name}_p95_s: {side.quantile(0.95):.1f}")
        print(f"qa_burst_{side.name}_max_s: {max(side.all(), default=0):.1f}")
        light_max = max(side.latencies[LIGHT], default=None)
        shown = "none live" if light_max is None else f"{light_max:.1f}"
        print(f"qa_burst_{side.name}_light_max_s: {shown}")
    off, on = sides
    print(f"qa_burst_p50_ratio: {on.quantile(0.5) / off.quantile(0.5):.2f}")
    print(f"qa_burst_p95_ratio: {on.quantile(0.95) / off.quantile(0.95):.2f}")
    if on.latencies[LIGHT] and off.latencies[LIGHT]:
        light_ratio = max(on.latencies[LIGHT]) / max(off.latencies[LIGHT])
        print(f"qa_burst_light_max_ratio: {light_ratio:.2f}")
    # Deployments failing without admission are a finding (the burst's contention), not
    # a failure of the bench; with admission, every deployment must go live.
    return 1 if on.failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--light", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="keep mutation reuse on")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.size, args.light, args.reuse)))
