"""Link shortener: validated http(s) targets, random or custom codes, redirects with hit counts."""

from activities.generation.blueprints.scaffold import Blueprint

BLUEPRINT = Blueprint(
    kind="shortener",
    label="Link Shortener",
    summary="A link shortener: short codes that redirect to http(s) links, with hit counts.",
    keywords={
        "shortener": 3,
        "url shortener": 3,
        "link shortener": 3,
        "shorten": 3,
        "short link": 3,
        "short url": 3,
        "tiny url": 2,
        "tinyurl": 2,
        "bitly": 2,
        "redirect": 2,
        "vanity url": 2,
        "link": 1,
        "url": 1,
    },
    imports=(
        "import re",
        "import secrets",
        "from collections.abc import Callable",
        "from urllib.parse import urlsplit",
        "from fastapi.responses import RedirectResponse",
    ),
)
