"""Harassment: abuse aimed at a person (insults, humiliation, pile-ons, unwanted contact,
sexualised images of them) and, as ``harassment/threatening``, threats of harm to them.

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

HARASSMENT: Final = ModerationCategory.HARASSMENT
HARASSMENT_THREATENING: Final = ModerationCategory.HARASSMENT_THREATENING

_RELATION = (
    r"(?:ex|ex[\s-]?(?:wife|husband|girlfriend|boyfriend|partner)|wife|husband|girlfriend"
    r"|boyfriend|partner|sister|brother|(?:sister|brother|mother|father)[\s-]in[\s-]law|mom"
    r"|mum|dad|cousin|aunt|uncle|(?:old |former )?boss|manager|coworkers?|co-workers?"
    r"|colleagues?|intern|employees?|roommates?|flatmate|landlord|landlady|tenants?"
    r"|neighbou?rs?|classmates?|teacher|professor|(?:former |old |best )*friends?|crush"
    r"|stepmom|stepdad|son|daughter|kids?)"
)

TERMS: Final[dict[str, str]] = {
    "target": any_of(
        rf"(?:my|our|his|her|their) (?:\w+ )?{_RELATION}'?s?",
        r"(?:a|the|one|this|that|some|certain) (?:specific |particular |single |new |local )?"
        r"(?:disabled |autistic |fat |shy |quiet |weird |gay |trans |poor |deaf |blind |nerdy )?"
        r"(?:girl|guy|boy|kid|child|student|woman|man|lady|user|person|streamer|youtuber"
        r"|tiktoker|influencer|reporter|journalist|blogger|councilwoman|councilman|politician"
        r"|judge|referee|principal|teacher|coach|nurse|doctor|officer|intern|coworker"
        r"|classmate|player|member|neighbou?r|client|customer)s?'?s?",
        r"named (?:\S+ )?(?:girls?|boys?|kids|people|students|women|men|coworkers|teachers)",
        r"@\w{2,}",
        r"(?:him|her|them)",
        r"(?:he|she)",
        r"(?:every|each|all) (?:\S+ )?(?:protesters?|members?|people|persons?|users?|names?)"
        r" on (?:this|the|my|our|that) list",
        r"the (?:guy|girl|woman|man|person|kid) (?:who|that)",
    ),
    "abuse": any_of(
        r"insult\w*",
        r"mock\w*",
        r"humiliat\w*",
        r"sham(?:e|es|ed|ing)",
        r"make fun of",
        r"makes fun of",
        r"making fun of",
        r"ridicul\w*",
        r"belittl\w*",
        r"degrad\w*",
        r"taunt\w*",
        r"torment\w*",
        r"bull(?:y|ies|ied|ying)",
        r"cyberbull\w*",
        r"harass\w*",
        r"troll\w*",
        r"abus(?:e|ive|ing)",
        r"cruel\w*",
        r"nasty",
        r"mean (?:messages|texts|comments|things|stuff)",
        r"rumou?rs?",
        r"gossip",
        r"embarrass\w*",
        r"ugl(?:y|iest)",
        r"fat(?:test)?",
        r"(?:terrible|awful|horrible|bad) (?:mother|father|mom|dad|person|wife|husband)",
        r"nobody likes (?:you|him|her)",
        r"(?:worthless|pathetic|loser|freak|slut|whore|bitch)",
        r"pile[\s-]?on",
        r"brigad\w*",
        r"dogpil\w*",
        r"mass[\s-]report\w*",
        r"crying",
        r"cried",
        r"desperate",
        r"breakdown",
        r"quits?",
        r"leaves? (?:the )?(?:school|town|platform|internet)",
        r"changes? schools",
        r"creep(?:y|ier|iest)",
        r"unwanted",
        r"p(?:a)?edo(?:phile)?s?",
        r"groomers?",
        r"idiots?",
        r"morons?",
        r"raid\w* (?:on )?(?:\S+ ){0,3}(?:streams?|chats?|channels?|servers?|accounts?|comments)",
        r"(?:with|of) hate\b(?: messages| comments)?",
        r"trash[\s-]?talk\w*",
        r"badmouth\w*",
        r"smear\w*",
        r"slander\w*",
        r"until (?:he|she|they) (?:cries|cry|breaks down|quits|leaves)",
        r"liars?",
        r"cheaters?",
    ),
    "block_evasion": any_of(
        r"from (?:a )?(?:different|new|another|fresh|burner|fake) (?:numbers?|accounts?|phones?"
        r"|e-?mails?|profiles?)",
        r"(?:new|different|burner|fake) (?:numbers?|accounts?|profiles?) (?:every|each)",
        r"(?:after|even though|when) (?:she|he|they) (?:blocked|blocks|muted)",
    ),
    "publicise": any_of(
        r"send\w*",
        r"sent",
        r"text\w*",
        r"e-?mail\w*",
        r"dms?",
        r"messag\w*",
        r"post\w*",
        r"shar(?:e|es|ed|ing)",
        r"publish\w*",
        r"upload\w*",
        r"comment\w*",
        r"repl(?:y|ies|ying)",
        r"floods?",
        r"spam\w*",
        r"(?:whole|entire) (?:office|school|class|team|town|company)",
        r"everyone (?:at|in) (?:school|class|work|the office|town)",
        r"so everyone",
        r"group chat",
        r"public(?:ly)?",
        r"vot(?:e|es|ing)",
        r"rat(?:e|es|ing)",
        r"gallery",
        r"leaks?",
        r"anonymous(?:ly)?",
        r"every (?:time|day|hour|morning|night)",
        r"(?:into|around|across|in) every (?:server|channel|group|thread|chat|post|video|stream)",
        r"clips?",
        r"videos?",
        r"memes?",
        r"online",
        r"for everyone",
        r"(?:her|his|their) (?:\S+ )?(?:photos?|pictures?|pics|face|selfies)",
        r"until (?:he|she|they) (?:\S+ )?(?:moves?|quits?|leaves?|cries|breaks|deletes|gives up"
        r"|changes)",
    ),
    "harass_tool": any_of(
        r"burn books?",
        r"(?:rate|rank|vote on|score)\w* (?:\S+ ){0,2}(?:ugliest|fattest|sluttiest|dumbest"
        r"|weirdest|fat|ugly)",
        r"(?:ugliest|fattest|sluttiest|dumbest) (?:kid|girl|guy|boy|student|person|people"
        r"|girls|kids|boys|students)",
        r"(?:fake|deepfake\w*|edited|ai|generated) (?:\S+ ){0,2}(?:nudes?|naked (?:photos|pictures"
        r"|pics|images)|porn)",
        r"nude[\s-]?looking",
        r"(?:face|faces) on (?:\S+ ){0,2}(?:nude|naked|porn)",
        r"(?:undress|nudif)\w* (?:\S+ ){0,2}(?:photos?|pictures?|pics) of (?:my|a|her|the)",
        r"every time (?:she|he|they) blocks?",
        r"new accounts? (?:every|each) time",
        r"(?:days|hours) since \w+ (?:cried|failed|got dumped)",
        r"(?:his|her|their|(?:my |an? )?ex(?:-?\w+)?'?s?) (?:\S+ )?nudes",
        r"nudes (?:of|from) (?:my|his|her|their)",
        r"revenge porn",
        r"(?:secrets|dirt|rumou?rs|gossip) about (?:a |my |the |this |that |our )",
        r"fake (?:\S+ )?(?:profiles?|accounts?) (?:of|for|as|pretending to be|impersonating)"
        rf" (?:my|her|his|our) (?:\w+ )?{_RELATION}",
        r"pretend\w* to be (?:my|her|his|our) \w+",
    ),
    "threat": any_of(
        r"we know where (?:you|your|he|she|they|his|her|their)",
        r"(?:i|we) know (?:where|who) (?:you|he|she|they) (?:are|is|live|lives|sleep|sleeps"
        r"|works?)",
        r"where (?:you|they|he|she) sleeps?",
        r"watch (?:your|her|his|their) backs?",
        r"you'?re next",
        r"you are next",
        r"(?:we'?re|we are|i'?m|i am) coming for",
        r"coming for (?:you|him|her|them)",
        r"i'?m watching you",
        r"i am watching you",
        r"make (?:you|him|her|them) pay",
        r"(?:will|gonna|going to|'ll) (?:\S+ )?(?:hurt|kill|stab|shoot|beat|find|get|ruin|burn)"
        r" (?:you|him|her|them|my|his|her|their)",
        r"i will kill you",
        r"kill (?:you|him|her)",
        r"(?:end|ends) up (?:in a ditch|in ditches|dead|hurt|in the hospital)",
        r"accidents happen",
        r"(?:he'?ll|she'?ll|they'?ll|you'?ll) regret",
        r"will regret",
        r"(?:you|he|she|they) will not see (?:christmas|tomorrow|another|the)",
        r"won'?t see (?:christmas|tomorrow|another)",
        r"afraid for (?:their|your|his|her) (?:safety|lives|life|family|kids)",
        r"break (?:\S+ )?legs?",
        r"(?:name|names) (?:written )?on (?:the|a) bullet",
        r"picture of a gun",
        r"burn (?:down )?(?:\S+ ){0,2}(?:house|home|car|shop|restaurant)",
        r"(?:consequences|something bad|something terrible) (?:will happen )?(?:for|to) (?:her|his"
        r"|their|your|you|him)",
        r"there will be consequences",
        r"threaten\w*",
        r"death threats?",
        r"intimidat\w*",
        r"scar(?:e|ing) (?:\S+ )?(?:them|him|her|people|debtors|tenants) (?:into|so)",
    ),
    "threat_veiled": any_of(
        r"deal with (?:it|him|her|them|you|this) myself",
        r"or else",
        r"final warning",
        r"(?:make|sound|look)s? (?:it |them )?(?:scary|menacing|intimidating|threatening)",
        r"scary (?:letter|message|email|text|note)",
        r"you(?:'ll| will) be sorry",
        r"last chance",
    ),
    "anon_rating": any_of(
        r"anonymous(?:ly)? (?:\S+ )?(?:rat|review|judg|scor)\w*",
        r"(?:rat|review|judg|scor)\w* (?:\S+ ){0,4}anonymous(?:ly)?",
    ),
    "threat_strong": any_of(
        r"(?:i|we)(?:'m| am|'re| are)? (?:going to|gonna|will) (?:hurt|kill|stab|shoot|beat up"
        r"|get)",
        r"death threats?",
        r"i will kill you",
        r"count(?:s|ing)? ?down to the day",
    ),
    "ctx_harassment_defence": any_of(
        r"anti[\s-]?(?:bullying|harassment)",
        r"report\w* (?:\S+ ){0,2}(?:harassment|bullying|abuse|threats?|insults)",
        r"(?:detect|flag|filter|mute|block|moderat|scan|log|record)\w* (?:\S+ ){0,3}"
        r"(?:harass\w*|insults?|abuse|threats?|bull\w*|toxic\w*)",
        r"(?:harass|bully|abus|threat)\w* (?:policy|policies|prevention|awareness|report\w*)",
        r"(?:my|our) own",
        r"compliments?",
        r"thank[\s-]you",
        r"(?:murder mystery|horror|thriller|escape room|haunted|halloween|novel|fiction|villain"
        r"|party game|board game|movie|film|fan site)",
        r"(?:restraining order|evidence|counsel\w*|helplines?|police|safety app)",
        r"(?:honest|signed|constructive) (?:\S+ )?(?:feedback|criticism)",
        r"debt collection practices",
        r"polite",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(HARASSMENT, 0.55, "abuse aimed at a person", "abuse", "target", window=60),
    near(HARASSMENT, 0.45, "abuse of a person, sent or published", "abuse", "target", "publicise"),
    near(
        HARASSMENT, 0.80, "humiliation tool (burn book, ranking looks, fake nudes)", "harass_tool"
    ),
    near(HARASSMENT, 0.30, "harassment tool aimed at a person", "harass_tool", "target"),
    near(HARASSMENT_THREATENING, 0.50, "threatening words", "threat"),
    near(
        HARASSMENT_THREATENING,
        0.55,
        "a threat aimed at a person",
        "threat",
        "target",
        window=100,
        severe=True,
    ),
    near(HARASSMENT_THREATENING, 0.40, "a threat sent to someone", "threat", "publicise"),
    near(HARASSMENT_THREATENING, 0.80, "states intent to harm", "threat_strong", severe=True),
    near(HARASSMENT_THREATENING, 0.45, "veiled threat", "threat_veiled"),
    near(HARASSMENT, 0.45, "anonymous ratings of people one knows", "anon_rating", "target"),
    near(
        HARASSMENT,
        0.80,
        "keeps contacting a person who blocked them",
        "block_evasion",
        "target",
        "publicise",
        window=100,
        severe=True,
    ),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({HARASSMENT, HARASSMENT_THREATENING}),
        0.45,
        "reporting, moderation, fiction or self-directed",
        "ctx_harassment_defence",
    ),
)
