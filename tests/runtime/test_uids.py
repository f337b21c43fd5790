"""The sandbox uid pool: leases never shared, a uid in use never handed out, a clear error
when the range is spent. Real lease files, real processes running as the uids."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.limits import INSTANCES_PER_UID, ResourceLimits, nproc_limit
from runtime.uids import UidPool, UidRangeExhausted, app_holder, uids_in_use
from schemas.settings import Settings

BASE = 1_898_000_000


@pytest.fixture
def running_as() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes started as given uids (``sleep``), killed afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def sleeper(uid: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[])


async def test_holders_never_share_a_uid_and_an_app_keeps_its_own(tmp_path: Path) -> None:
    """Thirty concurrent acquisitions through two pool objects over one directory (two
    workers of a host) get thirty different uids; an app asking again gets the same one."""
    pools = [UidPool(tmp_path / "uids", base=BASE, count=64) for _ in range(2)]
    holders = [f"run.{i}" for i in range(28)] + [app_holder("a"), app_holder("b")]
    uids = await asyncio.gather(*(pools[i % 2].acquire(h) for i, h in enumerate(holders)))
    assert len(set(uids)) == len(holders)
    assert all(BASE <= uid < BASE + 64 for uid in uids)
    assert await pools[1].acquire(app_holder("a")) == uids[-2]
    assert (await pools[0].held())[app_holder("b")] == uids[-1]


async def test_a_released_uid_is_free_again_and_a_lease_ends_with_its_block(
    tmp_path: Path,
) -> None:
    pool = UidPool(tmp_path / "uids", base=BASE, count=1)
    async with pool.lease("run.first") as uid:
        with pytest.raises(UidRangeExhausted):
            await pool.acquire("run.second")
    assert await pool.acquire("run.second") == uid
    await pool.release("run.second")
    await pool.release("run.second")  # idempotent
    assert await pool.held() == {}


async def test_a_uid_some_process_runs_as_is_never_handed_out(
    tmp_path: Path, running_as: list[subprocess.Popen[bytes]]
) -> None:
    """Whatever the leases say: a process left over from a lost lease directory, or another
    pool's sandbox, keeps its uid out of reach until it ends."""
    pool = UidPool(tmp_path / "uids", base=BASE, count=2)
    running_as.append(sleeper(BASE))
    assert BASE in uids_in_use()
    assert await pool.acquire("run.one") == BASE + 1
    with pytest.raises(UidRangeExhausted):
        await pool.acquire("run.two")
    left = running_as.pop()
    left.kill()
    left.wait()  # a zombie still counts against its uid's processes: reaped, it is gone
    assert await pool.acquire("run.two") == BASE


async def test_a_stale_lease_is_taken_over_only_when_nothing_runs_as_its_uid(
    tmp_path: Path, running_as: list[subprocess.Popen[bytes]]
) -> None:
    """With the range spent, a lease past its grace period whose uid runs nothing goes to a
    new holder; one whose uid still runs something does not; a recent one does not."""
    patient = UidPool(tmp_path / "uids", base=BASE, count=2, grace_s=3600)
    hasty = UidPool(tmp_path / "uids", base=BASE, count=2, grace_s=0)
    busy = await patient.acquire(app_holder("busy"))
    idle = await patient.acquire(app_holder("idle"))
    running_as.append(sleeper(busy))
    with pytest.raises(UidRangeExhausted):
        await patient.acquire(app_holder("new"))  # both renewed moments ago
    assert await hasty.acquire(app_holder("new")) == idle
    assert await hasty.held() == {app_holder("busy"): busy, app_holder("new"): idle}
    # Both leases are past a zero grace period and busy's is the older, yet its uid runs a
    # process: the newer lease is the one taken over.
    assert await hasty.acquire(app_holder("newer")) == idle
    assert (await hasty.held())[app_holder("busy")] == busy


async def test_the_exhausted_range_says_what_to_change(tmp_path: Path) -> None:
    pool = UidPool(tmp_path / "uids", base=BASE, count=1)
    await pool.acquire("run.one")
    with pytest.raises(UidRangeExhausted, match="MB_SANDBOX_UID_COUNT") as caught:
        await pool.acquire("run.two")
    assert f"{BASE}..{BASE}" in str(caught.value)


async def test_bad_holders_and_ranges_are_refused(tmp_path: Path) -> None:
    pool = UidPool(tmp_path / "uids", base=BASE, count=4)
    for holder in ("../x", "a/b", "", "app.a=b"):
        with pytest.raises(ValueError, match="not a valid name"):
            await pool.acquire(holder)
    assert not (tmp_path / "uids").exists() or await pool.held() == {}
    for base, count in ((0, 10), (999, 10), (2**31 - 5, 10), (BASE, 0)):
        with pytest.raises(ValueError, match="must lie in"):
            UidPool(tmp_path, base=base, count=count)


def test_the_pool_comes_from_the_settings(tmp_path: Path) -> None:
    pool = UidPool.from_settings(
        Settings(data_dir=tmp_path, sandbox_uid_base=BASE, sandbox_uid_count=10)
    )
    assert (pool.lease_dir, pool.base, pool.count) == (tmp_path.resolve() / "uids", BASE, 10)
    default = UidPool.from_settings(Settings(data_dir=tmp_path))
    assert default.base >= 1_000_000 and default.base + default.count < 2**31


def test_the_pids_cgroup_is_the_limit_and_nproc_a_per_uid_backstop() -> None:
    limits = ResourceLimits(pids=50)
    assert nproc_limit(limits, pids_cgroup=True) == 50 * INSTANCES_PER_UID
    assert nproc_limit(limits, pids_cgroup=False) == 50
