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
        r"cutting (?:photos|pics|pictures|videos|content)",
        r"(?:cut|cuts|cutting|go|going) deeper",
        r"(?:their|your|my|each other'?s) (?:cuts|scars|wounds|burns)",
        r"sh (?:community|content|scars|pics|photos|tips|streaks?)",
        r"(?:community|forum|content|pics|photos|group) (?:for|about) sh",
        r"self[\s-]?harm(?:ing)? content",
        r"skip\w* meals",
        r"without eating",
        r"not eating",
        r"purg(?:e|es|ed|ing)",
        rf"burn(?:s|ing)? {_SELF}",
        r"killed themselves",
        r"take (?:my|your|their) (?:own )?li(?:fe|ves)",
        r"the last one is (?:the end|death|to die)",
        r"blue whale",
        r"(?:lower and lower|lowest) (?:goal )?weights?",
        r"\d{3} calories? (?:a|per) day",
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
        r"cheer\w* (?:\S+ ){0,2}on",
        r"prais\w*",
        r"rat(?:e|es|ing) (?:each other|their|your)",
        r"streaks?",
        r"badges?",
        r"leaderboards?",
        r"(?:longest|most) (?:\S+ )?wins",
        r"how (?:great|good|amazing|beautiful)",
        r"keep (?:going|it up)",
        r"(?:a )?beautiful (?:way out|escape|release)",
        r"deserve (?:the |their |your )?pain",
        r"follow (?:them|their example|in their footsteps)",
        r"(?:post|share) (?:the )?proof",
        r"(?:with )?no (?:trigger )?warnings",
        r"the (?:lower|thinner|skinnier) the better",
        r"no minimum",
        r"(?:tell|tells|telling) (?:\S+ ){0,2}(?:that|they|how)",
    ),
    "sh_method": any_of(
        r"suicide (?:methods?|guides?|instructions|kits?|bags?)",
        r"(?:painless|easy|quick|best|effective|surest|quickest|fastest) (?:\S+ ){0,2}(?:ways?"
        rf"|methods?) to (?:die|kill {_SELF}|end (?:it|it all|my life|your life))",
        rf"how to (?:kill {_SELF}|commit suicide|end (?:my|your) life|hang {_SELF}|overdose|slit)",
        r"lethal (?:doses?|amounts?) (?:\S+ ){0,3}(?:for (?:your|my|their|a|one'?s) (?:own )?"
        r"(?:weight|body|size)|to (?:take|die|swallow))",
        r"calculat\w* (?:\S+ ){0,4}(?:lethal|fatal|deadly)",
        r"how many (?:\S+ ){0,2}(?:pills|tablets) (?:to|would|will) (?:die|kill)",
        r"hid(?:e|ing) (?:\S+ ){0,3}(?:cuts|scars|self[\s-]harm|weight loss|eating disorder"
        r"|not eating) from",
        r"(?:dose|doses|amount|how (?:much|many)) (?:\S+ ){0,6}(?:to (?:not wake up|die|be fatal"
        r"|kill (?:me|you|myself|yourself))|(?:is|are|would be|will be) (?:an? )?(?:fatal|lethal"
        r"|enough))",
        r"(?:hid(?:e|es|ing)|conceal\w*|cover\w* up) (?:\S+ ){0,3}(?:cuts|scars|burns|bruises"
        r"|purging|vomiting|starving|not eating|weight loss"
        r"|self[\s-]harm marks)",
        r"(?:guaranteed|surely|certainly|always|reliably) (?:to be )?(?:fatal|lethal|deadly)",
        r"(?:heights?|floors?|stor(?:ey|ies)|drops?|falls?) (?:\S+ ){0,5}(?:fatal|lethal|to die"
        r"|kills? you)",
        r"(?:best|sharpest|which) (?:\S+ ){0,2}(?:blades?|razors?|knives|tools?|pills|drugs"
        r"|methods?) (?:\S+ ){0,2}(?:for|to) (?:self[\s-]?harm\w*|cut(?:ting)?|suicide|die|kill)",
        r"(?:not|never) (?:to )?wake up",
        r"(?:ways?|methods?) to (?:die|end (?:it|it all|your life|my life|things)|kill yourself)",
        r"ways? to die",
        r"(?:reliable|certain|sure|surest|guaranteed|efficient|fool-?proof|painless) (?:\S+ ){0,2}"
        rf"(?:ways?|methods?) to (?:die|kill {_SELF}|end (?:it|it all|my life|your life))",
        r"(?:how to|ways? to|methods? to|guides? (?:to|on|for)|tips (?:for|on)|instructions (?:for"
        r"|on)|help(?:s)? (?:you|me|people|users) )(?: properly| quietly)? ?(?:kill|hang|drown"
        r"|poison|overdos|starv|suffocat|shoot|gas|electrocut|cut|burn|slit)\w*"
        rf" (?:{_SELF}|(?:your|my|their) (?:wrists?|throat))",
        r"(?:would|will|could|to) kill me (?:fastest|quickest|quickly|painlessly|for sure)",
        r"(?:combination|mix|combo) of (?:\S+ ){0,3}(?:meds|pills|drugs|medications) (?:\S+ ){0,3}"
        r"(?:kill|die|fatal|lethal)",
        r"(?:how|ways?) to end it(?: all)? (?:\S+ ){0,2}(?:without pain|painless\w*|quietly"
        r"|quickly|for good|peacefully)",
        r"(?:poisons?|drugs|pills|chemicals|ropes?|guns?|gas) (?:\S+ ){0,6}to kill"
        rf" {_SELF}",
        r"enough to (?:die|kill (?:me|you|myself|yourself)|be fatal|not wake up)",
        r"(?:overdose|od|suicide|attempt)\w* (?:\S+ ){0,3}(?:so (?:that )?it works|that works"
        r"|works the first time|won'?t fail|doesn'?t fail)",
        r"(?:purg\w*|throw(?:ing)? up|vomit\w*) (?:\S+ ){0,4}without (?:\S+ ){0,3}(?:showing"
        r"|noticing"
        r"|knowing|finding out|hearing)",
        r"(?:deadly|lethal|fatal) (?:\S+ ){0,4}how many (?:\S+ ){0,3}to take",
        r"how many (?:\S+ ){0,3}to take (?:\S+ ){0,4}(?:deadly|lethal|fatal|to die)",
        r"(?:doses?|amounts?|how (?:much|many)) (?:\S+ ){0,6}(?:that |which )?(?:would|will|could"
        r"|can) kill",
        r"(?:which|what|where) (?:\S+ )?(?:veins?|arter(?:y|ies)|wrists?) (?:to|should|you)",
        r"(?:cut|burn|harm|hurt)\w* (?:\S+ ){0,2}without (?:leaving )?(?:any )?(?:visible )?"
        r"(?:scars|marks|evidence|traces)",
        rf"make {_SELF} (?:throw up|vomit|puke|purge|sick)",
        r"without (?:anyone|anybody|people) (?:hearing|noticing|knowing|seeing|finding out)",
        r"jump\w* in front of (?:a |the )?(?:train|car|bus|truck|subway)",
        r"(?:which|what|how many|how much) (?:\S+ ){0,4}to (?:overdose|die|od)\b",
        r"(?:overdose|die) in (?:your|my|their) sleep",
        r"plan\w* (?:\S+ ){0,5}(?:your|my|their|own) (?:suicide|death|overdose)",
        r"(?:method|timing|date|place) (?:\S+ ){0,3}(?:of|for) (?:your|my|their) (?:suicide|death)",
        r"starve (?:\S+ )?to (?:death|die)",
        r"(?:which|what) (?:\S+ ){0,2}(?:height|floor|bridge|building) (?:\S+ ){0,3}(?:jump|fall)",
        r"(?:cut|burn)\w* (?:\S+ ){0,3}(?:avoid|without|skip)\w* (?:\S+ )?(?:er|hospital|doctors?"
        r"|stitches)",
        r"how many (?:\S+ ){0,3}(?:pills|tablets|meds) (?:\S+ ){0,2}to take (?:tonight|at once|all"
        r" at once|to die)",
        r"how long (?:\S+ ){0,4}to (?:starve|die)",
        r"where to cut",
        r"how (?:deep|far|hard) to cut",
        r"cut(?:ting)? deeper",
        r"without (?:needing |getting )?stitches",
        r"(?:make|making|makes) (?:\S+ )?(?:throwing up|vomiting|purging|puking) easier",
        r"step[\s-]by[\s-]step (?:suicide )?methods",
        r"methods (?:\S+ ){0,3}(?:attempted|tried)",
        r"look(?:s)? like (?:an )?accidents?",
        r"(?:places|times|spots|where|when) (?:and (?:times|places) )?to (?:self[\s-]?harm|cut"
        r"|die|jump|hang)",
        r"(?:heal|heals) without (?:any )?(?:visible )?(?:marks|scars)",
        r"(?:pills|jumping|hanging|overdos\w*|bridges?) (?:or|vs\.?|versus) (?:pills|jumping"
        r"|hanging|overdos\w*|bridges?)",
        r"exit guides?",
        r"fall height (?:\S+ ){0,2}(?:die|fatal|kill)",
        r"without (?:your |their |the )?(?:doctor|parents|family) (?:noticing|knowing|finding out)",
        r"so (?:nobody|no one) (?:finds out|notices|knows|sees|can see|will (?:see|know|notice))",
        r"(?:sleeping pills|pills|tablets) (?:plus|and|with) (?:alcohol|vodka|booze)",
    ),
    "sh_audience": any_of(
        r"(?:people|someone|somebody|those|users|anyone|a person) (?:who (?:want|wants) (?:out"
        r"|to go"
        r"|to die|to end it|to leave)|who(?:'ve| have| has)? (?:had enough|decided|given up)|who"
        r" (?:is|are|'re|'s) done|ready to go)",
        r"for my last (?:night|day)",
        r"(?:went|go|going) through with it",
        r"(?:quickest|easiest|best|painless\w*|surest) way to go",
        r"(?:won'?t|doesn'?t|never) talk (?:\S+ ){0,2}out of it",
    ),
    "sh_means": any_of(
        r"pills?",
        r"tablets?",
        r"meds",
        r"medications?",
        r"overdos\w*",
        r"ropes?",
        r"nooses?",
        r"knots?",
        r"hang\w*",
        r"gas(?:es)?",
        r"fumes",
        r"exhaust",
        r"carbon monoxide",
        r"bridges?",
        r"buildings?",
        r"roofs?",
        r"jump\w*",
        r"guns?",
        r"firearms?",
        r"blades?",
        r"razors?",
        r"poisons?",
        r"chemicals",
        r"methods?",
        r"how to do it",
        r"ways? to go",
        r"how (?:\S+ ){0,2}(?:works?|to)",
    ),
    "sh_method_weak": any_of(
        r"toxic (?:doses?|amounts?|levels?)",
        r"lethal (?:doses?|amounts?)",
        r"(?:fatal|deadly) (?:doses?|amounts?)",
        r"overdose thresholds?",
    ),
    "intent": any_of(
        r"i (?:don'?t|do not) want to (?:be alive|live|exist|wake up|be here)",
        r"(?:before|after|once|when|the morning after) i(?:'m| am)? (?:gone|dead|jump|die|kill"
        r" myself|end it|do it)",
        r"i(?:'m| am)? (?:going to|gonna|will|want to|plan(?:ning)? to|about to|ready to)"
        r" (?:kill myself|end (?:it|it all|my life|things)|die|hurt myself|overdose|jump|take"
        r" (?:all )?my (?:own )?(?:pills|life)|cut myself|starve myself|disappear)",
        r"(?:until|till|before) (?:the day )?i (?:finally )?(?:do it|end it|die|jump|go through)",
        r"my (?:last|final) (?:days?(?! (?:at|of|in|on|with) \S+ (?:job|work"
        r"|company|office|school|team|contract))|words|note|letter|wish|goodbye)",
        r"(?:counts? ?down|countdown|count down) (?:\S+ ){0,3}(?:until|till|to) i (?:end|do|die)",
        r"until i end it",
        r"my (?:goodbye|farewell|suicide) (?:letter|note|message|video)",
        r"i won'?t (?:be around|be here|need (?:it|them|a website|this))",
        r"i(?:'ve| have) (?:decided|made up my mind)",
        r"(?:tired|sick) of (?:living|life|being alive)",
        r"i (?:keep )?cut(?:ting)? myself",
        r"i (?:think|thought) about (?:killing myself|suicide|dying|ending it)",
        r"bought (?:the|a) rope",
        r"nobody (?:would|will) (?:notice|care|miss me) if i",
        r"(?:give|giving) away (?:all )?my (?:things|stuff|belongings)",
        r"i(?:'ve| have) decided to stop",
        r"memorial (?:page )?(?:\S+ ){0,2}for me",
    ),
    "fasting_contest": any_of(
        r"fasting (?:\S+ ){0,2}(?:challenge|competition|streak|contest|leaderboard)",
    ),
    "suicide_game": any_of(
        r"blue whale",
        r"suicide (?:challenge|game|pact)s?",
        r"(?:make|making) suicide pacts?",
        r"ana buddy",
        r"thinspiration",
        r"meanspo\w*",
        r"deserves? (?:the |to feel )?(?:pain|to suffer|to hurt)",
    ),
    "pro_ed": any_of(
        r"pro[\s-]?ana",
        r"pro[\s-]?mia",
        r"thinspo\w*",
        r"meanspo",
        r"bonespo",
        r"skinny ?(?:goals|motivation)",
        r"(?:starv\w*|not eating|without eating|skip\w* meals) (?:\S+ ){0,3}(?:challenge"
        r"|competition|streaks?|contest|wins)",
        r"(?:keep|keeps) (?:each other )?starving",
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
    "sh_concealment": any_of(
        r"(?:hid\w*|conceal\w*|keep\w* (?:it|them)|secret) (?:\S+ ){0,5}from"
        r" (?:the |your |their |my )?(?:school )?(?:nurses?|doctors?|parents|teachers?|family"
        r"|therap\w*|counsel\w*)",
        r"without (?:the |your |their |my )?(?:nurses?|doctors?|parents|therap\w*) (?:noticing"
        r"|knowing|finding out)",
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
        r"antidotes?",
        r"(?:med|medical|nursing|pharmacy) students?",
        r"pharmacolog\w*",
        r"poison control",
        r"first aid",
        r"pharmacists?",
        r"nurs(?:e|es|ing)",
        r"(?:er|emergency) (?:staff|doctors?|room)",
        r"vet(?:erinary)?",
        r"safe storage",
        r"lethal[\s-]means",
        r"(?:treat|treating|treatment of)",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(SELF_HARM, 0.80, "encourages self-harm", "encourage", "sh_topic", window=60, severe=True),
    near(SELF_HARM_INSTRUCTIONS, 0.85, "self-harm methods", "sh_method", severe=True),
    near(SELF_HARM, 0.75, "pro-eating-disorder content", "pro_ed", severe=True),
    near(SELF_HARM, 0.80, "suicide challenge or pro-ED community", "suicide_game", severe=True),
    near(SELF_HARM, 0.45, "fasting contest", "fasting_contest"),
    near(SELF_HARM, 0.85, "tells people to harm themselves", "incite", severe=True),
    near(SELF_HARM, 0.15, "mentions self-harm", "sh_topic"),
    near(SELF_HARM_INSTRUCTIONS, 0.45, "toxic or fatal doses", "sh_method_weak"),
    near(
        SELF_HARM_INSTRUCTIONS,
        0.85,
        "means of dying offered to someone who wants to die",
        "sh_audience",
        "sh_means",
        window=120,
        severe=True,
    ),
    near(SELF_HARM_INTENT, 0.80, "the writer means to harm themselves", "intent", severe=True),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({SELF_HARM, SELF_HARM_INTENT, SELF_HARM_INSTRUCTIONS}),
        0.40,
        "prevention or support context",
        "ctx_self_harm_support",
        unless="sh_concealment",
    ),
)
