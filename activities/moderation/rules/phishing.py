"""Phishing and credential harvesting: look-alike login pages, kits, lures, account takeover.

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

PHISHING: Final = ModerationCategory.PHISHING

_OTHER_PERSON = (
    r"(?:someone(?:'?s| else'?s?)?|somebody'?s?|a (?:specific |random |private )?person'?s?"
    r"|other people'?s?|people'?s|strangers?'?s?|victims?'?s?|targets?'?s?|anyone'?s?"
    r"|my ex'?s?|an ex'?s?)"
)

TERMS: Final[dict[str, str]] = {
    "credentials": any_of(
        r"passwords?",
        r"passcodes?",
        r"credentials?",
        r"log[\s-]?in (?:details|info\w*|credentials|data)",
        r"logins",
        r"pin (?:codes?|numbers?)",
        r"2fa codes?",
        r"otps?",
        r"one[\s-]time (?:codes?|passwords?)",
        r"verification codes?",
        r"(?:credit |debit )?card (?:numbers?|details|info\w*)",
        r"credit cards?",
        r"cvv",
        r"cvc",
        r"seed phrases?",
        r"recovery phrases?",
        r"private keys?",
        r"bank (?:details|logins?|credentials)",
        r"social security numbers?",
        r"ssns?",
        r"(?:whatever|everything|what) (?:people|users|they|victims|visitors) (?:type|enter)\w*",
        r"(?:their|users'?|clients'?|customers'?|people'?s|staff'?s?|employees'?) (?:usernames? and"
        r" passwords?|logins?|passwords?)",
        r"session (?:cookies|tokens)",
        r"auth(?:entication)? (?:codes?|tokens?)",
        r"(?:security|sms|mfa|\w+ guard) codes?",
        r"codes? (?:they|users|people|customers) (?:get|receive)",
    ),
    "others": any_of(
        _OTHER_PERSON,
        r"employees'?",
        r"customers'",
        r"unsuspecting \w+",
        r"people outside",
        r"(?:their|his|her) (?:\S+ )?(?:passwords?|log[\s-]?ins?|credentials|pins?|codes?)",
    ),
    "institution": any_of(
        r"(?:the |their |your |our |a )?(?:bank|fraud (?:department|team)|it (?:department|team"
        r"|support)|help ?desk|hr|ceo|cfo|university|school|college|government|tax (?:office"
        r"|authority)|police|post office|courier|delivery company|tech support|customer support"
        r"|support team|security team|administrator)",
    ),
    "phish_term": any_of(r"phish\w*"),
    "phish_kit": any_of(
        r"phish\w* (?:kits?|pages?|sites?|websites?|e-?mails?|campaigns?|links?|templates?"
        r"|forms?|landing pages?|domains?|panels?|as a service|sms|texts?)",
        r"evilginx\w*",
        r"credential harvest\w*",
        r"smish\w*",
        r"vish\w*",
    ),
    "fake_strong": any_of(
        r"fake[ds]?",
        r"styled (?:\S+ )?(?:like|after|as)",
        r"[a-z0-9]+-looking",
        r"(?:made|designed|built) to look like",
        r"spoof\w*",
        r"counterfeit",
        r"look[\s-]?alike",
        r"imitat\w*",
        r"mimic\w*",
        r"impersonat\w*",
        r"forged?",
        r"bogus",
        r"phony",
        r"fraudulent",
        r"looks? (?:exactly |just |identical )?like",
        r"identical to",
        r"indistinguishable from",
        r"pixel[\s-]perfect",
        r"pretend\w* to be",
        r"disguis\w* as",
        r"pass\w* (?:itself |it )?off as",
        r"says? (?:it'?s|it is|they'?re|to be) (?:from )?(?:the|their|your)",
        r"pos(?:e|es|ing) as",
        r"claim(?:s|ing)? to be",
        r"on behalf of",
        r"(?:branded|designed) (?:as|like)",
        r"looks? real",
    ),
    "clone": any_of(
        r"clon(?:e|es|ed|ing)",
        r"cop(?:y|ies|ied)(?: of)?",
        r"replicas?",
        r"replicat\w*",
        r"recreat\w*",
        r"duplicat\w*",
        r"mirror\w*",
    ),
    "login": any_of(
        r"log[\s-]?ins?",
        r"logon",
        r"sign[\s-]?ins?",
        r"sign[\s-]?on",
        r"sso",
        r"auth(?:entication)? (?:page|portal|screen|form)",
        r"account (?:verification|recovery|login)",
        r"verify (?:your|their|the) (?:account|identity|card|payment)",
        r"password reset",
        r"reset (?:your|their) password",
        r"connect (?:your |their )?wallet",
        r"portals?",
    ),
    "deceive": any_of(
        r"trick\w* (?:people|users|them|victims|someone|customers|visitors|employees)",
        r"so (?:that )?(?:they|people|users|victims|visitors|customers|staff|employees|clients"
        r"|members|students|he|she) (?:think|believe)",
        r"think (?:it'?s|it is) (?:the )?real",
        r"(?:the )?real (?:one|site|website|page|thing)",
        r"(?:legit(?:imate)?|official|real)[\s-]looking",
        r"convinc\w* (?:people|users|them|victims)",
        r"victims?",
        r"unsuspecting",
        r"lur(?:e|es|ing)",
    ),
    "harvest": any_of(
        r"collect\w*",
        r"harvest\w*",
        r"captur\w*",
        r"steal\w*",
        r"grab\w*",
        r"skim\w*",
        r"siphon\w*",
        r"scrap(?:e|es|ing)",
        r"phish\w*",
        r"intercept\w*",
        r"sniff\w*",
        r"log (?:all|every|their|the)",
        r"record\w*",
        r"ask(?:s|ing)? (?:\S+ ){0,2}for",
        r"prompt(?:s|ing)? (?:\S+ )?for",
        r"catch\w*",
        r"sav(?:e|es|ing) (?:\S+ ){0,2}(?:to|in|into)",
        r"sav(?:e|es|ing) the",
        r"stor(?:e|es|ing) (?:the|their|all|every)",
        r"keep(?:s|ing)? (?:it|them|the)",
        r"logs? (?:\S+ )?(?:codes?|passwords?|credentials)",
    ),
    "pretext": any_of(
        r"(?:before|to get|for|in exchange for|to unlock|to claim) (?:\S+ ){0,2}(?:internet"
        r"|wifi|wi-fi|access|the download|free followers|followers|a prize|the prize|your prize"
        r"|verification|verified|the (?:blue )?badge|a refund|the refund|free \w+)",
        r"captive portal",
    ),
    "account_attack": any_of(
        r"brute[\s-]?forc\w* (?:\S+ ){0,3}"
        r"(?:log[\s-]?ins?|passwords?|accounts?|credentials|pins?|2fa|ssh)",
        r"credential stuffing",
        r"password spray\w*",
        r"combo ?lists?",
        r"account (?:takeover|checker)s?",
        r"log\w* (?:in)?to (?:their|other people'?s|users'?|victims'?|someone'?s|people'?s)"
        r" (?:\S+ )?accounts?",
        r"(?:hack|break|get)\w* into (?:\S+ ){0,2}(?:accounts?|e-?mails?|inbox|instagram|facebook"
        r"|phones?|icloud|snapchat)",
    ),
    "lure": any_of(
        r"(?:account|card|profile|wallet|id|access)s? (?:has been |is |was |have been |are )?"
        r"(?:temporarily )?(?:suspended|locked|limited|compromised|disabled|on hold|blocked|frozen"
        r"|deactivated)",
        r"(?:confirm|verify|update|re-?enter) (?:your |their )?"
        r"(?:card|payment|billing|bank|account) (?:details|info\w*|data)",
        r"unusual (?:sign[\s-]?in|login|activity)",
        r"you have won",
        r"claim (?:your|their) (?:prize|refund|reward)",
        r"(?:session|password|subscription|mailbox|account|payment|card)s? (?:has |have |is |are"
        r" |was )?(?:expired|full|over quota|failed|declined)",
        r"(?:mailbox|storage|quota) (?:\S+ )?(?:full|exceeded)",
        r"(?:order|package|parcel|delivery|shipment)s? (?:is |are |was |has been )?(?:stuck|held"
        r"|on hold|delayed|suspended)",
        r"shared (?:a (?:file|document|folder) )?with you",
        r"(?:verify|confirm|unlock|restore|secure|reactivate) (?:your|their) (?:\S+ )?accounts?",
        r"(?:re-?enter|re-?type) (?:the |your |their )?passwords?",
    ),
    "lure_dest": any_of(
        r"(?:at|to|via) (?:my|our) (?:link|url)",
        r"(?:to|on) my (?:form|server|domain)",
        r"(?:page|site|form|domain|server|link)s? (?:that )?(?:i|we) (?:control|host|set up"
        r"|registered)",
        r"(?:i|we) host (?:outside|elsewhere|myself)",
    ),
    "ctx_phishing_defence": any_of(
        r"report\w* (?:\S+ ){0,3}(?:phish|suspicious|scam)\w*",
        r"(?:phishing|phish) (?:detect\w*|report\w*|filter\w*|checker|scanner|protection"
        r"|prevention|blocker|alerts?)",
        r"detect(?:s|ing|or|ors)? (?:\S+ )?(?:phishing|phish|fake)\w*",
        r"(?:block|flag|scan)(?:s|ning|ging|er|ers)? (?:\S+ )?(?:phishing|suspicious|malicious)",
        r"protect\w* (?:\S+ ){0,2}(?:against|from) (?:phishing|scams?)",
        r"(?:check|verif|test)\w* (?:\S+ ){0,4}(?:is |are )?(?:a )?(?:known )?(?:phish\w*|scam"
        r"|malicious)",
        r"known phish\w*",
        r"(?:highlight|warn|flag|detect)\w* (?:\S+ ){0,2}(?:look[\s-]?alike|suspicious|fake"
        r"|spoof\w*)",
    ),
    "ctx_mockup": any_of(
        r"mock-?ups?",
        r"no (?:working|real|functional) (?:log[\s-]?ins?|sign[\s-]?ins?|backend)",
        r"(?:fake|dummy|sample|placeholder) data",
        r"(?:ui|design) (?:demo|prototype)s?",
    ),
    "ctx_own_backend": any_of(
        r"(?:my|our|the) (?:own )?(?:backend|api|database|db|auth (?:server|service|api))",
        r"over https",
        r"hash\w*",
        r"bcrypt",
        r"argon2",
        r"securely",
        r"encrypted",
    ),
    "ctx_signup": any_of(
        r"sign[\s-]?ups?",
        r"regist(?:er|ers|ering|ration)",
        r"account creation",
        r"creat\w* (?:an |their |a new )?accounts?",
        r"onboarding",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(PHISHING, 0.70, "phishing kit or page", "phish_kit"),
    near(PHISHING, 0.20, "mentions phishing", "phish_term"),
    near(PHISHING, 0.50, "imitation login page", "fake_strong", "login", window=50),
    seq(
        PHISHING,
        0.75,
        "fake login page of a real brand",
        "fake_strong",
        "brand",
        "login",
        gap=35,
        severe=True,
    ),
    seq(
        PHISHING,
        0.75,
        "login page made to look like a real brand's",
        "login",
        "fake_strong",
        "brand",
        gap=35,
        severe=True,
    ),
    near(PHISHING, 0.50, "asks for a real brand's login", "harvest", "brand", "login", window=60),
    near(
        PHISHING,
        0.50,
        "asks for a login under a pretext",
        "harvest",
        "login",
        "pretext",
        window=80,
    ),
    near(
        PHISHING,
        0.50,
        "copied brand page that collects credentials",
        "clone",
        "brand",
        "credentials",
        window=100,
    ),
    seq(PHISHING, 0.50, "copy of a real brand's login page", "clone", "brand", "login", gap=25),
    seq(PHISHING, 0.50, "copy of a real brand's login page", "brand", "login", "clone", gap=25),
    near(PHISHING, 0.25, "a real brand's login page", "brand", "login", window=40),
    near(PHISHING, 0.45, "login page meant to deceive", "login", "deceive"),
    near(PHISHING, 0.30, "brand imitation meant to deceive", "brand", "deceive"),
    near(PHISHING, 0.50, "collects credentials", "harvest", "credentials", window=50),
    near(
        PHISHING,
        0.55,
        "collects other people's credentials",
        "harvest",
        "credentials",
        "others",
        severe=True,
    ),
    near(PHISHING, 0.55, "sends captured credentials away", "credentials", "exfil"),
    near(PHISHING, 0.45, "sends login data away", "login", "exfil"),
    near(PHISHING, 0.50, "steals credentials", "steal", "credentials", window=50),
    near(
        PHISHING,
        0.60,
        "impersonates a brand to get credentials",
        "fake_strong",
        "brand",
        "credentials",
    ),
    near(PHISHING, 0.55, "account takeover (brute force, credential stuffing)", "account_attack"),
    near(
        PHISHING,
        0.50,
        "takes over someone else's account",
        "account_attack",
        "others",
        severe=True,
    ),
    near(PHISHING, 0.35, "account-alert lure", "lure"),
    near(
        PHISHING,
        0.60,
        "poses as a bank, employer or service to get credentials",
        "fake_strong",
        "institution",
        "credentials",
        window=100,
        severe=True,
    ),
    near(
        PHISHING,
        0.50,
        "poses as a bank, employer or service behind a sign-in",
        "fake_strong",
        "institution",
        "login",
        window=100,
    ),
    near(PHISHING, 0.45, "imitation that asks for credentials", "fake_strong", "credentials"),
    near(
        PHISHING,
        0.60,
        "asks for a real brand's password",
        "harvest",
        "brand",
        "credentials",
        window=60,
    ),
    near(
        PHISHING,
        0.55,
        "asks for credentials under a pretext",
        "harvest",
        "credentials",
        "pretext",
        window=80,
    ),
    near(
        PHISHING,
        0.60,
        "copied page that captures credentials",
        "clone",
        "harvest",
        "credentials",
        window=100,
    ),
    near(PHISHING, 0.50, "account-alert lure that asks to sign in", "lure", "login", window=100),
    near(PHISHING, 0.50, "account-alert lure that asks for credentials", "lure", "credentials"),
    near(PHISHING, 0.55, "sign-in sent to the sender's own page", "login", "lure_dest", window=80),
    near(
        PHISHING,
        0.55,
        "brand imitation leading to a sign-in",
        "fake_strong",
        "brand",
        "login",
        window=100,
    ),
    near(PHISHING, 0.65, "account-alert lure using a real brand", "lure", "brand"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(frozenset({PHISHING}), 0.45, "anti-phishing tool", "ctx_phishing_defence"),
    Context(frozenset({PHISHING}), 0.5, "account sign-up", "ctx_signup"),
    Context(frozenset({PHISHING}), 0.5, "the app's own authentication", "ctx_own_backend"),
    Context(frozenset({PHISHING}), 0.45, "a mock-up without real sign-in", "ctx_mockup"),
)
