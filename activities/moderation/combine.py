"""Combining the results of several moderation backends into one verdict."""

from __future__ import annotations

from collections.abc import Sequence

from activities.moderation.thresholds import VERDICT_RANK
from schemas.moderation import CategoryScore, ModerationCategory, ModerationResult


def combine(results: Sequence[ModerationResult]) -> ModerationResult:
    """Merge ``results``: the strictest verdict wins (block > flag > allow).

    Categories keep the highest score any backend gave them; the backend is
    the backends joined with "+" in order ("local+openai"); the reason joins
    the reasons of the results that decided the verdict, each prefixed with
    its backend when there is more than one result.

    Raises:
        ValueError: ``results`` is empty.
    """
    if not results:
        raise ValueError("combine() needs at least one moderation result")
    verdict = max((result.verdict for result in results), key=VERDICT_RANK.__getitem__)

    best: dict[ModerationCategory, float] = {}
    for result in results:
        for item in result.categories:
            best[item.category] = max(best.get(item.category, 0.0), item.score)
    categories = tuple(
        CategoryScore(category=category, score=score)
        for category, score in sorted(best.items(), key=lambda kv: (-kv[1], kv[0].value))
    )

    backends = [part for result in results for part in result.backend.split("+")]
    deciding = [result for result in results if result.verdict == verdict]
    if len(results) == 1:
        reason = results[0].reason
    else:
        reason = " | ".join(f"{result.backend}: {result.reason}" for result in deciding)
    return ModerationResult(
        verdict=verdict,
        categories=categories,
        reason=reason,
        backend="+".join(dict.fromkeys(backends)),
    )
