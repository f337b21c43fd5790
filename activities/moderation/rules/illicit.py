"""Illicit: non-violent crime (DDoS tools, booters and floods aimed at someone else's service).

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

TERMS: Final[dict[str, str]] = {
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
    Context(frozenset({ILLICIT}), 0.45, "load testing or DDoS defence", "ctx_ddos_defence"),
)
