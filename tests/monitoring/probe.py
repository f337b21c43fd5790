"""A workflow and an activity that fail, for the Sentry tests (kept apart: the
workflow sandbox imports this module)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

SECRET = "sk-live-PLANTED-4f1c9a"  # a secret value the process decrypted
TOKEN = "mbt_" + "T0kenPlanted" * 4
PROMPT = "PLANTED-PROMPT build me a bank login page"
CODE = "PLANTED_CODE = 'def handler(): pass'"


class DeployIn(BaseModel):
    app_id: str
    prompt: str


@activity.defn(name="generate_bundle_for_sentry")
async def failing_generate(input: DeployIn) -> str:
    generated = CODE  # a local variable: never sent
    session_cookie = f"mb_session={TOKEN}"
    raise RuntimeError(
        f"backend broke while generating for {input.app_id} (key {SECRET}, {len(generated)}"
        f" bytes, {len(session_cookie)})"
    )


@workflow.defn(name="SentryProbe")
class SentryProbe:
    @workflow.run
    async def run(self, input: DeployIn) -> str:
        result: str = await workflow.execute_activity(
            failing_generate,
            input,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return result
