"""OpenAI moderation backend (``backend="openai"``), used when an API client is configured.

Our taxonomy starts with OpenAI's own categories under OpenAI's own names, so
``OPENAI_CATEGORY_MAP`` is the identity on them: each of OpenAI's scores becomes
the score of the category of the same name, and the local engine, this backend,
the moderation log and the API all speak of ``self-harm/intent`` or
``illicit/violent`` alike. The verdict follows each category's action
(``taxonomy.TAXONOMY``):

======================== ======= ====================================================
OpenAI category          action  effect on the verdict
======================== ======= ====================================================
sexual/minors            block   always block when flagged or score >= flag
a ``block`` category     block   block if flagged and score >= block, else flag when
                                 flagged or score >= flag
a ``flag`` category      flag    flag when flagged or score >= flag, never block
                                 (sexual, self-harm/intent, violence/graphic)
a category we do not     —       flag for review when flagged or score >= flag
know (a newer model's)
======================== ======= ====================================================

A category we do not know cannot appear in ``ModerationResult.categories``;
it is named, with its score, in the reason instead. OpenAI's overall
``flagged`` alone flags. ``category_applied_input_types`` (which input types,
text or image, each score applies to) is read past: we send text only.

Errors (HTTP status, timeout, connection, malformed response) raise
``ModerationBackendError``, whose message names the kind of failure and the
HTTP status, never the API key, the prompt or the response body, and which
carries no chained exception (Temporal and Sentry serialise the chain).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import openai
from openai.types import ModerationCreateResponse

from activities.moderation.taxonomy import action
from activities.moderation.thresholds import THRESHOLDS
from schemas.moderation import CategoryScore, ModerationCategory, ModerationResult, Verdict

BACKEND: Final = "openai"

OPENAI_CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
"""The categories of OpenAI's moderation models (``omni-moderation-latest``)."""

OPENAI_CATEGORY_MAP: Final[Mapping[str, ModerationCategory]] = {
    name: ModerationCategory(name) for name in OPENAI_CATEGORIES
}
"""OpenAI category -> ours: the category of the same name."""

ALWAYS_BLOCK: Final = frozenset({"sexual/minors"})
"""OpenAI categories that block even at a mid score, whatever the mapping."""

# HTTP statuses worth retrying; other 4xx (bad key, bad model) need a fix first.
_RETRYABLE_STATUS: Final = frozenset({408, 409, 429})


class ModerationBackendError(RuntimeError):
    """The moderation backend could not give a verdict.

    The message is safe to log and to put in Temporal history: it never
    contains the API key or the prompt. ``retryable`` is False for errors a
    retry cannot fix (authentication, unknown model, bad request), so the
    activity may turn them into non-retryable failures.
    """

    def __init__(self, message: str, *, status_code: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


def _backend_error(exc: openai.OpenAIError) -> ModerationBackendError:
    """Describe ``exc`` without its message or body (both may echo the request)."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        request_id = f", request id {exc.request_id}" if exc.request_id else ""
        return ModerationBackendError(
            f"OpenAI moderation failed with HTTP {status}{request_id}",
            status_code=status,
            retryable=status >= 500 or status in _RETRYABLE_STATUS,
        )
    if isinstance(exc, openai.APITimeoutError):
        return ModerationBackendError("OpenAI moderation request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return ModerationBackendError("could not connect to the OpenAI moderation endpoint")
    if isinstance(exc, openai.APIResponseValidationError):
        return ModerationBackendError("OpenAI moderation returned a malformed response")
    return ModerationBackendError(f"OpenAI moderation failed ({type(exc).__name__})")


async def _request(
    prompt: str, client: openai.AsyncOpenAI, model: str
) -> ModerationCreateResponse | ModerationBackendError:
    try:
        return await client.moderations.create(model=model, input=prompt)
    except openai.OpenAIError as exc:
        # Returned, not raised here, so the new error has no __context__ chain.
        return _backend_error(exc)


def _parse(response: ModerationCreateResponse) -> tuple[bool, dict[str, bool], dict[str, float]]:
    """``(flagged, flags, scores)`` of the first result, by OpenAI category name.

    The SDK does not validate responses, so the raw fields are checked here.
    """
    results = response.to_dict(warnings=False).get("results")
    first = results[0] if isinstance(results, list) and results else None
    if not isinstance(first, dict):
        raise ModerationBackendError("OpenAI moderation returned no result")
    categories = first.get("categories")
    category_scores = first.get("category_scores")
    if not isinstance(categories, dict) or not isinstance(category_scores, dict):
        raise ModerationBackendError("OpenAI moderation returned a malformed response")
    flags = {str(name): value is True for name, value in categories.items()}
    scores = {
        str(name): min(1.0, max(0.0, float(value)))
        for name, value in category_scores.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    return first.get("flagged") is True, flags, scores


def _verdict(flagged: bool, flags: Mapping[str, bool], scores: Mapping[str, float]) -> Verdict:
    if any(flags.get(name) or scores.get(name, 0.0) >= THRESHOLDS.flag for name in ALWAYS_BLOCK):
        return "block"
    for name, score in scores.items():
        category = OPENAI_CATEGORY_MAP.get(name)
        if category is None or not flags.get(name):
            continue
        if THRESHOLDS.verdict(score, action(category)) == "block":
            return "block"
    if flagged or any(flags.values()) or max(scores.values(), default=0.0) >= THRESHOLDS.flag:
        return "flag"
    return "allow"


def _reason(flagged: bool, flags: Mapping[str, bool], scores: Mapping[str, float]) -> str:
    """OpenAI's category names and scores only: never text from the request or response."""
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    flagged_names = [f"{name} {score:.2f}" for name, score in ranked if flags.get(name)]
    mid_names = [
        f"{name} {score:.2f}"
        for name, score in ranked
        if not flags.get(name) and score >= THRESHOLDS.flag
    ]
    parts = []
    if flagged_names:
        parts.append("flagged " + ", ".join(flagged_names[:5]))
    elif flagged:
        parts.append("flagged")
    if mid_names:
        parts.append("mid scores " + ", ".join(mid_names[:5]))
    if not parts:
        highest = f" (highest {ranked[0][0]} {ranked[0][1]:.2f})" if ranked else ""
        parts.append("nothing flagged" + highest)
    return "; ".join(parts)


async def moderate_with_openai(
    prompt: str, *, client: openai.AsyncOpenAI, model: str
) -> ModerationResult:
    """Moderate ``prompt`` with OpenAI's moderation endpoint (backend ``"openai"``).

    Raises:
        ModerationBackendError: the request failed or the answer was unusable.
    """
    outcome = await _request(prompt, client, model)
    if isinstance(outcome, ModerationBackendError):
        raise outcome
    flagged, flags, scores = _parse(outcome)

    ours: dict[ModerationCategory, float] = {}
    for name, score in scores.items():
        category = OPENAI_CATEGORY_MAP.get(name)
        if category is not None:
            ours[category] = max(ours.get(category, 0.0), score)
    categories = sorted(
        (
            CategoryScore(category=category, score=round(score, 3))
            for category, score in ours.items()
            if round(score, 3) > 0.0
        ),
        key=lambda item: (-item.score, item.category.value),
    )
    verdict = _verdict(flagged, flags, scores)
    return ModerationResult(
        verdict=verdict,
        categories=tuple(categories),
        reason=_reason(flagged, flags, scores),
        backend=BACKEND,
    )
