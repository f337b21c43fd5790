"""The OpenAI backend against a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import socket

import openai
import pytest

from activities.moderation import (
    OPENAI_CATEGORY_MAP,
    TAXONOMY,
    ModerationBackendError,
    moderate_with_openai,
)
from schemas.moderation import CategoryScore, ModerationCategory
from tests.activities.moderation.fake_openai_server import (
    API_KEY,
    OPENAI_CATEGORIES,
    FakeModerationAPI,
    Reply,
    moderation_body,
)

MODEL = "omni-moderation-latest"


async def test_request_carries_model_input_and_bearer_key(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI
) -> None:
    prompt = "a todo list with due dates (request shape)"

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    [request] = fake_openai.requests_for(prompt)
    assert request.path == "/v1/moderations"
    assert request.body == {"model": MODEL, "input": prompt}
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert result.backend == "openai"


async def test_unflagged_response_allows(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI
) -> None:
    prompt = "a recipe site (unflagged)"
    fake_openai.reply(prompt, Reply(body=moderation_body(scores={"hate": 0.02})))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert result.verdict == "allow"
    assert result.reason == "nothing flagged (highest hate 0.02)"
    scores = {item.category: item.score for item in result.categories}
    assert scores == {ModerationCategory.HATE: 0.02}


async def test_flagged_high_score_blocks_and_maps_categories(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI
) -> None:
    prompt = "hateful site (flagged high)"
    body = moderation_body(
        flagged=True,
        scores={"hate/threatening": 0.93, "harassment": 0.71, "self-harm/intent": 0.2},
        flags={"hate/threatening": True, "harassment": True},
    )
    fake_openai.reply(prompt, Reply(body=body))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert result.verdict == "block"
    scores = {item.category: item.score for item in result.categories}
    assert scores[ModerationCategory.HATE_THREATENING] == 0.93  # OpenAI's names are ours
    assert scores[ModerationCategory.HARASSMENT] == 0.71
    assert scores[ModerationCategory.SELF_HARM_INTENT] == 0.2
    assert result.categories[0].category == ModerationCategory.HATE_THREATENING
    assert result.reason.startswith("flagged hate/threatening 0.93, harassment 0.71")


async def test_flagged_but_borderline_is_flagged_for_review(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI
) -> None:
    prompt = "borderline (flagged mid)"
    body = moderation_body(flagged=True, scores={"illicit": 0.55}, flags={"illicit": True})
    fake_openai.reply(prompt, Reply(body=body))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert result.verdict == "flag"
    assert {item.category: item.score for item in result.categories}[
        ModerationCategory.ILLICIT
    ] == 0.55


async def test_mid_scores_without_flag_are_flagged_for_review(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI
) -> None:
    prompt = "a zombie shooter game (violence mid)"
    fake_openai.reply(prompt, Reply(body=moderation_body(scores={"violence": 0.5})))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert result.verdict == "flag"
    assert result.reason == "mid scores violence 0.50"
    assert result.categories == (CategoryScore(category=ModerationCategory.VIOLENCE, score=0.5),)


@pytest.mark.parametrize("name", ["violence/graphic", "sexual", "self-harm/intent"])
async def test_a_flag_category_never_blocks(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI, name: str
) -> None:
    prompt = f"(flag category {name} flagged high)"
    body = moderation_body(flagged=True, scores={name: 0.97}, flags={name: True})
    fake_openai.reply(prompt, Reply(body=body))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert TAXONOMY[ModerationCategory(name)].action == "flag"
    assert result.verdict == "flag"
    assert result.categories[0] == CategoryScore(category=ModerationCategory(name), score=0.97)


@pytest.mark.parametrize(
    "name",
    [name for name in OPENAI_CATEGORIES if TAXONOMY[ModerationCategory(name)].action == "block"],
)
async def test_every_block_category_blocks_when_flagged_high(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI, name: str
) -> None:
    prompt = f"(block category {name} flagged high)"
    body = moderation_body(flagged=True, scores={name: 0.9}, flags={name: True})
    fake_openai.reply(prompt, Reply(body=body))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert result.verdict == "block"
    assert result.categories[0] == CategoryScore(category=ModerationCategory(name), score=0.9)


def test_every_openai_category_is_ours_under_the_same_name() -> None:
    assert set(OPENAI_CATEGORY_MAP) == set(OPENAI_CATEGORIES)
    for name, category in OPENAI_CATEGORY_MAP.items():
        assert category.value == name


async def test_sexual_minors_always_blocks(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI
) -> None:
    prompt = "(sexual/minors flagged at a low score)"
    body = moderation_body(
        flagged=True, scores={"sexual/minors": 0.3}, flags={"sexual/minors": True}
    )
    fake_openai.reply(prompt, Reply(body=body))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert result.verdict == "block"
    assert "flagged sexual/minors 0.30" in result.reason


async def test_old_and_new_category_sets_are_tolerated(
    fake_openai: FakeModerationAPI, openai_client: openai.AsyncOpenAI
) -> None:
    prompt = "(category set of another model version)"
    body = moderation_body(flagged=True, scores={"new-thing": 0.8}, flags={"new-thing": True})
    for key in ("categories", "category_scores", "category_applied_input_types"):
        del body["results"][0][key]["illicit"]
        del body["results"][0][key]["illicit/violent"]
    fake_openai.reply(prompt, Reply(body=body))

    result = await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    assert result.verdict == "flag"
    assert "flagged new-thing 0.80" in result.reason


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (401, False)])
async def test_http_error_raises_without_key_or_prompt(
    fake_openai: FakeModerationAPI,
    openai_client: openai.AsyncOpenAI,
    status: int,
    retryable: bool,
) -> None:
    prompt = f"my secret business plan number {status} (server error)"
    # A careless server echoing the request: none of it may reach our error.
    echo = {"error": {"message": f"failed on {prompt!r} with key {API_KEY}", "type": "server"}}
    fake_openai.reply(prompt, Reply(status=status, body=echo))

    with pytest.raises(ModerationBackendError) as caught:
        await moderate_with_openai(prompt, client=openai_client, model=MODEL)

    error = caught.value
    text = f"{error} {error!r} {error.args}"
    assert f"HTTP {status}" in str(error)
    assert API_KEY not in text
    assert "secret business plan" not in text
    assert error.__cause__ is None
    assert error.__context__ is None
    assert error.status_code == status
    assert error.retryable is retryable


async def test_timeout_raises_backend_error(fake_openai: FakeModerationAPI) -> None:
    prompt = "(slow server)"
    fake_openai.reply(prompt, Reply(delay_s=1.0))
    client = openai.AsyncOpenAI(
        base_url=fake_openai.base_url, api_key=API_KEY, max_retries=0, timeout=0.2
    )
    try:
        with pytest.raises(ModerationBackendError, match="timed out") as caught:
            await moderate_with_openai(prompt, client=client, model=MODEL)
    finally:
        await client.close()
    assert caught.value.retryable
    assert prompt not in str(caught.value)


async def test_connection_refused_raises_backend_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY, max_retries=0
    )
    try:
        with pytest.raises(ModerationBackendError, match="could not connect"):
            await moderate_with_openai("(no server)", client=client, model=MODEL)
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "modr-x", "model": MODEL, "results": []}, "no result"),
        ({}, "no result"),
        ({"results": "nonsense"}, "no result"),
        ({"results": [{"flagged": True}]}, "malformed"),
        ({"results": [{"flagged": True, "categories": [], "category_scores": {}}]}, "malformed"),
    ],
    ids=["empty", "no-results-key", "results-not-a-list", "no-categories", "categories-not-a-map"],
)
async def test_unusable_response_raises_backend_error(
    fake_openai: FakeModerationAPI,
    openai_client: openai.AsyncOpenAI,
    body: dict[str, object],
    message: str,
) -> None:
    prompt = f"(unusable response {sorted(body)} {body.get('results')!r})"
    fake_openai.reply(prompt, Reply(body=body))

    with pytest.raises(ModerationBackendError, match=message):
        await moderate_with_openai(prompt, client=openai_client, model=MODEL)
