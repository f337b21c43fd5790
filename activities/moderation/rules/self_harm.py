"""Self-harm: encouragement, methods, pro-eating-disorder content.

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

SELF_HARM: Final = ModerationCategory.SELF_HARM
SELF_HARM_INSTRUCTIONS: Final = ModerationCategory.SELF_HARM_INSTRUCTIONS
SELF_HARM_INTENT: Final = ModerationCategory.SELF_HARM_INTENT

_SELF = r"(?:my ?self|your ?self|ur ?self|them ?selves|him ?self|her ?self|one ?self)"

TERMS: Final[dict[str, str]] = {
    "sh_topic": any_of(
        r"suicid\w*",
        r"self[\s-]?harm\w*",
        r"self[\s-]?injur\w*",
        rf"kill(?:ing)? {_SELF}",
        r"end(?:ing)? (?:my|your|their|one'?s) (?:own )?li(?:fe|ves)",
        rf"cut(?:ting)? {_SELF}",
        rf"(?:hurt|harm)(?:ing)? {_SELF}",
        r"anorexi\w*",
        r"bulimi\w*",
        r"eating disorders?",
        rf"starv(?:e|ing) {_SELF}",
        r"purging",
        r"overdos\w*",
        r"(?:stop|quit) eating(?= *(?:$|[.!,;]|entirely|completely|altogether|for days))",
    ),
    "encourage": any_of(
        r"encourag\w*",
        r"promot\w*",
        r"glorif\w*",
        r"romantici[sz]\w*",
        r"egg\w* (?:\S+ )?on",
        r"push\w* (?:\S+ ){0,2}(?:to|towards)",
        r"convinc\w*",
        r"persuad\w*",
        r"(?:tips|tricks|guides?|instructions|methods|ways) (?:\S+ ){0,2}(?:to|for|on)",
        r"challenges?",
        r"pacts?",
        r"reward\w*",
        r"motivat\w*",
        r"inspir\w*",
        r"dares?",
    ),
    "sh_method": any_of(
        r"suicide (?:methods?|guides?|instructions|kits?|bags?)",
        r"(?:painless|easy|quick|best|effective|surest|quickest|fastest) (?:\S+ ){0,2}(?:ways?"
        rf"|methods?) to (?:die|kill {_SELF}|end (?:it|it all|my life|your life))",
        rf"how to (?:kill {_SELF}|commit suicide|end (?:my|your) life|hang {_SELF}|overdose|slit)",
        r"lethal (?:doses?|amounts?)",
        r"how many (?:\S+ ){0,2}(?:pills|tablets) (?:to|would|will) (?:die|kill)",
        r"hid(?:e|ing) (?:\S+ ){0,3}(?:cuts|scars|self[\s-]harm|weight loss|eating disorder"
        r"|not eating) from",
    ),
    "pro_ed": any_of(
        r"pro[\s-]?ana",
        r"pro[\s-]?mia",
        r"thinspo\w*",
        r"meanspo",
        r"bonespo",
        r"skinny ?(?:goals|motivation)",
        r"(?:starv\w*|fasting|not eating) (?:\S+ ){0,3}(?:challenge|competition|streak|contest)",
        r"(?:eat|eating) (?:under|less than) \d+ calories",
    ),
    "incite": any_of(
        r"(?:tell\w*|encourag\w*|urg\w*|push\w*|convinc\w*|persuad\w*|bully\w*|dar\w*)"
        r" (?:\S+ ){0,3}(?:to )?(?:kill (?:them|him|her|your) ?sel(?:f|ves)|end (?:their|his|her"
        r"|your) li(?:fe|ves)|commit suicide|hurt (?:them|him|her|your) ?sel(?:f|ves)"
        r"|cut (?:them|him|her|your) ?sel(?:f|ves))",
        r"kys",
        r"go (?:kill|die|hang) (?:yourself|urself|your self)",
    ),
    "ctx_self_harm_support": any_of(
        r"prevent\w*",
        r"hotlines?",
        r"helplines?",
        r"crisis (?:lines?|support|text\w*|cent(?:er|re)s?|resources|counsel\w*)",
        r"988",
        r"samaritans",
        r"lifeline",
        r"recover\w*",
        r"support (?:groups?|resources|network|services)",
        r"journal\w*",
        r"mental health",
        r"therap\w*",
        r"counsel\w*",
        r"coping",
        r"safety plans?",
        r"reach out",
        r"well[\s-]?being",
        r"wellness",
        r"mood (?:tracker|diary|log)",
        r"(?:get|seek\w*|find) help",
        r"treatment",
        r"psycholog\w*",
        r"psychiatr\w*",
        r"postvention",
        r"grief",
        r"bereavement",
        r"peer support",
        r"survivors?",
        r"(?:body|self)[\s-]?(?:positiv|acceptance|esteem)\w*",
        r"intuitive eating",
        r"dietitian",
        r"nutritionist",
        r"toxicolog\w*",
        r"poison control",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(SELF_HARM, 0.80, "encourages self-harm", "encourage", "sh_topic", window=60, severe=True),
    near(SELF_HARM_INSTRUCTIONS, 0.85, "self-harm methods", "sh_method", severe=True),
    near(SELF_HARM, 0.75, "pro-eating-disorder content", "pro_ed", severe=True),
    near(SELF_HARM, 0.85, "tells people to harm themselves", "incite", severe=True),
    near(SELF_HARM, 0.15, "mentions self-harm", "sh_topic"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({SELF_HARM, SELF_HARM_INTENT, SELF_HARM_INSTRUCTIONS}),
        0.40,
        "prevention or support context",
        "ctx_self_harm_support",
    ),
)
