"""Egress in PostgreSQL: approvals (audited, per app, outliving releases), the pending
queue, and the proxies' decision logs read exactly once (real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.egress.decision_log import DecisionLog
from schemas.audit import Actor
from schemas.egress import EgressDecision, RefusalReason
from store.audit import AuditLog
from store.db import Database
from store.egress import EgressApprovals, EgressRecords

OPS = Actor(user_id="ops", client_ip="127.0.0.1")


async def test_undecided_targets_wait_for_an_operator_and_decisions_are_audited(
    db: Database,
) -> None:
    audit = AuditLog(db)
    approvals = EgressApprovals(db, audit)
    wanted = ["api.example.com:443", "tiles.example.org:443"]
    assert await approvals.approved("wx", 1, wanted) == set()
    assert [(p.app_id, p.target, p.version) for p in await approvals.pending()] == [
        ("wx", "api.example.com:443", 1),
        ("wx", "tiles.example.org:443", 1),
    ]
    await approvals.approved("wx", 2, wanted)  # a later release queues nothing twice
    assert len(await approvals.pending("wx")) == 2

    await approvals.decide("wx", "api.example.com:443", "approve", reason="weather API", actor=OPS)
    await approvals.decide("wx", "tiles.example.org:443", "reject", reason="not needed", actor=OPS)
    assert await approvals.approved("wx", 3, wanted) == {"api.example.com:443"}
    assert await approvals.pending() == []  # a rejected target is not queued again
    assert await approvals.approved("other-app", 1, wanted) == set()  # approvals are per app

    events = [(e.action, e.actor, e.detail) for e in await audit.search(action="egress.decide")]
    assert sorted((a, who, d["target"], d["decision"]) for a, who, d in events) == [
        ("egress.decide", "ops", "api.example.com:443", "approve"),
        ("egress.decide", "ops", "tiles.example.org:443", "reject"),
    ]
    with pytest.raises(ValueError, match="IP literal"):
        await approvals.decide("wx", "10.0.0.1:443", "approve", reason="x", actor=OPS)


def decision(host: str, *, allowed: bool, at: float, **extra: object) -> EgressDecision:
    return EgressDecision.model_validate(
        {
            "at": at,
            "app_id": "wx",
            "version": 1,
            "host": host,
            "port": 443,
            "method": "CONNECT",
            "allowed": allowed,
            **extra,
        }
    )


async def test_decision_logs_are_read_once_and_counted_per_host(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path)
    now = 1_800_000_000.0
    log.record(decision("api.example.com", allowed=True, at=now, bytes_up=10, bytes_down=100))
    log.record(decision("api.example.com", allowed=True, at=now + 1, bytes_up=5, bytes_down=50))
    log.record(
        decision(
            "evil.example.net",
            allowed=False,
            at=now + 2,
            reason=RefusalReason.NOT_DECLARED,
            detail="release 1 does not declare evil.example.net:443",
        )
    )
    records = EgressRecords(db)
    assert await records.ingest("host-a", path) == 3
    assert await records.ingest("host-a", path) == 0  # nothing twice

    with path.open("ab") as f:  # a line the proxy is still writing is left for next time
        f.write(b'{"at": 1800000003.0, "app_id": "wx"')
    assert await records.ingest("host-a", path) == 0
    with path.open("ab") as f:
        f.write(
            b', "version": 1, "host": "10.0.0.1", "port": 443, "method": "CONNECT",'
            b' "allowed": false, "reason": "ip_literal"}\n'
        )
    assert await records.ingest("host-a", path) == 1

    uses = {(u.host, u.port): u for u in await records.per_host("wx")}
    api = uses[("api.example.com", 443)]
    assert (api.connections, api.bytes_up, api.bytes_down, api.refused) == (2, 15, 150, 0)
    assert uses[("evil.example.net", 443)].refused == 1
    assert uses[("10.0.0.1", 443)].refused == 1
    refusals = await records.refusals(app_id="wx")
    assert [(r.target, r.reason, r.host) for r in refusals] == [
        ("10.0.0.1", "ip_literal", "host-a"),
        ("evil.example.net", "not_declared", "host-a"),
    ]
    assert await records.per_host("nobody") == []
