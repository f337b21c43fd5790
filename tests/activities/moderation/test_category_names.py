"""One set of category names everywhere: the local engine, the OpenAI backend, the
moderation log and the API speak the taxonomy's names, and what was recorded under
the previous names (log rows, workflow histories) reads as the category that took
each over (real PostgreSQL for the log)."""

from __future__ import annotations

import json
import re
from importlib import resources

from activities.moderation import OPENAI_CATEGORY_MAP, TAXONOMY
from activities.moderation.rules import RULES
from schemas.moderation import LEGACY_NAMES, ModerationCategory, ModerationResult
from store.db import Database
from store.moderation_log import ModerationLog
from tests.activities.moderation.eval import CATEGORIES

MIGRATION = "0017_moderation_taxonomy.sql"


def test_the_taxonomy_is_the_one_the_evaluation_set_is_labelled_with() -> None:
    assert [category.value for category in ModerationCategory] == list(CATEGORIES)
    assert set(TAXONOMY) == set(ModerationCategory)
    assert {entry.action for entry in TAXONOMY.values()} == {"block", "flag"}
    assert set(OPENAI_CATEGORY_MAP.values()) <= set(ModerationCategory)
    assert {rule.category for rule in RULES} <= set(ModerationCategory)


def test_a_result_recorded_under_old_names_reads_under_new_ones() -> None:
    """A ModerationResult in a workflow history written before the taxonomy."""
    old = {
        "verdict": "block",
        "reason": "blocked: stalking 0.80",
        "backend": "local",
        "categories": [{"category": name, "score": 0.5} for name in LEGACY_NAMES],
    }

    result = ModerationResult.model_validate_json(json.dumps(old))

    assert [item.category.value for item in result.categories] == list(LEGACY_NAMES.values())
    assert ModerationCategory("stalking") is ModerationCategory.SURVEILLANCE


def test_the_migration_renames_exactly_the_legacy_names() -> None:
    sql = resources.files("store.migrations").joinpath(MIGRATION).read_text()

    renames = dict(re.findall(r"WHEN '([\w-]+)' THEN '([\w/-]+)'", sql))

    assert renames == LEGACY_NAMES
    assert all(ModerationCategory(new).value == new for new in renames.values())


async def test_logged_verdicts_under_old_names_are_renamed(db: Database) -> None:
    """The migration applied to a log holding rows from before it, as on an upgrade."""
    old_names = {
        "self_harm": 0.9,
        "stalking": 0.5,
        "cryptomining": 0.3,
        "malware": 0.7,
        "ddos": 0.2,
        "phishing": 0.1,
    }
    async with db.connection() as conn:
        await conn.execute("DELETE FROM schema_migrations WHERE name = %s", (MIGRATION,))
        for deployment, categories in (("old", old_names), ("new", {"hate/threatening": 0.8})):
            await conn.execute(
                "INSERT INTO moderation_log (deployment_id, owner_id, app_id, prompt,"
                " prompt_sha256, verdict, categories, reason, backend)"
                " VALUES (%s, 'eve', 'app', 'p', 'h', 'block', %s, 'r', 'local')",
                (deployment, json.dumps(categories)),
            )

    assert await db.migrate() == [MIGRATION]

    entries = {entry.deployment_id: entry for entry in await ModerationLog(db).recent()}
    assert entries["old"].categories == {
        "self-harm": 0.9,
        "surveillance": 0.5,
        "malware": 0.7,  # cryptomining (0.3) joined malware: the higher score stays
        "illicit": 0.2,
        "phishing": 0.1,
    }
    assert entries["new"].categories == {"hate/threatening": 0.8}
    for entry in entries.values():
        assert all(ModerationCategory(name).value == name for name in entry.categories)
