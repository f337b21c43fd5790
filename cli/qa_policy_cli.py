"""``mb qa-policy``: an app's QA floor, and operators' overrides below the platform's
minimum (audited, as through the API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.commands import CommandError, database
from schemas.audit import Actor
from schemas.qa import QAPolicy
from schemas.settings import Settings
from schemas.text import refuse_control_characters
from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from store.qa_policy_overrides import QAPolicyOverride, QAPolicyOverrides


@dataclass(frozen=True)
class Floor:
    """An app's QA floor: the platform's minimum, the override if any, the result."""

    platform: QAPolicy
    override: QAPolicyOverride | None

    @property
    def floor(self) -> QAPolicy:
        """What a deployment of the app may not go below."""
        return self.platform if self.override is None else self.override.policy


async def _existing(db: Database, app_id: str) -> None:
    if await AppRepository(db).owner(app_id) is None:
        raise CommandError(f"app {app_id!r} not found")


async def show(settings: Settings, app_id: str) -> Floor:
    """The app's floor."""
    async with database(settings) as db:
        await _existing(db, app_id)
        override = await QAPolicyOverrides(db, AuditLog(db)).get(app_id)
    return Floor(settings.qa_policy(), override)


async def set_floor(
    settings: Settings, app_id: str, changes: dict[str, Any], *, reason: str, operator: str
) -> QAPolicyOverride:
    """Override the app's floor: the platform's policy with ``changes`` (audited)."""
    refuse_control_characters(reason, "reason")
    if unknown := sorted(set(changes) - set(QAPolicy.model_fields)):
        raise CommandError(f"unknown QA policy fields: {', '.join(unknown)}")
    platform = settings.qa_policy()
    policy = QAPolicy.model_validate({**platform.model_dump(), **changes})
    async with database(settings) as db:
        await _existing(db, app_id)
        return await QAPolicyOverrides(db, AuditLog(db)).set(
            app_id, policy, reason=reason, actor=Actor(user_id=operator), platform=platform
        )


async def clear(settings: Settings, app_id: str, *, reason: str, operator: str) -> None:
    """Back to the platform's minimum (audited)."""
    refuse_control_characters(reason, "reason")
    async with database(settings) as db:
        if not await QAPolicyOverrides(db, AuditLog(db)).clear(
            app_id, reason=reason, actor=Actor(user_id=operator)
        ):
            raise CommandError(f"app {app_id!r} has no QA override")
