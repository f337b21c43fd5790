"""For operators: an app's QA floor, which may sit below the platform's minimum (audited).

A deployment may ask for a stricter gate than its app's floor, never a weaker one
(``POST /v1/apps/{app}/deployments`` refuses it with 422).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from api.deps import AppId, CurrentOperator, ServicesDep, current_operator
from api.routes.deployments import ERRORS
from schemas.qa import QAPolicy
from schemas.text import refuse_control_characters
from store.qa_policy_overrides import QAPolicyOverride, QAPolicyOverrides

router = APIRouter(prefix="/v1/qa-overrides", tags=["review"])


def _plain_reason(value: str) -> str:
    return refuse_control_characters(value, "reason")


class QAOverrideBody(BaseModel):
    """``PUT /v1/qa-overrides/{app_id}``: the app's new floor and why."""

    model_config = ConfigDict(extra="forbid")

    policy: QAPolicy
    reason: str = Field(min_length=1, max_length=1000, description="why (audited)")

    @field_validator("reason")
    @classmethod
    def _reason_is_text(cls, value: str) -> str:
        return _plain_reason(value)

    @field_validator("policy", mode="before")
    @classmethod
    def _known_knobs(cls, value: object) -> object:
        # A misspelt knob would silently keep the platform's value: say so instead.
        if isinstance(value, dict) and (unknown := sorted(set(value) - set(QAPolicy.model_fields))):
            raise ValueError(f"unknown QA policy fields: {', '.join(map(str, unknown))[:200]}")
        return value


class QAFloorView(BaseModel):
    """An app's QA floor: the platform's minimum, the operator's override, the result."""

    app_id: str
    platform: QAPolicy
    override: QAPolicyOverride | None
    floor: QAPolicy


async def _existing(services: ServicesDep, app_id: str) -> None:
    if await services.apps.owner(app_id) is None:
        raise HTTPException(404, f"app {app_id!r} not found")


def _overrides(services: ServicesDep) -> QAPolicyOverrides:
    return QAPolicyOverrides(services.db, services.audit)


@router.get(
    "/{app_id}",
    response_model=QAFloorView,
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def get_floor(app_id: AppId, services: ServicesDep) -> QAFloorView:
    """The QA floor deployments of this app are held to."""
    await _existing(services, app_id)
    platform = services.settings.qa_policy()
    override = await _overrides(services).get(app_id)
    return QAFloorView(
        app_id=app_id,
        platform=platform,
        override=override,
        floor=platform if override is None else override.policy,
    )


@router.put("/{app_id}", response_model=QAPolicyOverride, responses=ERRORS)
async def set_floor(
    app_id: AppId, body: QAOverrideBody, operator: CurrentOperator, services: ServicesDep
) -> QAPolicyOverride:
    """Set the app's floor (it may be below the platform's minimum); audited."""
    await _existing(services, app_id)
    return await _overrides(services).set(
        app_id,
        body.policy,
        reason=body.reason,
        actor=operator,
        platform=services.settings.qa_policy(),
    )


@router.delete("/{app_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def clear_floor(
    app_id: AppId,
    operator: CurrentOperator,
    services: ServicesDep,
    reason: Annotated[
        str, Query(min_length=1, max_length=1000), AfterValidator(_plain_reason)
    ] = "no reason given",
) -> None:
    """Back to the platform's minimum; audited."""
    if not await _overrides(services).clear(app_id, reason=reason, actor=operator):
        raise HTTPException(404, f"app {app_id!r} has no QA override")
