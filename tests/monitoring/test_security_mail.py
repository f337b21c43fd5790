"""Security mail from the workers: a blocked deployment and a rollback reach the owner
once, through the outbox; unverified or operator-provisioned users get nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.moderation_activities import ModerationActivities
from activities.releases import Placement, ReleaseActivities
from monitoring.security_mail import SecurityMail
from schemas.moderation import ModerateInput
from schemas.runtime import SwitchTrafficInput
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.db import Database
from store.incidents import IncidentLog
from store.mail_delivery import Mailer
from store.moderation_log import ModerationLog
from store.outbox import MailOutbox
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from store.users import UserRepository
from workers.wiring import moderator

PHISHING = "fake Chase bank sign-in page that emails me the credentials"


async def _user(db: Database, email: str, *, verified: bool) -> str:
    user = await UserRepository(db).from_login("https://idp.test", email, email)
    if verified:
        async with db.connection() as conn:
            await conn.execute(
                "UPDATE users SET email_verified_at = now() WHERE id = %s", (user.id,)
            )
    return user.id


@pytest.fixture
def notices(db: Database, tmp_path: Path) -> SecurityMail:
    settings = Settings(data_dir=tmp_path / "data")
    return SecurityMail(
        UserRepository(db), Mailer.from_settings(settings, MailOutbox(db)), base_url="http://x"
    )


async def test_a_blocked_deployment_is_mailed_once_even_when_retried(
    db: Database, notices: SecurityMail
) -> None:
    owner = await _user(db, "rita@example.com", verified=True)
    activities = ModerationActivities(
        moderator(Settings(openai_moderation=False), None), ModerationLog(db), notices
    )
    request = ModerateInput(prompt=PHISHING, owner_id=owner, app_id="rita-app", deployment_id="d1")
    env = ActivityEnvironment()
    for _ in range(2):  # a retried activity
        verdict = await env.run(activities.moderate_prompt, request)
        assert verdict.verdict == "block"
    mails = await MailOutbox(db).recent("rita@example.com")
    assert [m.subject for m in mails] == ["A deployment of rita-app was blocked"]
    assert PHISHING not in mails[0].body  # the prompt itself is not repeated by mail


async def test_rollbacks_are_incidents_mailed_once_deploys_are_neither(
    db: Database, notices: SecurityMail, tmp_path: Path
) -> None:
    owner = await _user(db, "sam@example.com", verified=True)
    unverified = await _user(db, "tina@example.com", verified=False)
    activities = ReleaseActivities(
        ReleaseRepository(db),
        Placement(RuntimeHosts(db), dead_after_s=15),
        IncidentLog(db),
        BundleCache(ArtifactStore(db), tmp_path),
        notices,
    )
    env = ActivityEnvironment()

    def switch(owner_id: str, app: str, version: int, rollback: bool) -> SwitchTrafficInput:
        return SwitchTrafficInput(
            app_id=app,
            owner_id=owner_id,
            version=version,
            instance_id=f"{app}-v{version}",
            socket_path=f"/run/{app}-v{version}.sock",
            host="local",
            reason="automatic rollback of d2: HTTP 503" if rollback else "deploy d",
            request_id=f"{app}-{version}-{rollback}",
            rollback="automatic" if rollback else None,
            actor="health-watch" if rollback else "pipeline",
        )

    await env.run(activities.switch_traffic, switch(owner, "sam-app", 1, False))
    await env.run(activities.switch_traffic, switch(owner, "sam-app", 2, False))
    await env.run(activities.switch_traffic, switch(owner, "sam-app", 1, True))
    await env.run(activities.switch_traffic, switch(owner, "sam-app", 1, True))  # a retry
    await env.run(activities.switch_traffic, switch(unverified, "tina-app", 1, True))
    mails = await MailOutbox(db).recent("sam@example.com")
    assert [m.subject for m in mails] == ["sam-app was rolled back to v1"]
    assert "HTTP 503" in mails[0].body
    assert await MailOutbox(db).recent("tina@example.com") == []
    # Each rollback is an incident for operators, recorded once.
    incidents = await IncidentLog(db).search()
    assert [(i.app_id, i.kind, i.from_version, i.to_version, i.actor) for i in incidents] == [
        ("tina-app", "automatic_rollback", None, 1, "health-watch"),
        ("sam-app", "automatic_rollback", 2, 1, "health-watch"),
    ]
