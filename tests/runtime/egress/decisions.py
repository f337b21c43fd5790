"""Decision-log lines the egress tests write as if the proxy had."""

from __future__ import annotations

from schemas.egress import EgressDecision, RefusalReason

UNDECLARED_REFUSAL = EgressDecision(
    at=1_800_000_000.0,
    app_id="wx-app",
    version=1,
    host="evil.example.net",
    port=443,
    method="CONNECT",
    allowed=False,
    reason=RefusalReason.NOT_DECLARED,
)
"""The proxy refused ``wx-app`` v1 a CONNECT to a host it did not declare."""
