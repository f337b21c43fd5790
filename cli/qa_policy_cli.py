"""``mb qa-policy``: an app's QA floor, and operators' overrides below the platform's
minimum (audited, as through the API)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.markup import escape

from cli.endpoints import database
from cli.runner import AppArg, CommandError, console, fail, load_settings, run
from schemas.audit import Actor
from schemas.qa import QAPolicy
from schemas.settings import Settings
from schemas.text import refuse_control_characters
from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from store.qa_policy_overrides import QAPolicyOverride, QAPolicyOverrides

qa_policy_app = typer.Typer(help="An app's QA floor; operators may lower it (audited).")


@qa_policy_app.command("show")
def qa_policy_show(app_id: AppArg) -> None:
    """The QA floor an app's deployments are held to: the platform's, or an override."""

    async def main() -> int:
        found = await show(load_settings(), app_id)
        if found.override is not None:
            o = found.override
            console.print(
                f"override by {o.set_by} at {o.set_at:%Y-%m-%d %H:%M}: {escape(o.reason)}"
            )
        console.print_json(found.floor.model_dump_json())
        return 0

    run(main())


@qa_policy_app.command("set")
def qa_policy_set(
    app_id: AppArg,
    reason: Annotated[str, typer.Option(help="why (audited)")],
    policy: Annotated[str, typer.Option(help="knobs that differ from the platform's, JSON")],
    operator: Annotated[str, typer.Option(help="who decides (audited)")] = "operator",
) -> None:
    """Set an app's QA floor, below the platform's minimum if need be (audited)."""

    async def main() -> int:
        changes = json.loads(policy)
        if not isinstance(changes, dict):
            fail("--policy must be a JSON object")
        o = await set_floor(load_settings(), app_id, changes, reason=reason, operator=operator)
        console.print(f"{app_id}: QA floor set by {o.set_by}")
        return 0

    run(main())


@qa_policy_app.command("clear")
def qa_policy_clear(
    app_id: AppArg,
    reason: Annotated[str, typer.Option(help="why (audited)")],
    operator: Annotated[str, typer.Option(help="who decides (audited)")] = "operator",
) -> None:
    """Back to the platform's minimum (audited)."""

    async def main() -> int:
        await clear(load_settings(), app_id, reason=reason, operator=operator)
        console.print(f"{app_id}: back to the platform's QA minimum")
        return 0

    run(main())


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
