"""The anomaly rules, as SQL over the audit log, the moderation log and QA reports,
and the alerts they raise (one per rule, subject and scan window).

Rules look at one window (``Thresholds.window_s``) ending now:

- failed_logins: failed or refused logins per client address;
- blocked_prompts: prompts blocked by moderation per user (the scan suspends them);
- secret_reads: secret reveals per user, at least the threshold *and* far above
  the user's own average window over the past week;
- rate_limited: minutes in which a user or address went over the rate limit;
- failed_deployments: deployments stopped by the QA gate per user;
- egress_refused: connections per app the egress proxy refused for their destination
  (undeclared, unapproved, an address, an internal name);
- new_login_address: a login from an address the user never logged in from;
- wal_archive_failing: the server's WAL archiving fails (point-in-time recovery
  is at risk until it archives again).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from schemas.anomalies import Alert, Finding, Rule, Thresholds
from store.db import Database
from store.wal_archive import read_archiver_status

WEEK = timedelta(days=7)

# Rules that count rows per subject in the window: (rule, "<subject and count> FROM ...
# WHERE ... > %s" up to the window start, the threshold's name, the summary).
_COUNTING_RULES: tuple[tuple[Rule, str, str, str], ...] = (
    (
        "failed_logins",
        "coalesce(client_ip, 'unknown') AS subject, count(*) AS n FROM audit_log"
        " WHERE action = 'login.failed' AND at > %s",
        "failed_logins",
        "{n} failed logins from {subject}",
    ),
    (
        "blocked_prompts",
        "owner_id AS subject, count(*) AS n FROM moderation_log"
        " WHERE verdict = 'block' AND created_at > %s",
        "blocked_prompts",
        "{n} blocked prompts by user {subject}: suspended from deploying",
    ),
    (
        "rate_limited",
        "resource AS subject, count(*) AS n FROM audit_log"
        " WHERE action = 'rate.limited' AND at > %s",
        "rate_limited_minutes",
        "{subject} went over the rate limit in {n} minutes",
    ),
    (
        "failed_deployments",
        # A deployment counts once, by its last attempt (the generator may repair it).
        "owner_id AS subject, count(*) AS n FROM qa_reports q"
        " WHERE verdict = 'fail' AND created_at > %s AND NOT EXISTS (SELECT 1 FROM qa_reports"
        " later WHERE later.deployment_id = q.deployment_id AND later.attempt > q.attempt)",
        "failed_deployments",
        "{n} deployments by user {subject} failed the QA gate",
    ),
    (
        "egress_refused",
        # Destinations the app may not reach (not budgets or upstream failures): an app
        # probing undeclared hosts, addresses or internal names.
        "app_id AS subject, count(*) AS n FROM egress_refusals WHERE reason IN"
        " ('not_declared', 'not_approved', 'ip_literal', 'invalid_host', 'denied_host',"
        " 'denied_address') AND at > %s",
        "egress_refused",
        "app {subject} tried {n} times to reach hosts it may not (see mb egress refusals)",
    ),
)


class AnomalyRules:
    """Evaluate every rule over one window."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def evaluate(self, now: datetime, limits: Thresholds) -> list[Finding]:
        """Every rule's findings for the window ending at ``now``."""
        since = now - timedelta(seconds=limits.window_s)
        findings: list[Finding] = []
        async with self._db.connection() as conn:
            for rule, source, threshold, summary in _COUNTING_RULES:
                rows = await (
                    await conn.execute(
                        f"SELECT {source} GROUP BY 1 HAVING count(*) >= %s",
                        (since, getattr(limits, threshold)),
                    )
                ).fetchall()
                for row in rows:
                    subject, n = str(row["subject"]), int(row["n"])
                    findings.append(
                        Finding(
                            rule=rule,
                            subject=subject,
                            count=n,
                            summary=summary.format(n=n, subject=subject),
                        )
                    )
            rows = await (
                await conn.execute(
                    "WITH recent AS (SELECT actor, count(*) AS n FROM audit_log"
                    "  WHERE action = 'secret.reveal' AND at > %s GROUP BY actor),"
                    " past AS (SELECT actor, count(*) AS n FROM audit_log"
                    "  WHERE action = 'secret.reveal' AND at > %s AND at <= %s GROUP BY actor)"
                    " SELECT r.actor AS subject, r.n AS n, coalesce(p.n, 0) AS past"
                    " FROM recent r LEFT JOIN past p USING (actor) WHERE r.n >= %s",
                    (since, since - WEEK, since, limits.secret_reads),
                )
            ).fetchall()
            windows_per_week = WEEK.total_seconds() / limits.window_s
            for row in rows:
                norm = int(row["past"]) / windows_per_week
                n = int(row["n"])
                if n >= limits.secret_read_norm_factor * max(norm, 1.0):
                    findings.append(
                        Finding(
                            rule="secret_reads",
                            subject=str(row["subject"]),
                            count=n,
                            summary=f"{n} secret reads by user {row['subject']}"
                            f" (their usual: {norm:.1f} per window)",
                            detail={"norm_per_window": round(norm, 2)},
                        )
                    )
            rows = await (
                await conn.execute(
                    "SELECT a.actor, a.client_ip FROM audit_log a"
                    " WHERE a.action = 'login' AND a.at > %s AND EXISTS (SELECT 1 FROM audit_log b"
                    "  WHERE b.action = 'login' AND b.actor = a.actor AND b.seq < a.seq)"
                    " AND NOT EXISTS (SELECT 1 FROM audit_log b WHERE b.action = 'login'"
                    "  AND b.actor = a.actor AND b.seq < a.seq"
                    "  AND b.client_ip IS NOT DISTINCT FROM a.client_ip)",
                    (since,),
                )
            ).fetchall()
            for row in rows:
                findings.append(
                    Finding(
                        rule="new_login_address",
                        subject=f"{row['actor']}@{row['client_ip']}",
                        count=1,
                        summary=f"user {row['actor']} logged in from a new address",
                        detail={"user": row["actor"], "address": row["client_ip"]},
                    )
                )
        return findings + await self.archiver_findings()

    async def archiver_findings(self) -> list[Finding]:
        """``wal_archive_failing`` when archiving is on and its newest attempt failed."""
        async with self._db.connection() as conn:
            status = await read_archiver_status(conn)
        if not (status.enabled and status.failing):
            return []
        return [
            Finding(
                rule="wal_archive_failing",
                subject="postgres",
                count=status.failed_count,
                summary=f"WAL archiving is failing (segment {status.last_failed_wal}):"
                " point-in-time recovery is at risk until it archives again",
                detail={"last_failed_wal": status.last_failed_wal},
            )
        ]


class AlertLog:
    """Store alerts once per rule, subject and window; list them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def raise_alert(
        self, finding: Finding, *, window_key: str, quiet_since: datetime
    ) -> int | None:
        """The new alert's id; None when the same rule and subject already alerted since
        ``quiet_since`` (a burst seen by overlapping scans) or in this scan window (a
        retried scan)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO alerts (rule, subject, summary, detail, dedupe_key)"
                    " SELECT %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM alerts"
                    "  WHERE rule = %s AND subject = %s AND at > %s)"
                    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                    (
                        finding.rule,
                        finding.subject,
                        finding.summary,
                        json.dumps({"count": finding.count, **finding.detail}),
                        f"{finding.rule}:{finding.subject}:{window_key}",
                        finding.rule,
                        finding.subject,
                        quiet_since,
                    ),
                )
            ).fetchone()
        return int(row["id"]) if row else None

    async def search(
        self, *, rule: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Alert]:
        """Alerts, newest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, at, rule, subject, summary, detail FROM alerts"
                    " WHERE (%s::text IS NULL OR rule = %s)"
                    " AND (%s::timestamptz IS NULL OR at >= %s) ORDER BY id DESC LIMIT %s",
                    (rule, rule, since, since, limit),
                )
            ).fetchall()
        return [Alert.model_validate(r) for r in rows]
