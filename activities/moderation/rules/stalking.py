"""Stalking and doxxing: tracking a person, finding where they live, dossiers, spyware.

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

STALKING: Final = ModerationCategory.STALKING

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
    "person": any_of(
        r"someone'?s?",
        r"somebody'?s?",
        r"a (?:specific |particular |random |private )?person'?s?",
        r"(?:a|this|that|the|some) (?:girl|woman|guy|man|stranger|celebrity|streamer|journalist"
        r"|coworker|colleague|neighbou?r|classmate|kid|teen|person)'?s?",
        r"(?:my|an|her|his|their) (?:ex|ex-?(?:wife|husband|girlfriend|boyfriend|partner)|wife"
        r"|husband|girlfriend|boyfriend|partner|spouse|crush|coworker|colleague|neighbou?r"
        r"|boss|roommate|classmate|target)'?s?",
        r"(?:him|her)",
        r"any(?:one|body)'?s?",
        r"(?:a|any|the) target'?s?",
        r"(?:by|from) (?:their |just (?:a |their )?|only (?:a |their )?)?(?:name|username"
        r"|phone number|photo|picture|e-?mail(?: address)?|license plate|ip address|handle)",
        r"private (?:individuals?|citizens?|people)",
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
    "dox_topic": any_of(r"dox\w*"),
    "dox": any_of(
        r"dox(?:x)?(?:es|ed|ing)? (?:this|that|a|the|some|someone|somebody|people|him|her|them|my"
        r"|any|users?|journalists?|streamers?|anyone)",
        r"dossiers?",
        r"(?:compil|gather|collect|aggregat|assembl|build|scrap|pull|dig|find|uncover|expos)\w*"
        r" (?:\S+ ){0,2}(?:everything|all (?:the )?(?:info\w*|data|details)|personal (?:info\w*"
        r"|details|data)|private (?:info\w*|details|data)|profiles?|info\w*|details|data|dirt)"
        r" (?:about|on|of) (?:a (?:specific |particular )?person|someone|somebody|him|her"
        r"|my ex|an ex|anyone|a target|private (?:people|individuals|citizens)|specific people"
        r"|a (?:journalist|streamer|celebrity|girl|woman|guy|man|coworker|neighbou?r))",
    ),
    "find": any_of(
        r"find\w*",
        r"get",
        r"look ?up",
        r"lookup",
        r"reveal\w*",
        r"discover\w*",
        r"uncover\w*",
        r"expos\w*",
        r"figure out",
        r"show\w* me",
        r"tell\w* me",
        r"locat(?:e|es|ing)",
        r"obtain\w*",
        r"publish\w*",
        r"post",
        r"search\w*",
    ),
    "home_address": any_of(
        r"home address(?:es)?",
        r"(?:real|physical|street|house|residential|exact|precise|current) address(?:es)?",
        r"where (?:\S+ ){1,3}lives?",
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
    near(STALKING, 0.50, "tracks a person's location", "track", "location", "person"),
    near(
        STALKING,
        0.65,
        "tracks a person without consent",
        "track",
        "person",
        "no_consent",
        window=100,
        severe=True,
    ),
    near(STALKING, 0.80, "doxxing / dossier on a person", "dox"),
    near(STALKING, 0.35, "mentions doxxing", "dox_topic"),
    near(
        STALKING,
        0.80,
        "finds where a person lives",
        "find",
        "home_address",
        "person",
        window=60,
        severe=True,
    ),
    near(STALKING, 0.75, "spyware for watching a person", "spy_app"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({STALKING}), 0.45, "consensual or own-device tracking", "ctx_stalking_consent"
    ),
)
