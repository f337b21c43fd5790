"""Doxxing: finding or exposing where a person lives, who they are, dossiers on them.

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

DOXXING: Final = ModerationCategory.DOXXING

TERMS: Final[dict[str, str]] = {
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
}

RULES: Final[tuple[Rule, ...]] = (
    near(DOXXING, 0.80, "doxxing / dossier on a person", "dox"),
    near(DOXXING, 0.35, "mentions doxxing", "dox_topic"),
    near(
        DOXXING,
        0.80,
        "finds where a person lives",
        "find",
        "home_address",
        "person",
        window=60,
        severe=True,
    ),
)

CONTEXTS: Final[tuple[Context, ...]] = ()
