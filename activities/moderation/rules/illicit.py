"""Illicit: non-violent crime (``illicit``: drug and stolen-goods markets, laundering,
smuggling, counterfeits, piracy, DDoS tools aimed at someone else's service) and
violent crime (``illicit/violent``: making or buying weapons and explosives, hiring or
planning violence).

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

ILLICIT: Final = ModerationCategory.ILLICIT
ILLICIT_VIOLENT: Final = ModerationCategory.ILLICIT_VIOLENT

_DRUG = (
    r"(?:cocaine|coke|crack|mdma|ecstasy|molly|heroin|meth|methamphetamine|fentanyl|lsd|acid"
    r"|ketamine|oxycodone|oxycontin|oxy|xanax|adderall|percocet|opioids?|opiates?|painkillers"
    r"|weed|cannabis|marijuana|psilocybin|shrooms|mushrooms|dmt|ghb|steroids|drugs)"
)
_WEAPON = (
    r"(?:pipe ?bombs?|bombs?|ieds?|explosives?|grenades?|napalm|thermite|molotovs?(?: cocktails?)?"
    r"|ricin|sarin|nerve agents?|chemical weapons?|poison gas|bioweapons?|silencers?|suppressors?"
    r"|ghost guns?|zip guns?|untraceable (?:guns?|firearms?|rifles?|pistols?)|auto ?sears?"
    r"|machine guns?|switchblades|brass knuckles|guns?|firearms?|rifles?|pistols?|ammo|ammunition)"
)

TERMS: Final[dict[str, str]] = {
    # --- non-violent crime
    "drug": any_of(_DRUG),
    "sell": any_of(
        r"(?:online )?(?:shop|store|market(?:place)?|vendors?|dealers?|checkout)s?",
        r"sell\w*",
        r"buy\w*",
        r"deliver\w*",
        r"ship\w*",
        r"order\w*",
        r"trad(?:e|es|ing)",
        r"for sale",
        r"resell\w*",
        r"escrow",
    ),
    "illegal_means": any_of(
        r"without (?:a )?(?:prescription|license|id|customs noticing|(?:the )?police noticing)",
        r"no (?:prescription|questions asked|id needed|id required)",
        r"discreet(?:ly)? (?:shipping|delivery|packaging)",
        r"(?:crypto|bitcoin|monero) (?:checkout|payments?|only)",
        r"(?:avoid|dodg|evad|get past|hid\w* from)\w* (?:\S+ ){0,2}(?:the )?(?:police|cops|law"
        r" enforcement|customs|border|checkpoints?|dui checkpoints?|narcs|feds)",
        r"routed to avoid",
        r"(?:where|in a (?:state|country) where) (?:it'?s|it is|they are|weed is) illegal",
        r"illegal(?:ly)?",
        r"not for human consumption",
    ),
    "crime_market": any_of(
        r"dark ?(?:net|web) (?:markets?|shops?|stores?|vendors?|clones?)",
        r"darknet",
        r"money laundering",
        r"launder\w* (?:\S+ )?(?:money|funds|cash|crypto|proceeds)",
        r"crypto ?(?:mixers?|tumblers?)",
        r"clean (?:the )?(?:\S+ )?(?:proceeds|dirty money)",
        r"counterfeit (?:money|bills|currency|banknotes|notes|dollars|euros)",
        r"(?:stolen|hacked|cracked|leaked|breached) (?:\S+ ){0,2}(?:accounts?|logins|databases?"
        r"|credentials|data ?bases?|dumps?)",
        r"(?:sell|buy|trade)\w* (?:\S+ ){0,2}(?:leaked|stolen|hacked) (?:\S+ )?(?:data|emails)",
        r"(?:smuggl\w*|traffick\w*|bootleg\w*|poach\w*)",
        r"shoplift\w*",
        r"(?:steal|stolen) (?:\S+ )?exam answers",
        r"exam answers (?:\S+ ){0,2}stolen",
        r"(?:fake|replica|counterfeit|knock-?off) (?:\S+ )?(?:designer|gucci|louis vuitton"
        r"|rolex|chanel|nike|prada) (?:\S+ )?(?:bags?|watches|goods|shoes|items)?",
        r"sold as (?:real|genuine|authentic)",
        r"pirat\w*",
        r"iptv (?:reseller|panel)s?",
        r"cracked (?:games?|software|apps?)",
        r"keygens?",
        r"(?:working|free|generated?) (?:\S+ )?(?:license|licence|product|activation|serial)"
        r" keys?",
        r"(?:license|licence|product|activation) keys? (?:generator|so i can sell)",
        r"(?:drive|driving) (?:home )?drunk",
        r"drunk driv\w*",
    ),
    "drug_grey": any_of(
        r"research chemicals",
        r"legal highs",
    ),
    # --- violent crime
    "weapon": any_of(_WEAPON),
    "make_weapon": any_of(
        r"(?:make|making|makes|build|building|builds|assembl\w*|manufactur\w*|produc\w*"
        r"|extract\w*|synthesi[sz]\w*|cook\w*|brew\w*|rig\w*|convert\w*|print\w*|mill\w*)",
        r"how to",
        r"step[\s-]by[\s-]step",
        r"instructions?",
        r"tutorials?",
        r"guides?",
        r"recipes?",
        r"files? for",
        r"kits?",
    ),
    "weapon_strong": any_of(
        r"pipe ?bombs?",
        r"ghost guns?",
        r"untraceable (?:guns?|firearms?|rifles?|pistols?)",
        r"auto ?sears?",
        r"(?:convert\w*|conversion) (?:\S+ ){0,4}(?:full[\s-]?auto|automatic)",
        r"full[\s-]?auto (?:conversion|kits?)",
        r"3d[\s-]?print\w* (?:\S+ ){0,3}(?:guns?|firearms?|pistols?|rifles?|receivers?)",
        r"solvent traps?",
        r"(?:ricin|sarin|napalm|nerve agents?|chemical weapons?|poison gas|bioweapons?)",
        r"(?:drones?) (?:\S+ ){0,3}(?:drop|dropping|carry|carrying) (?:\S+ )?explosives",
        r"(?:fertili[sz]er|anfo) (?:and|plus) (?:fuel|diesel)",
        r"(?:bring|level|blow) (?:\S+ )?(?:down |up )?(?:a|the) (?:building|bridge|house)",
        r"hit ?m[ae]n",
        r"(?:hire|hiring|hires) (?:a |an )?(?:killer|assassin|hit ?man)",
        r"murder[\s-]for[\s-]hire",
        r"contract kill\w*",
        r"kidnap(?:s|ping|ped)? (?:\S+ ){0,2}(?:for (?:a )?ransom|someone|somebody|him|her"
        r"|a (?:child|kid|person|woman|girl|boy)|the (?:target|kid|child|ceo|girl|boy|heir))",
        r"(?:plan|coordinat|organi[sz]|arrang)\w* (?:\S+ ){0,2}kidnapping",
        r"(?:armou?red (?:truck|car|van)|bank|jewelry store) robber(?:y|ies)",
        r"rob\w* (?:\S+ ){0,2}(?:armou?red (?:truck|car)|bank|store)",
        r"carjack\w*",
        r"home invasions?",
        r"poison\w* (?:someone|somebody|a person|my (?:\S+ )?(?:wife|husband|boss|neighbou?r|ex)"
        r"|him|her|people)",
        r"(?:look|looks) like (?:a )?natural (?:illness|death|causes)",
        r"armed attacks?",
        r"attacks? on (?:\S+ ){0,2}(?:substations|power grid|power stations|pipelines)",
        r"arms (?:trafficking|dealing|smuggling)",
        r"gun[\s-]?running",
        r"(?:molotov|firebomb)\w* (?:\S+ ){0,6}(?:police|cops|crowd|building|throw)",
    ),
    "no_checks": any_of(
        r"(?:no|without|skip\w*|bypass\w*) (?:\S+ )?(?:background checks?|id|serial numbers?"
        r"|questions asked|license|registration)",
        r"(?:to|for) anyone",
        r"anonymous(?:ly)?",
    ),
    "weapon_grey": any_of(r"thermite", r"black powder", r"gunpowder"),
    "ctx_weapon_benign": any_of(
        r"(?<!no )(?<!without )background checks?",
        r"licensed",
        r"safety",
        r"safe(?:ly)? stor\w*",
        r"(?:gun|firearm) safes?",
        r"museum",
        r"histor\w*",
        r"novel",
        r"fiction",
        r"plot\w*",
        r"airsoft",
        r"paintball",
        r"disposal",
        r"demolition (?:company|firm|contractor)",
        r"regulations?",
        r"hunting",
        r"gunsmith\w*",
        r"(?:class|classroom|teacher|lab)",
        r"why (?:\S+ ){0,4}dangerous",
        r"fireworks",
        r"pyrotechnic\w*",
        r"pepper spray",
        r"escape rooms?",
        r"games?",
        r"movies?",
    ),
    "ctx_illicit_benign": any_of(
        r"harm reduction",
        r"drug[\s-]checking",
        r"naloxone",
        r"pharmac\w*",
        r"verified by a pharmacist",
        r"licensed",
        r"legal(?:ly)? (?!highs)",
        r"official (?:distributor|store|reseller)",
        r"(?:spot|detect|identify|catch)\w* (?:\S+ ){0,3}(?:counterfeit|fake|smuggl)\w*",
        r"anti[\s-]?money[\s-]?laundering",
        r"aml",
        r"detective",
        r"customs declaration",
        r"games?",
        r"courses?",
        r"explain\w*",
    ),
    # --- denial of service
    "ddos_term": any_of(
        r"d+os(?:ing|ed|er|ers)?",
        r"denial[\s-]of[\s-]service",
        r"(?:ip |network )?stressers?",
        r"booters?",
        r"(?:http|https|syn|udp|icmp|tcp|ack|dns|ntp|memcached|layer ?[47]|l[47]|ping) floods?",
        r"flood(?:ing|er)? attacks?",
        r"slowloris",
        r"loic",
        r"hoic",
        r"amplification attacks?",
        r"reflection attacks?",
    ),
    "ddos_tool": any_of(
        r"(?:d?dos|stress(?:er)?|booter|flood(?:er|ing)?) (?:tools?|scripts?|panels?|services?"
        r"|bots?|programs?|apps?|software|botnet)",
    ),
    "flood": any_of(
        r"flood\w*",
        r"hammer\w*",
        r"bombard\w*",
        r"overwhelm\w*",
        r"overload\w*",
        r"saturat\w*",
        r"(?:send|sends|sending|fir(?:e|es|ing)|blast\w*|spam\w*) (?:\S+ )?(?:millions|thousands"
        r"|tons|lots|a (?:ton|lot)|massive amounts|huge amounts|endless|unlimited|as many)"
        r" (?:of )?(?:\S+ )?(?:requests|packets|traffic|connections|pings)",
    ),
    "takedown": any_of(
        r"tak(?:e|es|ing) (?:\S+ ){0,3}down",
        r"took (?:\S+ ){0,3}down",
        r"knock\w* (?:\S+ ){0,3}(?:offline|down|out)",
        r"bring\w* (?:\S+ ){0,3}down",
        r"brought (?:\S+ ){0,3}down",
        r"crash(?:es|ing)? (?:a|the|their|any|someone'?s|competitors?'?s?|rivals?'?s?|targets?)",
        r"(?:make|makes|making) (?:\S+ ){0,3}(?:unreachable|unavailable|go offline|goes offline)",
        r"(?:until|so) (?:it|they|the site|the server) (?:goes|go|is|are) (?:offline|down)",
        r"until (?:it|they|the site|the server) crash(?:es)?",
        r"(?:so|until) (?:that )?(?:the |our |their )?(?:\S+ ){0,2}(?:exam|test|game|match|site"
        r"|server|stream|sale|service|website)s? (?:gets? |is |are )?(?:cancel+ed|down|offline"
        r"|crash\w*|unavailable)",
    ),
    "net_target": any_of(
        r"sites?",
        r"websites?",
        r"servers?",
        r"ips?",
        r"ip address(?:es)?",
        r"domains?",
        r"networks?",
        r"endpoints?",
        r"apis?",
        r"routers?",
        r"targets?",
        r"hosts?",
        r"urls?",
    ),
    "hostile_owner": any_of(
        r"someone(?:'?s| else'?s?)?",
        r"somebody'?s?",
        r"competitors?'?s?",
        r"rivals?'?s?",
        r"enem(?:y|ies)'?s?",
        r"a target",
        r"any (?:site|website|server|ip|url|target)",
        r"(?:a|any) given (?:site|ip|url)",
        r"other people'?s",
        r"my ex'?s?",
        r"victims?'?s?",
        r"their",
    ),
    "ctx_ddos_defence": any_of(
        r"load[\s-]?test\w*",
        r"stress[\s-]?test\w* (?:my|our)",
        r"benchmark\w*",
        r"rate[\s-]?limit\w*",
        r"(?:ddos|dos) (?:protection|mitigation|defen[cs]e|detection|prevention)",
        r"protect\w* (?:\S+ ){0,2}(?:against|from) (?:\S+ )?(?:ddos|dos|attacks?|floods?)",
        r"status pages?",
        r"uptime",
        r"maintenance",
        r"(?:site|server|api)s? (?:i|we) own",
        r"my (?:own |old )?(?:site|website|server|api|app|blog|page)s?",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    # non-violent crime
    near(ILLICIT, 0.50, "drug sales", "drug", "sell", window=60),
    near(ILLICIT, 0.50, "drugs by illegal means", "drug", "illegal_means", window=80),
    near(ILLICIT, 0.80, "illegal market, laundering, smuggling, piracy", "crime_market"),
    near(ILLICIT, 0.35, "illegal means", "illegal_means"),
    near(ILLICIT, 0.45, "grey-market drugs", "drug_grey"),
    # violent crime
    near(
        ILLICIT_VIOLENT,
        0.85,
        "weapons, explosives or violent crime",
        "weapon_strong",
        severe=True,
    ),
    near(ILLICIT_VIOLENT, 0.60, "making weapons or explosives", "make_weapon", "weapon", window=50),
    near(ILLICIT_VIOLENT, 0.55, "weapons without checks", "weapon", "no_checks", window=80),
    near(
        ILLICIT_VIOLENT,
        0.50,
        "sells weapons without checks",
        "sell",
        "weapon",
        "no_checks",
        window=80,
        severe=True,
    ),
    near(ILLICIT_VIOLENT, 0.45, "incendiaries", "weapon_grey"),
    # denial of service
    near(ILLICIT, 0.35, "denial-of-service term (DDoS, booter, flood ...)", "ddos_term"),
    seq(ILLICIT, 0.45, "denial of service against a site", "ddos_term", "net_target", gap=25),
    near(ILLICIT, 0.50, "floods until the target goes down", "flood", "takedown"),
    near(ILLICIT, 0.65, "DDoS tool", "ddos_tool"),
    near(ILLICIT, 0.50, "asks to build a DDoS tool", "build", "ddos_term", window=60),
    near(ILLICIT, 0.55, "floods a target with traffic", "flood", "net_target", window=60),
    near(
        ILLICIT,
        0.45,
        "floods someone else's service",
        "flood",
        "net_target",
        "hostile_owner",
        severe=True,
    ),
    seq(ILLICIT, 0.45, "takes a site offline", "takedown", "net_target", gap=25),
    near(
        ILLICIT,
        0.60,
        "takes someone else's site offline",
        "takedown",
        "net_target",
        "hostile_owner",
        severe=True,
    ),
    near(ILLICIT, 0.50, "denial of service against someone else", "ddos_term", "hostile_owner"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({ILLICIT}), 0.40, "harm reduction, licensed or lawful trade", "ctx_illicit_benign"
    ),
    Context(
        frozenset({ILLICIT_VIOLENT}),
        0.40,
        "licensed, safety, history or fiction",
        "ctx_weapon_benign",
    ),
    Context(frozenset({ILLICIT}), 0.45, "load testing or DDoS defence", "ctx_ddos_defence"),
)
