"""Surveillance: tracking a person covertly, spyware on their phone, hidden recording.

Its vocabularies (``TERMS``), the rules that weigh them (``RULES``) and the benign
contexts that lower its score (``CONTEXTS``); see the package docstring for how
they combine.
"""

from __future__ import annotations

from typing import Final

from activities.moderation.rules.helpers import (
    WITHOUT_CONSENT,
    Context,
    Rule,
    any_of,
    near,
)
from schemas.moderation import ModerationCategory

DOXXING: Final = ModerationCategory.DOXXING
SURVEILLANCE: Final = ModerationCategory.SURVEILLANCE

TERMS: Final[dict[str, str]] = {
    "track": any_of(
        r"track\w*",
        r"trac(?:e|es|ing)",
        r"monitor\w*",
        r"follow\w*",
        r"spy\w*",
        r"locat(?:e|es|ing)",
        r"pinpoint\w*",
        r"geolocat\w*",
        r"watch\w*",
        r"surveil\w*",
        r"keep tabs on",
        r"know where",
        r"see where",
    ),
    "location": any_of(
        r"locations?",
        r"whereabouts",
        r"gps",
        r"geo ?locations?",
        r"coordinates",
        r"movements?",
        r"where (?:he|she|they|someone|a person|my \w+) (?:is|are|goes|go|lives?|works?"
        r"|sleeps?|hangs out)",
        r"(?:home|real|physical|street|house|current|live) (?:address|location)",
        r"addresses",
        r"daily routines?",
    ),
    "no_consent": any_of(
        WITHOUT_CONSENT,
        r"secret(?:ly)?",
        r"covert(?:ly)?",
        r"hidden",
        r"in secret",
        r"undetect\w*",
        r"stealth\w*",
        r"(?:they|he|she) (?:won'?t|will never|can'?t|cannot) (?:know|notice|find out|tell)",
        r"behind (?:their|his|her) backs?",
        r"so (?:they|he|she) (?:doesn'?t|don'?t|won'?t) (?:know|notice)",
    ),
    "spy_app": any_of(
        r"stalkerware",
        r"spy ?(?:apps?|ware|software|tools?)",
        r"phone spy",
        r"spy on (?:\S+ ){0,2}(?:phones?|messages|texts|chats|whatsapp|location|someone|my "
        r"(?:ex|wife|husband|girlfriend|boyfriend|partner|spouse)|her|him|them|people)",
        r"(?:read|intercept|monitor|see|access)\w* (?:\S+ ){0,2}(?:her|his|their|someone'?s"
        r"|another person'?s|my (?:wife|husband|girlfriend|boyfriend|partner|spouse|ex)'?s?)"
        r" (?:texts|messages|whatsapp|dms|e-?mails|chats|calls|photos)",
    ),
    "ctx_stalking_consent": any_of(
        r"check\w* (?:\S+ ){0,3}for (?:stalkerware|spyware|trackers?|bugs|hidden cameras|airtags)",
        r"my own (?:location|phone|devices?|runs?|workouts?|trips?|car|bike|keys)",
        r"find my (?:phone|device|keys|car|bike)",
        r"lost (?:phone|device|keys)",
        r"family (?:location )?sharing",
        r"(?:with|given|after getting|having) (?:\S+ ){0,2}consent",
        r"(?:who|that) (?:opt|consent|agree)\w*",
        r"opt(?:s|ed)?[\s-]?in",
        r"consensual\w*",
        r"mutual\w* shar\w*",
        r"(?:package|parcel|delivery|shipment|order|fleet|bus|flight|train) (?:tracking|tracker)",
        r"report\w* (?:\S+ )?(?:stalking|harassment|dox\w*)",
        r"protect\w* (?:\S+ ){0,2}(?:from|against) (?:\S+ )?(?:dox\w*|stalk\w*|trackers?)",
        r"anti[\s-]?stalk\w*",
        r"detect\w* (?:\S+ )?(?:stalkerware|spyware|trackers?|airtags?)",
        r"(?:airtag|tracker|stalkerware|spyware|gps tracker|bug)s? (?:detector|detection|scanner"
        r"|finder)s?",
        r"warn\w* (?:\S+ )?(?:if|when) (?:someone|somebody|a tracker|an airtag|you'?re being)",
        r"safety plans?",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(SURVEILLANCE, 0.50, "tracks a person's location", "track", "location", "person"),
    near(
        SURVEILLANCE,
        0.65,
        "tracks a person without consent",
        "track",
        "person",
        "no_consent",
        window=100,
        severe=True,
    ),
    near(SURVEILLANCE, 0.75, "spyware for watching a person", "spy_app"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({SURVEILLANCE, DOXXING}),
        0.45,
        "consensual or own-device tracking",
        "ctx_stalking_consent",
    ),
)
