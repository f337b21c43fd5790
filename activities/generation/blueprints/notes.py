"""Notes: titled notes with tags, pinning and search; also the fallback kind."""

import re

from activities.generation.blueprints.prompt import listed
from activities.generation.blueprints.scaffold import Blueprint, Brief, Settings


def _settings(brief: Brief) -> Settings:
    tags = listed(brief.prompt, ("tags", "tagged", "labels", "labelled"), max_items=8, max_chars=30)
    slugs = (re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-") for tag in tags)
    return {"SUGGESTED_TAGS": tuple(dict.fromkeys(s for s in slugs if s))}


BLUEPRINT = Blueprint(
    kind="notes",
    label="Notes",
    summary="Notes: titled notes with tags, pinning and search.",
    keywords={
        "note": 3,
        "notebook": 3,
        "notepad": 3,
        "memo": 2,
        "journal": 2,
        "diary": 2,
        "jot": 2,
        "write down": 2,
        "scratchpad": 2,
        "recipe": 1,
        "idea": 1,
        "snippet": 1,
    },
    imports=(
        "import json",
        "import re",
        "from collections import Counter",
        "from fastapi import Query",
    ),
    settings=_settings,
)
