"""Scraping of personal data: collecting people's photos, follower and friend lists,
contact details, posts or movements at scale, or finding every photo of a face.
Often lawful, often not: a reviewer decides (the category never blocks).

Its vocabularies (``TERMS``), the rules that weigh them (``RULES``) and the benign
contexts that lower its score (``CONTEXTS``); see the package docstring for how
they combine.
"""

from __future__ import annotations

from typing import Final

from activities.moderation.rules.helpers import (
    Context,
    Rule,
    any_of,
    near,
)
from schemas.moderation import ModerationCategory

SCRAPING: Final = ModerationCategory.SCRAPING

TERMS: Final[dict[str, str]] = {
    "scrape": any_of(
        r"scrap(?:e|es|ed|ing|ers?)",
        r"crawl\w*",
        r"harvest\w*",
        r"collect\w*",
        r"download\w*",
        r"pull\w*",
        r"extract\w*",
        r"export\w*",
        r"sav(?:e|es|ed|ing)",
        r"aggregat\w*",
        r"archiv\w*",
        r"dump\w*",
        r"(?:build|make|create)\w* (?:a |an )?(?:\S+ )?(?:database|db|spreadsheet|index|gallery"
        r"|profile|map) (?:of|per|with|from)",
        r"into (?:a |one |an )?(?:\S+ )?(?:database|spreadsheet|gallery|profile|csv)",
        r"map (?:\S+ ){0,2}who follows who",
        r"bots? that joins?",
    ),
    "personal_data": any_of(
        r"(?:profile )?(?:photos?|pictures?|pics|selfies|faces?)",
        r"(?:follower|following|friend|member|contact|attendee) ?lists?",
        r"(?:followers|following|friends)",
        r"(?:dating |linkedin |social )?profiles?",
        r"(?:real |full )?names",
        r"e-?mails?(?: addresses)?",
        r"phone numbers?",
        r"usernames",
        r"bios",
        r"(?:their |home )?locations?",
        r"movements",
        r"(?:comment|post|search|whole) history",
        r"stories",
        r"tweets",
        r"(?:public )?posts",
        r"(?:venmo |payment )?(?:payments|transactions)",
        r"(?:strava )?runs",
        r"reviews? (?:\S+ ){0,2}(?:each|every) reviewer",
        r"employers",
        r"contact details",
    ),
    "people_scope": any_of(
        r"every(?:one|body)'?s?",
        r"(?:every|each|all) (?:the )?(?:\S+ )?(?:users?|members?|people|women|men|girls|kids"
        r"|attendees|contributors|reviewers?|accounts?|activists|students|profiles|groups?)",
        r"(?:people|users|members|women|girls|kids|children|activists|contributors"
        r"|attendees|strangers)'?s?",
        r"(?:\d[\d,]*|hundreds|thousands|millions) (?:of )?(?:\S+ )?(?:accounts|people|users"
        r"|profiles|activists|members|women)",
        r"(?:certain|specific|those|these) accounts",
        r"(?:in|from|of) (?:my|our|the|a) (?:city|town|area|school|neighbou?rhood)",
        r"(?:discord|telegram|whatsapp|facebook) (?:server|group|channel)s?",
        r"(?:my ex'?s?|her|his) friends",
        r"that person",
        r"(?:who|which) (?:post|posts|posting|follow|use)",
        r"(?:users|accounts) posting",
    ),
    "face_search": any_of(
        r"face (?:search|recognition|lookup|matching|finder)",
        r"find (?:\S+ ){0,2}(?:every|all) (?:\S+ )?(?:photos?|pictures?|images?) of (?:that|a|the"
        r"|this) (?:person|woman|girl|man|guy)",
        r"(?:guess|figure out|work out|find out) who (?:they|he|she) (?:really )?(?:are|is)",
        r"(?:never|won'?t|don'?t|doesn'?t) (?:\S+ ){0,2}know (?:i|we) (?:watched|viewed|saw"
        r"|looked)",
    ),
    "ctx_scraping_benign": any_of(
        r"(?:my|our) own",
        r"(?:my|our) (?:company'?s|business'?s?|wedding|family)",
        r"anonymi[sz]\w*",
        r"official (?:data )?(?:download|export|api)",
        r"(?:job|real estate|property|rental) (?:listings|boards?|ads)",
        r"prices?",
        r"weather",
        r"news",
        r"headlines",
        r"timetables?",
        r"rss",
        r"bookmark\w*",
        r"public apis?",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(SCRAPING, 0.30, "collects personal data", "scrape", "personal_data", window=60),
    near(
        SCRAPING,
        0.60,
        "collects people's personal data at scale",
        "scrape",
        "personal_data",
        "people_scope",
        window=100,
    ),
    near(SCRAPING, 0.60, "face search or de-anonymising", "face_search"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({SCRAPING}),
        0.40,
        "own data, anonymised research or public listings",
        "ctx_scraping_benign",
    ),
)
