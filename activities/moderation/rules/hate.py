"""Hate: dehumanising a protected group, calls for violence against it, hateful content.

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
    seq,
)
from schemas.moderation import ModerationCategory

HATE: Final = ModerationCategory.HATE
HATE_THREATENING: Final = ModerationCategory.HATE_THREATENING

TERMS: Final[dict[str, str]] = {
    "group": any_of(
        r"jews?",
        r"jewish (?:people|folks|community)",
        r"muslims?",
        r"christians?",
        r"catholics?",
        r"hindus?",
        r"sikhs?",
        r"black (?:people|folks|men|women|americans)",
        r"blacks",
        r"african americans",
        r"africans",
        r"whites",
        r"white people",
        r"asians?",
        r"asian people",
        r"chinese people",
        r"koreans",
        r"indians",
        r"pakistanis",
        r"arabs?",
        r"mexicans",
        r"latin(?:o|a|x)s",
        r"hispanics",
        r"immigrants?",
        r"migrants?",
        r"refugees?",
        r"foreigners",
        r"roma",
        r"gypsies",
        r"gays?",
        r"gay (?:people|men)",
        r"lesbians?",
        r"bisexuals?",
        r"homosexuals?",
        r"trans(?:gender)? (?:people|women|men|folks|kids|persons)",
        r"trans",
        r"lgbt\w*",
        r"queers?",
        r"queer (?:people|folks)",
        r"women",
        r"females",
        r"disabled (?:people|folks)",
        r"the disabled",
        r"autistic (?:people|folks|kids)",
        r"(?:people|those) with disabilities",
        r"indigenous (?:people|peoples)",
        r"natives",
        r"aboriginals?",
        r"somalis?",
        r"syrians",
        r"afghans",
        r"nigerians",
        r"haitians",
        r"palestinians",
        r"israelis",
        r"minorit(?:y|ies)",
        r"(?:a |the )?(?:real |ethnic |racial |religious )?minority groups?",
        r"race traitors",
        r"non-?whites",
        r"ethnic groups",
        r"(?:jewish|muslim|black|asian|gay|lesbian|trans|queer|hindu|sikh|arab|mexican|latino"
        r"|hispanic|immigrant|migrant|refugee|roma|somali|african|chinese|indian|pakistani"
        r"|disabled|indigenous|lgbtq?\+?|catholic|christian) (?:people|persons|families|shops?"
        r"|stores?|restaurants?|houses|churches"
        r"|family|folks|communit(?:y|ies)|shop owners|owners|business(?:es)?|kids|children"
        r"|neighbou?rs|men|women|girls|boys|students|workers|bars|clubs|neighbou?rhoods?"
        r"|homes|households|population|voters|americans)",
        r"(?:mosques?|synagogues?|churches|temples?|gurdwaras?|gay bars?|pride (?:parade|march"
        r"|events?)|refugee (?:camps?|shelters?|centers?|centres?)|roma camps?)",
    ),
    "dehumanise": any_of(
        r"vermin",
        r"sub-?humans?",
        r"animals",
        r"apes",
        r"monkeys",
        r"parasites?",
        r"cockroaches",
        r"roaches",
        r"rats",
        r"pigs",
        r"savages",
        r"mongrels",
        r"a (?:disease|plague|cancer|virus|infestation)",
        r"diseased",
        r"infestation",
        r"inferior (?:race|beings|species|people)",
        r"genetically inferior",
        r"not (?:real |fully )?(?:humans?|people)",
        r"less than human",
        r"should (?:all )?(?:be )?(?:exterminated|eliminated|eradicated|wiped out|gassed|killed"
        r"|deported|removed|sterili[sz]ed|burned|hanged|shot|locked up)",
        r"deserves? to (?:die|suffer|be killed)",
        r"(?:don'?t|do not|doesn'?t) deserve (?:rights|to live|to exist)",
        r"must (?:be )?(?:exterminated|eliminated|eradicated|removed)",
        r"(?:go|should go) back to (?:their|your) (?:countr\w*|own)",
        r"(?:are|r) (?:all )?(?:criminals|rapists|terrorists|thieves|pedophiles|groomers"
        r"|degenerates|freaks|mentally ill)",
        r"(?:are|r|is) (?:all |just |naturally |genetically |intellectually )?(?:inferior|worthless"
        r"|less intelligent|stupid|evil|dirty|disgusting|filth|filthy|property|objects|slaves)",
        r"should(?:n'?t| not) (?:be allowed to )?(?:vote|have rights|exist|live here|be free"
        r"|be citizens)",
        r"(?:live|lives|living|breed\w*|multipl\w*|spread\w*) like (?:parasites|rats|animals"
        r"|vermin|cockroaches|rabbits|a (?:disease|virus|plague))",
        r"parasites? (?:on|off)",
        r"secretly (?:control|run|own)\w* (?:the )?(?:banks?|media|government|world|money)",
        r"(?:less|un|not) ?evolved",
        r"(?:lower|low) iqs?",
        r"(?:can'?t|cannot|unable to) govern themselves",
        r"primitive",
        r"useless eaters",
        r"retard\w*",
        r"perverts?",
        r"degenerates?",
        r"inbred",
        r"(?:are|is|r) (?:all )?(?:\S+ )?(?:sick|perverts?|freaks?|retard\w*|mentally ill"
        r"|diseased|deranged|groomers|predators)",
        r"burdens? (?:on|to) (?:their |our |the )?(?:famil\w*|society|parents|country|taxpayers)",
        r"(?:as|like) (?:\S+ )?(?:animals|vermin|rats|apes|monkeys|cockroaches|parasites|savages)",
        r"drain\w* (?:on )?(?:society|the (?:nation|country|system))",
        r"burden on (?:society|the (?:nation|country|system))",
        r"brought (?:the |this )?(?:virus|disease|plague|covid|crime)",
        r"should (?:all )?(?:be )?(?:kept out|banned|barred|excluded|segregated)",
        r"(?:kept|keep) (?:them )?out of",
        r"don'?t belong (?:here|in)",
        r"poison\w* (?:the |our )?(?:nation|country|race|blood)",
        r"(?:breeding|outbreed\w*) (?:to )?replace",
        r"invad\w*",
        r"invasion",
        r"(?:are|is|r) (?:all )?(?:terrorists|criminals|rapists|animals|vermin|parasites|filth"
        r"|scum|trash|garbage|liars)",
        r"by (?:nature|birth|blood)",
        r"(?:are|is|r) (?:all )?(?:\S+ )?(?:greedy|lazy|dirty|backwards?|violent|dumber|stupider"
        r"|thieves|beggars|groomers|savages|goat-?\w+)",
        r"(?:genetically|naturally|born) (?:prone to|inclined to|wired for) (?:crime|violence"
        r"|theft)",
        r"ruin (?:every|the|our) (?:country|countries|nation|neighbou?rhoods?)",
        r"spread\w* (?:plagues?|diseases?|viruses)",
        r"should(?:n'?t| not) (?:be allowed to )?(?:have (?:children|kids)|breed|marry|reproduce)",
        r"belong in the kitchen",
        r"(?:dumber|stupider|inferior|lesser) than (?:men|women|whites|us|everyone)",
        r"calling (?:\S+ ){0,3}(?:groomers|predators|pedophiles|animals|vermin|rats|terrorists"
        r"|criminals|savages)",
    ),
    "exterminate": any_of(
        r"exterminat\w*",
        r"eliminat\w* (?:all|every|the)",
        r"eradicat\w*",
        r"wip(?:e|ing) out",
        r"get rid of (?:all|every|the)",
        r"kill (?:all|every)",
        r"gas (?:the|all)",
        r"deport (?:all|every)",
        r"purge (?:all|the)",
        r"(?:a |the )?purg(?:e|es|ing) of",
        r"cleans(?:e|ing) (?:\S+ )?of",
        r"genocide (?:of|against)",
        r"(?:holy|race|religious) war (?:against|on)",
        r"death to",
    ),
    "group_harm": any_of(
        r"(?:burn\w*|bomb\w*|attack\w*|shoot\w*|hit|raid\w*|torch\w*|firebomb\w*"
        r"|poison\w*|lynch\w*|hunt\w*|beat\w* up|stab\w*|kill\w*|murder\w*|gas\w*"
        r"|expel\w*|targets?|cleanup|clean up|disappear|drive (?:\S+ ){1,3}out|run (?:\S+ ){1,3}out"
        r"|by force|burned out|(?:with|bring\w*|armed with) (?:\S+ )?(?:clubs|bats|torches|knives"
        r"|machetes|pipes|pitchforks)"
        r"|or be burned|violence|violent\w*|weapons?|rifles?|guns?|smash\w*|vandali[sz]\w*"
        r"|run\w* over|go after|hang\w*|drag\w* out|beaten|armed|blow\w* up"
        r"|grab (?:\S+ )?(?:bats|guns|weapons"
        r"|knives))",
    ),
    "group_threat": any_of(
        r"(?:\w+'ll|will|gonna|going to) be (?:attacked|burned|killed|lynched|hunted|shot|bombed"
        r"|targeted|hurt|beaten|expelled|driven out|dealt with)",
        r"should be (?:hunted|attacked|burned|killed|lynched|shot|beaten|expelled)",
        r"(?:leave|get out of) (?:\S+ ){0,2}(?:town|the city|the country|our neighbou?rhood)"
        r" (?:or|before)",
        r"(?:promis|threaten)\w* violence",
        r"day of the rope",
        r"race war",
        r"make \w+ (?:\S+ )?disappear",
        r"finish the job",
        r"go back (?:\S+ ){0,3}or else",
        r"(?:which|what) (?:\S+ ){0,2}(?:mosque|synagogue|church|temple|gurdwara) to (?:hit"
        r"|target|attack|burn)",
        r"(?:which|what) (?:\S+ ){0,3}to (?:hit|target|attack|burn|bomb|torch|raid|smash"
        r"|vandali[sz]e|wreck|loot)(?: first| next)?",
        r"or (?:we|i|they)(?:'ll| will)? (?:burn|kill|shoot|hurt|come for|attack|beat)",
        r"(?:\w+'ll|will|gonna|going to) be (?:dragged|dragged out|strung up|hanged|run over)",
        r"(?:shot|killed|beaten) on sight",
        r"(?:face|get) the rope",
        r"(?:stay (?:off|away|out))(?: \S+){0,3} or (?:\S+ )?(?:face|get|be|else|die)",
        r"(?:will|\w+'ll|gonna|going to) (?:burn|die|bleed|suffer|pay for it)(?: next)?",
        r"(?:mark\w*|map\w*) (?:\S+ ){0,4}(?:homes|houses|doors|neighbou?rhoods|businesses|shops)"
        r" (?:for (?:a |our |us )?(?:visits?|attacks?|targets?)|as targets)"
        r"(?:\w+'ll|will|gonna|going to) get (?:\S+ ){0,2}(?:kicked in|beaten|hurt|killed|shot"
        r"|stabbed"
        r"|bashed|smashed)",
        r"should (?:all )?be (?:rounded up|shot|killed|hanged|gassed|exterminated|burned|lynched)",
        r"(?:for|pay (?:them|him|her)) a visit",
        r"(?:leave|get out|go back|move out)(?: \S+){0,3} or (?:\S+ )?(?:get|be|face|else|die)",
    ),
    "harass": any_of(
        r"harass\w*",
        r"bully\w*",
        r"bullies",
        r"intimidat\w*",
        r"threaten\w*",
        r"make fun of",
        r"ridicul\w*",
        r"mocking",
        r"insult\w*",
        r"demean\w*",
        r"humiliat\w*",
        r"raid\w*",
        r"brigad\w*",
        r"dogpil\w*",
        r"troll\w*",
    ),
    "tool": any_of(
        r"bots?",
        r"tools?",
        r"scripts?",
        r"campaigns?",
        r"automat\w*",
        r"mass",
        r"generators?",
        r"accounts",
    ),
    "hate_content": any_of(
        r"(?:racist|racism|antisemit\w*|anti-?semit\w*|homophobic|transphobic|islamophobic"
        r"|xenophobic|misogyn\w*|sexist|bigoted|white (?:power|supremac\w*|nationalis\w*)"
        r"|neo-?nazi\w*|(?<!grammar )nazi) (?:\S+ ){0,2}(?:memes?|jokes?|content|propaganda"
        r"|posts?|sites?|websites?|forums?|generators?|slogans?|songs?|tweets?|messages?"
        r"|comments?|insults?|rants?|manifestos?|recruit\w*|communit\w*|chat\w*|boards?"
        r"|merch\w*|flyers?|stickers?)",
        r"(?:slurs?|hate speech) (?:generators?|bots?|lists?|dictionar\w*)",
        r"(?:generat|creat|writ|mak|post|spam|send|spread)\w* (?:\S+ ){0,2}(?:slurs|hate speech)",
        r"race war",
        r"great replacement",
        r"ethnic cleansing",
        r"racial purity",
        r"master race",
        r"heil hitler",
        r"sieg heil",
        r"1488",
        r"14 ?words",
        r"holocaust (?:denial|was a hoax|never happened|is a lie|didn'?t happen)",
        r"(?:racial|ethnic|racist|homophobic|antisemitic) slurs",
        r"slurs (?:against|about|for) (?:\S+ ){0,2}(?:people|blacks|jews|gays|immigrants)",
    ),
    "group_incite": any_of(
        r"call\w* (?:on|for) (?:\S+ ){0,2}to",
        r"calling for (?:the )?(?:death|killing|extermination|attacks?|burning|murder)",
        r"urg\w* (?:\S+ ){0,2}to",
        r"encourag\w* (?:\S+ ){0,2}to",
        r"tell\w* (?:\S+ ){0,2}to",
        r"(?:score|scores|scoring|earn|earns|win|wins|get|gets) (?:\S+ )?points",
        r"(?:songs?|lyrics|games?|poems?|jokes?) about (?:killing|burning|shooting|attacking"
        r"|hanging|lynching|gassing|beating|stabbing|bombing|drowning)",
        r"(?:high )?scores?",
        r"for (?:our|my|the) (?:guys|men|boys|crew|group|members)(?: to)?",
        r"assign\w*",
        r"shar\w* (?:\S+ )?targets",
        r"let'?s",
        r"we (?:should|must|need to|will)",
        r"plan\w* (?:how|to|an? (?:attack|raid))",
        r"how to (?:attack|burn|kill|hit|poison|hunt|drive)",
        r"(?:for|earn\w*|scor\w*) (?:\S+ )?points",
        r"points for",
        r"march\w*",
        r"organi[sz](?:e|es|ing|ed)",
        r"instructions (?:to|for|on)",
        r"plan\w*",
        r"night of",
        r"rall\w*",
        r"coordinat\w*",
        r"patrols?",
        r"mobs?",
    ),
    "unwelcome": any_of(
        r"(?:doesn'?t|don'?t|do not|does not) want (?:them|you|\w+) (?:here|around)?",
        r"leave while (?:they|you) (?:still )?can",
        r"(?:not|aren'?t|are not) welcome (?:here|in)",
        r"(?:you'?re|they'?re|you are|they are) not wanted",
    ),
    "group_crime": any_of(
        r"crime (?:\S+ )?(?:statistics|stats|rates|data|numbers|figures)",
    ),
    "group_statistics": any_of(
        r"(?:crime|iq|welfare|immigration) (?:\S+ )?(?:statistics|stats|rates|data|numbers)"
        r" (?:\S+ ){0,2}(?:by|per|and) (?:race|ethnicity|religion|nationality|origin)",
    ),
    "ctx_hate_defence": any_of(
        r"report\w* (?:\S+ )?(?:hate|harassment|abuse|racism|bullying|slurs)",
        r"moderat\w*",
        r"(?:detect|classif|filter|flag)\w* (?:\S+ ){0,2}(?:hate|slurs|harassment|toxic\w*"
        r"|abuse|bullying)",
        r"(?:counter|debunk|combat|fight|challeng)\w* (?:\S+ ){0,2}(?:racism|hate|antisemitism"
        r"|bigotry|homophobia|transphobia|misinformation|denial|propaganda|extremism|myths?)",
        r"anti[\s-]?(?:racis\w*|hate|bigotry|discriminat\w*|bullying|defamation)",
        r"support (?:groups?|network|resources|services|communit\w*)",
        r"resources for",
        r"inclusive",
        r"inclusion",
        r"diversity",
        r"pride (?:month|events?|parade)",
        r"history (?:lessons?|museum|education|courses?)",
        r"memorial",
        r"museum",
        r"safe spaces?",
        r"vigils?",
        r"victims of",
        r"remembrance",
        r"(?:security|safety) (?:plan|guards?|volunteers?|patrols?|app|alerts?)",
        r"(?:volunteer|armed)? ?guards",
        r"protect\w*",
        r"(?:recogni[sz]e|spot|identify|explain)\w* (?:\S+ ){0,3}(?:hate|extremis\w*|calls for"
        r"|propaganda|dog ?whistles|code words|slogans)",
        r"(?:glossary|dictionary) (?:\S+ ){0,2}(?:hate|extremis\w*)",
        r"hate crimes? (?:report\w*|tracker|statistics|data)",
        r"report\w* (?:\S+ ){0,3}(?:hate crimes?|vandalism|threats)",
        r"(?:study|history|reading) (?:guides?|lists?|class|lessons?)",
        r"(?:games?|strateg\w*) (?:\S+ ){0,4}(?:orcs?|zombies?|aliens?|invaders?)",
        r"(?:orcs?|zombies?|aliens?) (?:\S+ ){0,2}(?:invad\w*|invasion|invaders?|armies)",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    seq(HATE, 0.85, "dehumanises a protected group", "group", "dehumanise", gap=40, severe=True),
    near(HATE, 0.60, "dehumanising language near a protected group", "group", "dehumanise"),
    seq(
        HATE_THREATENING,
        0.90,
        "calls for violence against a protected group",
        "exterminate",
        "group",
        gap=20,
        severe=True,
    ),
    near(HATE, 0.80, "hateful content or symbols", "hate_content"),
    near(HATE, 0.45, "statistics about a group's crimes or IQ", "group_statistics"),
    near(HATE, 0.45, "a group's crime figures", "group", "group_crime", window=80),
    near(HATE_THREATENING, 0.50, "tells a group it is unwelcome", "unwelcome", "group", window=80),
    near(
        HATE_THREATENING,
        0.60,
        "harm aimed at a protected group or its places",
        "group_harm",
        "group",
        window=50,
    ),
    near(
        HATE_THREATENING,
        0.75,
        "threat against a protected group",
        "group_threat",
        "group",
        window=100,
        severe=True,
    ),
    near(HATE_THREATENING, 0.50, "threatening formula aimed at groups", "group_threat"),
    near(
        HATE_THREATENING,
        0.55,
        "incites harm to a protected group",
        "group_incite",
        "group_harm",
        "group",
        window=100,
        severe=True,
    ),
    near(HATE, 0.55, "harasses a protected group", "harass", "group", window=50),
    near(HATE, 0.50, "tooling to harass a protected group", "tool", "harass", "group", severe=True),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({HATE, HATE_THREATENING}),
        0.45,
        "moderation, education or support",
        "ctx_hate_defence",
    ),
)
