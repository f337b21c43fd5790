"""Moderating what an app shows: the phishing page a benign prompt might yield is caught,
every blueprint passes, and only visible text counts (not comments or identifiers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.generation.blueprints import BLUEPRINTS
from activities.generation.offline import generate_offline
from activities.moderation.visible_text import visible_text
from activities.moderation_activities import ModerationActivities
from schemas.moderation import ModerateBundleInput
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.bundles import make_bundle
from store.db import Database
from store.moderation_log import ModerationLog
from tests.activities.generation.test_generation_offline import KIND_PROMPTS
from workers.wiring import moderator

SERVER = "from fastapi import FastAPI\napp = FastAPI()\n"
PHISHING_PAGE = (
    "<title>Chase Online Banking</title><h1>Sign in</h1>"
    "<p>Your account is locked: confirm your card number, expiry date and CVV"
    " to restore access.</p><input name=card><input name=cvv>"
)


@pytest.fixture
def activities(db: Database, tmp_path: Path) -> tuple[ModerationActivities, BundleCache]:
    bundles = BundleCache(ArtifactStore(db), tmp_path / "bundles")
    return (
        ModerationActivities(
            moderator(Settings(openai_moderation=False), None), ModerationLog(db), None, bundles
        ),
        bundles,
    )


async def _verdict(
    pair: tuple[ModerationActivities, BundleCache], files: dict[str, str], deployment: str
) -> str:
    activities, bundles = pair
    base = {"requirements.txt": "fastapi\n", "tests/test_main.py": "def test_x():\n    pass\n"}
    digest = await bundles.put(make_bundle({**base, **files}))
    result = await ActivityEnvironment().run(
        activities.moderate_bundle_text,
        ModerateBundleInput(
            bundle_hash=digest, owner_id="u1", app_id="club-app", deployment_id=deployment
        ),
    )
    return result.verdict


async def test_a_phishing_page_is_blocked_in_html_and_in_python_strings(
    activities: tuple[ModerationActivities, BundleCache], db: Database
) -> None:
    in_html = {"main.py": SERVER, "static/index.html": PHISHING_PAGE}
    in_python = {"main.py": SERVER + f"PAGE = {PHISHING_PAGE!r}\n"}
    assert await _verdict(activities, in_html, "dep-html-0001") == "block"
    assert await _verdict(activities, in_python, "dep-py-00001") == "block"
    logged = await ModerationLog(db).search(verdict="block")
    assert sorted(e.deployment_id for e in logged) == ["dep-html-0001", "dep-py-00001"]
    assert "Chase" in logged[0].prompt  # the text that was judged, for reviewers


async def test_comments_and_names_are_not_shown_to_visitors(
    activities: tuple[ModerationActivities, BundleCache],
) -> None:
    quiet = {"main.py": SERVER + f"# {PHISHING_PAGE}\ndef confirm_card_number_cvv_locked(): ...\n"}
    assert await _verdict(activities, quiet, "dep-quiet-001") == "allow"


@pytest.mark.parametrize("kind", sorted(KIND_PROMPTS))
async def test_every_blueprint_passes(
    kind: str, activities: tuple[ModerationActivities, BundleCache]
) -> None:
    app = generate_offline(KIND_PROMPTS[kind])
    assert len(visible_text(app.bundle)) > 500  # the pages and labels were read
    files = {f.path: f.content for f in app.bundle.files}
    assert await _verdict(activities, files, f"dep-{kind}-0001") == "allow"
    assert {bp.kind for bp in BLUEPRINTS} == set(KIND_PROMPTS)
