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

_PII_ITEM = (
    r"(?:(?:their|his|her|the) )?(?:(?:real (?:full )?)?names?"
    r"|(?:home |personal |work )?address(?:es)?"
    r"|(?:personal |cell |mobile |home )?(?:phone )?numbers?|where (?:he|she|they) (?:works?"
    r"|lives?)|employers?|workplaces?|jobs?|schools?|schedules?|daily routines?|license plates?"
    r"|cars?|kids|children|famil(?:y|ies)|faces|work(?:place)?|gym(?: times)?|home|deadnames?"
    r"|contact details|phones?|whereabouts|relatives|social media(?: accounts| profiles)?"
    r"|(?:\S+'s )?(?:facebook|instagram|linkedin|socials))"
)
"""One piece of personal information; two or more in a list make a profile of someone."""

TERMS: Final[dict[str, str]] = {
    "dox_topic": any_of(r"dox\w*"),
    "profile_pii": any_of(_PII_ITEM + r"(?:, (?:and )?| and )" + _PII_ITEM),
    "confront": any_of(
        r"(?:show|turn) up",
        r"pay (?:them|him|her) a visit",
        r"go after (?:them|him|her)",
        r"let (?:them|him|her) know",
        r"(?:call|contact) (?:their|his|her) (?:bosses|boss|employers?)",
        r"(?:so|and) (?:\S+ ){0,2}can (?:reach|find|visit|call|contact|message|confront|harass)"
        r"(?: (?:him|her|them))?",
        r"(?:so (?:i|we) can )?confront (?:him|her|them)",
    ),
    "dox": any_of(
        r"dox(?:x)?(?:es|ed|ing)? (?:this|that|a|the|some|someone|somebody|people|him|her|them|my"
        r"|any|users?|journalists?|streamers?|anyone)",
        r"dossiers?",
        r"(?:compil|gather|collect|aggregat|assembl|build|scrap|pull|dig|find|uncover|expos"
        r"|put\w* together)\w*"
        r" (?:\S+ ){0,2}(?:everything|all (?:the )?(?:info\w*|data|details)|personal (?:info\w*"
        r"|details|data)|private (?:info\w*|details|data)|profiles?|info\w*|details|data|dirt)"
        r" (?:about|on|of) (?:a (?:specific |particular )?person|someone|somebody|him|her"
        r"|my ex|an ex|anyone|a target|private (?:people|individuals|citizens)|specific people"
        r"|a (?:journalist|streamer|celebrity|girl|woman|guy|man|coworker|neighbou?r)"
        r"|(?:this|that|the) (?:\S+ ){0,2}(?:mod|moderator|admin|user|guy|girl|person|account|kid"
        r"|streamer|youtuber|tiktoker|reporter|teacher|judge))",
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
        r"track\w* down",
        r"give me",
    ),
    "pii": any_of(
        r"(?:home |real |personal |private |exact |street |their |his |her |families'? |family )?"
        r"(?:addresses|address)",
        r"(?:personal |private |cell |mobile |home )?phone numbers?",
        r"(?:personal |private |home )?(?:cell|mobile|cell ?phone) numbers?",
        r"real (?:full )?names?",
        r"(?:real )?identit(?:y|ies)",
        r"dead ?names?",
        r"employers?",
        r"workplaces?",
        r"where (?:\S+ ){0,5}(?:lives?|works?|sleeps?)",
        r"relatives",
        r"family members",
        r"(?:kids'?|children'?s?) schools?",
        r"contact (?:details|info\w*)",
        r"license plates?",
        r"(?:their|his|her) bosses",
        r"(?:real |their |his |her )?linkedin",
    ),
    "expose": any_of(
        r"unmask\w*",
        r"expos\w*",
        r"publish\w*",
        r"post\w*",
        r"leak\w*",
        r"shar(?:e|es|ed|ing)",
        r"list\w*",
        r"nam(?:e|es|ing)",
        r"dox\w*",
        r"submit\w*",
        r"upload\w*",
        r"crowdsourc\w*",
        r"collect\w*",
        r"link\w* (?:\S+ ){0,4}to",
        r"reveal\w*",
        r"find\w*",
        r"work\w* out",
        r"figure\w* out",
        r"map (?:of|showing)",
        r"database of",
        r"boards? (?:with|of)",
        r"show\w*",
        r"online",
        r"repl(?:y|ies|ying)",
        r"compil\w*",
        r"gather\w*",
        r"aggregat\w*",
    ),
    "exposed_people": any_of(
        r"(?:anonymous|anon) (?:\S+ )?(?:critics?|accounts?|bloggers?|users?|posters?|reviewers?)",
        r"(?:the )?(?:jurors?|witness(?:es)?|officers?|cops|police|doctors?|nurses?|activists?"
        r"|protesters?|organi[sz]ers?|drivers?|reviewers?|critics?|accusers?|victims?|judges?"
        r"|journalists?|reporters?|moderators?|employees who|workers who|whistle-?blowers?)'?s?",
        r"(?:people|those|users|customers|anyone|everyone) (?:who|that) (?:\S+ ){0,2}(?:left"
        r"|reported|criticized|criticised|posted|complained|voted|organi[sz]ed|leaked|testified"
        r"|signed|spoke|wrote|reviewed)",
        r"the (?:woman|girl|man|guy|person|account|user|kid) (?:in|who|that|from)",
        r"the (?:\S+ )?\w+ (?:who|that) (?:\S+ ){0,3}(?:made|wrote|posted|reported|failed|fired"
        r"|rejected|testified|called|gave|left|criticized|criticised|complained|banned|arrested"
        r"|ticketed|dumped|blocked)",
        r"(?:their|his|her|\w+s'|\w+'s) (?:spouses|wives|husbands|famil(?:y|ies)|relatives)",
        r"the person'?s",
        r"(?:my|our|the) (?:landlord|ex|neighbou?r|boss|teacher)'?s?",
        r"(?:a |the |that )?(?:tiktoker|youtuber|streamer|blogger|influencer|redditor|poster)",
        r"u/\w+",
        r"(?:trans|gay|jewish|muslim) (?:people|folks|kids|families)",
        r"(?:the )?account that",
        r"every (?:\S+ )?(?:driver|protester|activist|juror|officer|member)",
        r"so (?:people|everyone|they|our followers) can",
    ),
    "unmask": any_of(
        r"unmask\w*",
        r"de-?anonymi[sz]\w*",
        r"(?:expos|reveal|find|uncover)\w* (?:\S+ ){0,2}(?:real )?identit(?:y|ies) (?:of|behind)",
        r"identit(?:y|ies) (?:of|behind) (?:the |that |an? )?(?:anonymous|anon|account|user"
        r"|blogger|poster)",
        r"link\w* (?:\S+ ){0,4}to (?:their|his|her) real",
        r"identif\w* (?:\S+ ){0,2}(?:strangers|random people|anyone|people in (?:\S+ )?crowds?"
        r"|people (?:in|from) (?:\S+ ){0,2}(?:crowd|street|public) (?:photos?|pictures?|videos?))",
        r"(?:who(?:'s| is) (?:really )?|(?:the )?(?:real )?(?:person|people|identity|name|names)"
        r" )behind (?:\S+ ){0,3}(?:account|profile|username|handle|blog|channel|page)s?",
        r"(?:find|get|learn|work out|figure out)\w* (?:\S+ ){0,2}(?:the )?real names? (?:and|of)",
    ),
    "shame_board": any_of(r"name[\s-]and[\s-]shame\w*", r"wall of shame"),
    "people_search": any_of(
        r"people[\s-]search",
        r"reverse (?:phone|address|email) (?:lookup|search)",
        r"(?:addresses|records) from public records",
        r"background (?:lookup|search) (?:on|for) anyone",
        r"background (?:checks?|lookups?|searches) (?:\S+ ){0,4}(?:anyone|any person|anybody)",
        r"(?:addresses|records|phone numbers|address history) from public (?:records|data)",
        r"address histor(?:y|ies)",
    ),
    "ctx_doxxing_benign": any_of(
        r"(?:my|our) own",
        r"(?:their|his|her) own (?:contact )?details",
        r"(?:with|requires?|after) (?:\S+ ){0,3}consent",
        r"official (?:office )?(?:numbers?|addresses|contacts?)",
        r"(?:business|shop|company|staff) (?:directory|addresses|listings)",
        r"(?:shop|office) addresses",
        r"intranet",
        r"report\w* (?:\S+ )?dox\w*",
        r"remov\w*",
        r"protect\w*",
        r"keep\w* (?:\S+ ){0,3}off",
        r"fictional",
        r"training course",
        r"alumni",
        r"lost pets?",
        r"family tree",
        r"genealog\w*",
        r"parcel",
        r"assessor",
        r"(?:my|our) (?:home |own |work )?address",
        r"(?:property|real estate|rental|house|home|job) listings?",
        r"addresses of (?:the )?listings",
        r"(?:restaurants|shops|stores) near",
    ),
    "home_address": any_of(
        r"home address(?:es)?",
        r"(?:real|physical|street|house|residential|exact|precise|current) address(?:es)?",
        r"where (?:\S+ ){1,7}lives?",
        r"(?:owner|driver|person|user|poster|author|guy|girl|woman|man|lady)'s (?:home )?address",
        r"(?:the |her |his |their )?(?:new )?(?:address|apartment|place|house|flat) (?:of|for)"
        r" (?:the|this|that|a|my|her|his) (?:\S+ )?(?:guy|girl|man|woman|person|kid|ex|driver"
        r"|neighbou?r|streamer|user)",
        r"(?:her|his|their) (?:new )?(?:address|apartment|house|flat)",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(
        DOXXING,
        0.80,
        "exposes private details of people who did not choose to be found",
        "expose",
        "pii",
        "exposed_people",
        window=120,
        severe=True,
    ),
    near(DOXXING, 0.35, "exposes someone's private details", "expose", "pii", window=80),
    near(DOXXING, 0.80, "unmasks an anonymous person", "unmask", severe=True),
    near(DOXXING, 0.45, "a profile of someone's personal details", "profile_pii"),
    near(
        DOXXING,
        0.65,
        "publishes a profile of someone's personal details",
        "profile_pii",
        "expose",
        window=100,
    ),
    near(
        DOXXING,
        0.80,
        "a profile of a particular person's personal details",
        "profile_pii",
        "exposed_people",
        window=100,
        severe=True,
    ),
    near(
        DOXXING,
        0.80,
        "private details given out so people confront someone",
        "pii",
        "confront",
        window=120,
        severe=True,
    ),
    near(DOXXING, 0.45, "private details from a username or number", "lookup_input", "pii"),
    near(
        DOXXING,
        0.80,
        "a home address from a username, plate or photo",
        "lookup_input",
        "home_address",
        window=100,
        severe=True,
    ),
    near(DOXXING, 0.45, "name and shame", "shame_board"),
    near(DOXXING, 0.45, "people search", "people_search"),
    near(DOXXING, 0.80, "doxxing / dossier on a person", "dox"),
    near(DOXXING, 0.35, "mentions doxxing", "dox_topic"),
    near(
        DOXXING,
        0.80,
        "publishes where a person lives",
        "expose",
        "home_address",
        "person",
        window=80,
        severe=True,
    ),
    near(
        DOXXING,
        0.80,
        "publishes where a particular person lives",
        "expose",
        "home_address",
        "exposed_people",
        window=100,
        severe=True,
    ),
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

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({DOXXING}),
        0.40,
        "own details, consent, public officials or takedowns",
        "ctx_doxxing_benign",
    ),
)
