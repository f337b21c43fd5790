"""Vocabularies and benign contexts that several categories share.

The words for asking to build something, for doing it covertly, for sending what
was captured away and for stealing; real brands (phishing and scams impersonate
them) and people; the user's own accounts and security education as benign contexts.
"""

from __future__ import annotations

from typing import Final

from activities.moderation.rules.helpers import (
    EDUCATION,
    WITHOUT_CONSENT,
    Context,
    Rule,
    any_of,
)
from schemas.moderation import ModerationCategory

DOXXING: Final = ModerationCategory.DOXXING
ILLICIT: Final = ModerationCategory.ILLICIT
FRAUD: Final = ModerationCategory.FRAUD
MALWARE: Final = ModerationCategory.MALWARE
PHISHING: Final = ModerationCategory.PHISHING
SPAM: Final = ModerationCategory.SPAM
SURVEILLANCE: Final = ModerationCategory.SURVEILLANCE

TERMS: Final[dict[str, str]] = {
    "build": any_of(
        r"mak(?:e|es|ing)",
        r"build\w*",
        r"creat(?:e|es|ing)",
        r"writ(?:e|es|ing)",
        r"code",
        r"develop\w*",
        r"generat(?:e|es|ing)",
        r"program",
        r"implement\w*",
        r"set ?up",
        r"deploy",
        r"host",
        r"(?:i )?need",
        r"(?:i )?want",
        r"give me",
    ),
    "stealth": any_of(
        r"secret(?:ly)?",
        r"covert(?:ly)?",
        r"hidden",
        r"hid(?:e|es|ing) (?:itself|from|in)",
        r"invisibl[ey]",
        r"silent(?:ly)?",
        r"stealth\w*",
        r"undetect\w*",
        WITHOUT_CONSENT,
        r"in the background",
        r"(?:evad|bypass|avoid)\w* (?:the )?(?:antivirus|anti-?virus|av|detection|defender|edr)",
        r"fud",
        r"fully undetectable",
    ),
    "exfil": any_of(
        r"(?:send|sends|sending|forward\w*|e-?mail\w*|upload\w*|post\w*|relay\w*|transmit\w*"
        r"|cop(?:y|ies|ying)|push\w*|leak\w*)"
        r" (?:\S+ ){0,5}to (?:me|my (?:own )?\w+|a (?:remote|hidden|private|external) \w+|us"
        r"|our \w+|https?:?/*\S+|this (?:url|webhook|endpoint|address))",
        r"e-?mails? me",
        r"send(?:s|ing)? me",
        r"(?:telegram|discord) (?:bot|webhook|channel)",
        r"webhook",
        r"remote server",
        r"c2",
        r"command[\s-]and[\s-]control",
        r"exfiltrat\w*",
        r"connect\w* back",
        r"upload\w* (?:it|them|everything|the (?:logs?|data|keystrokes|recordings?))",
        r"phone\w* home",
    ),
    "steal": any_of(r"steal\w*", r"stole", r"grab\w*", r"siphon\w*", r"exfiltrat\w*"),
    "for_self": any_of(
        r"(?:my|our) own",
        r"for (?:my|our) (?:own )?(?:app|site|website|startup|company|business|team|users)",
        r"password managers?",
        r"(?:i|we) (?:own|control|administer|run)",
    ),
    "ctx_security_edu": any_of(
        EDUCATION,
        r"simulat\w* for (?:my |our )?(?:employees|staff|team|users)",
        r"(?:my |our |a )?(?:\S+ )?class(?:es|room)?",
        r"explain\w*",
        r"how (?:\S+ ){0,3}works?",
        r"(?:phishing|scam|fraud|spam|security) (?:simulation|awareness|training|quiz|test|demo"
        r"|demonstration|exercise|drill)",
    ),
    "person": any_of(
        r"someone'?s?",
        r"somebody'?s?",
        r"a (?:specific |particular |random |private )?person'?s?",
        r"(?:a|this|that|the|some) (?:girl|woman|guy|man|stranger|celebrity|streamer|journalist"
        r"|coworker|colleague|neighbou?r|classmate|kid|teen|person)'?s?",
        r"(?:my|an|her|his|their|our) (?:teenage |teen |young |little |new )?(?:ex|ex-?(?:wife"
        r"|husband|girlfriend|boyfriend|partner)|wife|husband|girlfriend|boyfriend|partner|spouse"
        r"|crush|coworker|co-worker|colleague|neighbou?r|boss|roommate|flatmate|classmate|target"
        r"|sister|brother|mom|mum|dad|mother|father|daughter|son|employee|tenant|landlord|friend"
        r"|nanny|babysitter)'?s?",
        r"(?:him|her)",
        r"(?:he|she)",
        r"(?:that|the|this) person",
        r"any(?:one|body)'?s?",
        r"(?:a|any|the) target'?s?",
        r"(?:by|from) (?:their |just (?:a |their )?|only (?:a |their )?)?(?:name|username"
        r"|phone number|photo|picture|e-?mail(?: address)?|license plate|ip address|handle)",
        r"private (?:individuals?|citizens?|people)",
    ),
    "brand": any_of(
        r"paypal",
        r"venmo",
        r"cash ?app",
        r"zelle",
        r"stripe",
        r"apple(?: id)?",
        r"icloud",
        r"google",
        r"gmail",
        r"microsoft(?: ?365)?",
        r"outlook",
        r"hotmail",
        r"office ?365",
        r"onedrive",
        r"sharepoint",
        r"facebook",
        r"instagram",
        r"whatsapp",
        r"meta",
        r"tiktok",
        r"snapchat",
        r"twitter",
        r"linkedin",
        r"yahoo",
        r"amazon",
        r"aws",
        r"netflix",
        r"spotify",
        r"steam",
        r"roblox",
        r"discord",
        r"dropbox",
        r"docusign",
        r"adobe",
        r"github",
        r"coinbase",
        r"binance",
        r"kraken",
        r"metamask",
        r"trust wallet",
        r"bank of america",
        r"chase(?: bank)?",
        r"wells fargo",
        r"citi(?:bank)?",
        r"capital one",
        r"hsbc",
        r"barclays",
        r"santander",
        r"lloyds",
        r"natwest",
        r"halifax",
        r"revolut",
        r"monzo",
        r"deutsche bank",
        r"td bank",
        r"scotiabank",
        r"usaa",
        r"american express",
        r"amex",
        r"mastercard",
        r"irs",
        r"hmrc",
        r"usps",
        r"royal mail",
        r"dhl",
        r"fedex",
        r"(?:my|their|a|the|someone'?s|a real|real) bank'?s?",
        r"(?:our |my |a |the )?(?:competitor|rival)'?s?",
    ),
    "lookup_input": any_of(
        r"(?:type|enter|put|paste|upload)\w* in (?:a |their |someone'?s |any )?(?:phone number"
        r"|number|name|username|e-?mail|photo|license plate)",
        r"look\w* up (?:this |a |the |their )?(?:license plate|plate|phone number|username"
        r"|e-?mail)",
        r"(?:from|with|using) (?:just )?(?:a |their |someone'?s )?(?:phone number|username"
        r"|license plate|photo|picture|face|selfie)",
    ),
}

RULES: Final[tuple[Rule, ...]] = ()

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({PHISHING, MALWARE, SPAM, FRAUD, ILLICIT, SURVEILLANCE, DOXXING}),
        0.45,
        "security-education context",
        "ctx_security_edu",
    ),
    Context(
        frozenset({PHISHING, MALWARE}),
        0.5,
        "the user's own accounts",
        "for_self",
        unless="lure_dest",
    ),
)
