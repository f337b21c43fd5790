"""Sexual content: explicit content between adults (``sexual``, sent to review) and any
sexual content involving minors or the grooming of children (``sexual/minors``, blocked).

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

SEXUAL: Final = ModerationCategory.SEXUAL
SEXUAL_MINORS: Final = ModerationCategory.SEXUAL_MINORS

_UNDER_18 = r"(?:1[0-7]|[1-9])"

TERMS: Final[dict[str, str]] = {
    "explicit": any_of(
        r"porn\w*",
        r"xxx",
        r"nsfw",
        r"erotic\w*",
        r"sexually explicit",
        r"explicit (?:\S+ )?(?:photos?|pics?|pictures?|images?|videos?|clips?|content|selfies"
        r"|roleplay|role[\s-]play|stories|story|fan ?fiction|fanfic|chats?|material|scenes?"
        r"|uploads?|screenshots?|shows?|audio|demos?|product demo)",
        r"nudes?",
        r"nude (?:pics|photos|pictures|images|selfies|videos)",
        r"naked (?:pics|photos|pictures|images|selfies|videos|bodies)",
        r"look(?:s)? naked",
        r"topless",
        r"hentai",
        r"fetish\w*",
        r"kink\w*",
        r"(?:web)?cam (?:sites?|girls?|boys?|models?|shows?|performers?)",
        r"only ?fans",
        r"sext\w*",
        r"lewd",
        r"dirty talk\w*",
        r"escorts?",
        r"escort (?:directory|service|agency|ads?)",
        r"strip ?clubs?",
        r"strippers?",
        r"adult (?:sites?|content|videos?|entertainment|performers?|stories|chat|industry"
        r"|toys?|webcams?|comics?|games?|films?|movies?)",
        r"sex (?:toys?|videos?|chat|cams?|tapes?|scenes?|shows?|workers?|stories|games?)",
        r"sexual (?:roleplay|role[\s-]play|content|chat|fantas\w*|services?|favou?rs?)",
        r"smut\w*",
        r"hookups?",
        r"18\s?\+",
        r"private shows?",
        r"(?:worn|used) (?:underwear|panties|socks)",
        r"onlyfans[\s-]style",
        r"dildos?",
        r"vibrators?",
    ),
    "sexual_act": any_of(
        r"sex (?:with|acts?|scenes?|videos?|chat|tapes?|games?|stories)",
        r"sexual(?!\s?(?:health|education|ed\b|abuse (?:prevention|awareness|hotlines?)))\w*",
        r"sexually",
        r"sexy",
        r"undress\w*",
        r"nudif\w*",
        r"nude\w*",
        r"naked",
        r"erotic\w*",
        r"explicit",
        r"porn\w*",
        r"lewd",
        r"in (?:bed|their underwear|bikinis?|lingerie)",
        r"private fun",
        r"intimate",
        r"seduc\w*",
        r"molest\w*",
        r"(?:comment|comments|commenting) sexually",
        r"sexts?",
        r"sexting",
        r"hentai",
        r"fetish\w*",
        r"perform\w* for tips",
        r"attracted to",
    ),
    "minor": any_of(
        r"kids?'?s?",
        r"child(?:ren)?'?s?",
        r"minors?",
        r"underage",
        r"under[\s-]?(?:18|16|14|13|12|age)",
        r"teens?",
        r"teenage(?:rs?)?",
        r"preteens?",
        r"pre-teens?",
        r"tweens?",
        r"schoolgirls?",
        r"schoolboys?",
        r"(?:middle|elementary|primary|grade) school(?:ers|ers'|s)?",
        r"young (?:girls?|boys?|teens?|children|kids)",
        r"little (?:girls?|boys?)",
        rf"{_UNDER_18}[\s-]?(?:year[\s-]?olds?|yos?|yrs? old|years? old)",
        rf"ages? {_UNDER_18}(?: (?:to|and|-) {_UNDER_18})?",
        rf"{_UNDER_18} (?:and|or|to) {_UNDER_18} year[\s-]?olds?",
        r"(?:his|her|my|their) (?:young |little )?(?:daughter|son|niece|nephew|stepdaughter)",
        r"child (?:characters?|actors?|models?)",
        r"loli\w*",
        r"shota\w*",
    ),
    "csam": any_of(
        r"csam",
        r"child (?:porn\w*|sexual abuse material|abuse (?:images|videos|material))",
        r"lolicon",
        r"jailbait",
        r"pedo(?:phile)?s? (?:\S+ ){0,2}(?:share|trade|forum|pics|pictures|content)",
        r"(?:men|adults|people) (?:who are )?attracted to (?:children|kids|minors)",
        r"(?:sell\w*|trad\w*|buy\w*) (?:\S+ ){0,2}(?:videos?|photos?|pics|pictures|images) of"
        r" (?:underage|minors|young girls|young boys|little girls|little boys|preteens?)",
    ),
    "grooming": any_of(
        r"(?:build|builds|building|gain|gains|gaining|earn|earns|earning)\w* (?:\S+ ){0,2}trust"
        r" (?:with|of) (?:\S+ )?(?:kids|children|minors|teens|girls|boys)",
        r"ask\w* (?:\S+ ){0,2}for (?:\S+ )?(?:pics|photos|pictures|nudes|selfies)",
        r"(?:move|moves|moving|get|gets|lure|lures)\w* (?:them|kids|children|minors|teens)"
        r" (?:\S+ ){0,2}(?:to|into|onto) (?:a )?(?:private|secret|another) (?:chat|app|dm|room"
        r"|server)",
        r"keep (?:a |the |our )?(?:sexual |dirty |special )?secret",
        r"match\w* (?:\S+ ){0,2}adult (?:men|males|women) with",
        r"adults? (?:can|could|may) join",
        r"adults? to meet",
        r"photos in bed",
        r"\"?mentor(?:ing)?\"? (?:\S+ ){0,2}(?:pre)?teen (?:girls|boys)",
    ),
    "unsafe_for_kids": any_of(
        r"no (?:age (?:checks?|verification)|moderation|parental (?:visibility|controls?"
        r"|oversight))",
        r"anyone can (?:join|message|dm)",
        r"without (?:parental|age) (?:visibility|checks?|verification|consent)",
        r"strangers? (?:can )?(?:message|dm|chat)",
        r"private messag\w*",
    ),
    "ctx_sexual_benign": any_of(
        r"sex(?:ual)? (?:education|ed|health)",
        r"(?:health|biology) (?:class|teachers?|curriculum)",
        r"curriculum",
        r"puberty",
        r"pediatric\w*",
        r"consent and",
        r"safer? sex",
        r"sti (?:testing|tests?|clinic)",
        r"clinic",
        r"pharmac\w*",
        r"(?:museum|art gallery|art history|classical|sculptures?|paintings?)",
        r"lingerie",
        r"swimwear",
        r"body[\s-]positive",
        r"breastfeeding",
        r"fertility",
        r"therap\w*",
        r"(?:protect|safety|safe|alerts?|report\w*|hotlines?|signs of|recogni[sz]\w*"
        r"|background checks?|parental controls?|parents'? consent|visible only to parents"
        r"|trust and safety|known abuse|hash\w*)",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(SEXUAL, 0.60, "explicit sexual content", "explicit"),
    near(
        SEXUAL_MINORS,
        0.90,
        "sexual content involving minors",
        "sexual_act",
        "minor",
        window=60,
        severe=True,
    ),
    near(SEXUAL_MINORS, 0.90, "child sexual abuse material", "csam", severe=True),
    near(
        SEXUAL_MINORS,
        0.85,
        "grooming of children",
        "grooming",
        "minor",
        window=100,
        severe=True,
    ),
    near(SEXUAL_MINORS, 0.45, "children reachable by strangers", "unsafe_for_kids", "minor"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({SEXUAL, SEXUAL_MINORS}),
        0.40,
        "sex education, health, art or child protection",
        "ctx_sexual_benign",
    ),
)
