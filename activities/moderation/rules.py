"""Rule tables of the local moderation policy (data only; scoring lives in ``policy``).

Three tables, all matched against the *normalised* prompt (see
``normalise.normalise``: NFKC-like folding, lower case, invisible characters
removed, leetspeak decoded, spaced-out letters joined, single spaces):

``TERMS``
    Named vocabularies: one regular expression each. A term alone decides
    nothing; rules combine them.
``RULES``
    Weighted evidence for one category: every named term must match, either
    anywhere within ``window`` characters of each other, or (``ordered``) in
    the given order with at most ``window`` characters between neighbours.
    The weights of the rules that fire in a category combine as a noisy-OR,
    ``1 - prod(1 - w)``, so independent evidence accumulates but never
    exceeds 1. ``severe`` rules express unambiguous harmful intent: benign
    context may lower them to manual review, never to allow.
``CONTEXTS``
    Benign context (security education, detection tools, consent, the
    user's own accounts ...) that multiplies a category's score by
    ``factor``, unless its ``unless`` term (an evasion phrasing such as
    "bypass spam filters") is present; when several apply, the strongest
    (smallest) factor wins.
    Every factor is below ``THRESHOLDS.block``, so benign context can never
    leave a prompt blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.moderation import ModerationCategory

PHISHING: Final = ModerationCategory.PHISHING
MALWARE: Final = ModerationCategory.MALWARE
CRYPTOMINING: Final = ModerationCategory.CRYPTOMINING
DDOS: Final = ModerationCategory.DDOS
SPAM: Final = ModerationCategory.SPAM
FRAUD: Final = ModerationCategory.FRAUD
STALKING: Final = ModerationCategory.STALKING
HATE: Final = ModerationCategory.HATE
SELF_HARM: Final = ModerationCategory.SELF_HARM
PROMPT_INJECTION: Final = ModerationCategory.PROMPT_INJECTION


@dataclass(frozen=True, slots=True)
class Rule:
    """Evidence for one category: all ``terms`` match close to each other."""

    category: ModerationCategory
    weight: float
    label: str
    terms: tuple[str, ...]
    window: int = 80
    ordered: bool = False
    severe: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """Benign context that lowers the scores of ``categories``."""

    categories: frozenset[ModerationCategory]
    factor: float
    label: str
    term: str
    unless: str | None = None


def _any(*alternatives: str) -> str:
    """One regex matching any alternative as a whole word (or whole token)."""
    return r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"


def near(
    category: ModerationCategory,
    weight: float,
    label: str,
    *terms: str,
    window: int = 80,
    severe: bool = False,
) -> Rule:
    """A rule whose terms all match within ``window`` characters, in any order."""
    return Rule(category, weight, label, terms, window=window, severe=severe)


def seq(
    category: ModerationCategory,
    weight: float,
    label: str,
    *terms: str,
    gap: int = 30,
    severe: bool = False,
) -> Rule:
    """A rule whose terms match in this order, at most ``gap`` characters apart."""
    return Rule(category, weight, label, terms, window=gap, ordered=True, severe=severe)


# Reused fragments (regex source, not whole terms).
_SELF = r"(?:my ?self|your ?self|ur ?self|them ?selves|him ?self|her ?self|one ?self)"
_OTHER_PERSON = (
    r"(?:someone(?:'?s| else'?s?)?|somebody'?s?|a (?:specific |random |private )?person'?s?"
    r"|other people'?s?|people'?s|strangers?'?s?|victims?'?s?|targets?'?s?|anyone'?s?"
    r"|my ex'?s?|an ex'?s?)"
)
_WITHOUT_CONSENT = (
    r"without (?:\S+ ){0,2}(?:consent\w*|knowledge|know\w*|notic\w*|permission|realiz\w*"
    r"|telling|asking|aware\w*)"
)
_EDUCATION = (
    r"awareness|training|train (?:my |our )?(?:staff|employees|team)|quiz\w*|courses?|lessons?"
    r"|teach\w*|educat\w*|learn(?:ing)? (?:about|to spot|to recogni[sz]e)"
    r"|how to (?:spot|recogni[sz]e|identify|avoid|report|detect)"
)

TERMS: Final[dict[str, str]] = {
    # --- shared ------------------------------------------------------------
    "build": _any(
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
    "stealth": _any(
        r"secret(?:ly)?",
        r"covert(?:ly)?",
        r"hidden",
        r"hid(?:e|es|ing) (?:itself|from|in)",
        r"invisibl[ey]",
        r"silent(?:ly)?",
        r"stealth\w*",
        r"undetect\w*",
        _WITHOUT_CONSENT,
        r"in the background",
        r"(?:evad|bypass|avoid)\w* (?:the )?(?:antivirus|anti-?virus|av|detection|defender|edr)",
        r"fud",
        r"fully undetectable",
    ),
    "exfil": _any(
        r"(?:send|sends|sending|forward\w*|e-?mail\w*|upload\w*|post\w*|relay\w*|transmit\w*)"
        r" (?:\S+ ){0,3}to (?:me|my (?:own )?\w+|a (?:remote|hidden|private) \w+)",
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
    "steal": _any(r"steal\w*", r"stole", r"grab\w*", r"siphon\w*", r"exfiltrat\w*"),
    "destroy": _any(
        r"delet\w* (?:all |every )?(?:the |their )?(?:\S+ )?files",
        r"wip(?:e|es|ing) (?:the |their )?(?:hard )?(?:drives?|disks?|computers?|machines?)",
        r"format\w* (?:the |their )?(?:hard )?(?:drives?|disks?)",
        r"brick\w* (?:the |their )?(?:computers?|devices?|phones?)",
    ),
    "credentials": _any(
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
    ),
    "others": _any(_OTHER_PERSON, r"employees'?", r"customers'", r"unsuspecting \w+"),
    "for_self": _any(
        r"(?:my|our) own",
        r"for (?:my|our) (?:own )?(?:app|site|website|startup|company|business|team|users)",
        r"password managers?",
        r"(?:i|we) (?:own|control|administer|run)",
    ),
    # --- phishing -----------------------------------------------------------
    "phish_term": _any(r"phish\w*"),
    "phish_kit": _any(
        r"phish\w* (?:kits?|pages?|sites?|websites?|e-?mails?|campaigns?|links?|templates?"
        r"|forms?|landing pages?|domains?|panels?|as a service|sms|texts?)",
        r"evilginx\w*",
        r"credential harvest\w*",
        r"smish\w*",
        r"vish\w*",
    ),
    "fake_strong": _any(
        r"fake[ds]?",
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
    ),
    "clone": _any(
        r"clon(?:e|es|ed|ing)",
        r"cop(?:y|ies|ied)(?: of)?",
        r"replicas?",
        r"replicat\w*",
        r"recreat\w*",
        r"duplicat\w*",
        r"mirror\w*",
    ),
    "login": _any(
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
    ),
    "brand": _any(
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
    ),
    "deceive": _any(
        r"trick\w* (?:people|users|them|victims|someone|customers|visitors|employees)",
        r"so (?:that )?(?:they|people|users|victims|visitors|customers) (?:think|believe)",
        r"think (?:it'?s|it is) (?:the )?real",
        r"(?:the )?real (?:one|site|website|page|thing)",
        r"(?:legit(?:imate)?|official|real)[\s-]looking",
        r"convinc\w* (?:people|users|them|victims)",
        r"victims?",
        r"unsuspecting",
        r"lur(?:e|es|ing)",
    ),
    "harvest": _any(
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
        r"ask(?:s|ing)? (?:\S+ )?for",
        r"prompt(?:s|ing)? (?:\S+ )?for",
    ),
    "account_attack": _any(
        r"brute[\s-]?forc\w* (?:\S+ ){0,3}"
        r"(?:log[\s-]?ins?|passwords?|accounts?|credentials|pins?|2fa|ssh)",
        r"credential stuffing",
        r"password spray\w*",
        r"combo ?lists?",
        r"account (?:takeover|checker)s?",
        r"(?:hack|break|get)\w* into (?:\S+ ){0,2}(?:accounts?|e-?mails?|inbox|instagram|facebook"
        r"|phones?|icloud|snapchat)",
    ),
    "lure": _any(
        r"account (?:has been |is |was )?(?:suspended|locked|limited|compromised|disabled|on hold)",
        r"(?:confirm|verify|update|re-?enter) (?:your |their )?"
        r"(?:card|payment|billing|bank|account) (?:details|info\w*|data)",
        r"unusual (?:sign[\s-]?in|login|activity)",
        r"you have won",
        r"claim (?:your|their) (?:prize|refund|reward)",
    ),
    # --- malware ------------------------------------------------------------
    "malware_strong": _any(
        r"key[\s-]?loggers?",
        r"keystroke loggers?",
        r"ransomware",
        r"rootkits?",
        r"bootkits?",
        r"botnets?",
        r"spyware",
        r"stalkerware",
        r"(?:info|credential|password|cookie|token|browser|crypto|wallet) ?stealers?",
        r"(?:discord )?(?:token|cookie|password|credential) grabbers?",
        r"remote access trojans?",
        r"banking trojans?",
        r"trojan (?:malware|payload|dropper|builder|horse program)",
        r"rats? (?:builder|payload|client|panel|stub)",
        r"reverse shells?",
        r"bind shells?",
        r"c2 (?:server|panel|framework|beacon|infrastructure)",
        r"command[\s-]and[\s-]control (?:server|panel|infrastructure)",
        r"crypters?",
        r"malware (?:dropper|loader)",
        r"zero[\s-]click exploits?",
        r"exploit kits?",
    ),
    "malware_generic": _any(
        r"malware",
        r"malicious (?:code|software|payload|script|program)",
        r"computer virus\w*",
        r"virus (?:that|which) (?:infects|spreads|deletes|encrypts|steals|corrupts)",
        r"worms? (?:that|which) (?:spreads?|propagates?)",
        r"self[\s-]propagating",
        r"backdoor\w*",
    ),
    "capture_verb": _any(
        r"log(?:s|ging)?",
        r"record\w*",
        r"captur\w*",
        r"steal\w*",
        r"grab\w*",
        r"monitor\w*",
        r"intercept\w*",
        r"hook\w*",
        r"dump\w*",
        r"extract\w*",
        r"sniff\w*",
        r"read\w*",
    ),
    "capture_target": _any(
        r"keystrokes?",
        r"key ?presses",
        r"every key\w*",
        r"everything (?:they|the user|users|someone|people) types?",
        r"clipboard",
        r"screenshots?",
        r"screen captures?",
        r"webcam",
        r"microphone",
        r"browser (?:history|cookies|passwords|data)",
        r"saved (?:passwords|credentials|logins|cards)",
        r"(?:session |auth |browser )?cookies",
        r"discord tokens?",
        r"keychain",
        r"wallet (?:files?|\.dat)",
        r"ssh keys",
        r"lsass",
    ),
    "ransom": _any(
        r"ransom\w*",
        r"pay (?:\S+ ){0,3}(?:to (?:get|decrypt|unlock|recover)|in (?:bitcoin|btc|monero|crypto))",
        r"demand\w* (?:\S+ ){0,2}(?:bitcoin|btc|monero|crypto|payment)",
        r"(?:bitcoin|btc|monero|payment) (?:\S+ ){0,2}to (?:decrypt|unlock|recover)",
        r"decrypt(?:ion)? key (?:after|once|when|only if) (?:they |the victim )?pay\w*",
    ),
    "encrypt_files": _any(
        r"encrypt\w* (?:all |every |the |their |victims?'? |users?'? |someone'?s )?"
        r"(?:\S+ )?(?:files?|documents?|drives?|disks?|hard drives?|data|photos)",
        r"lock\w* (?:all |their |the )?(?:files|computers?|pcs?|machines?)",
    ),
    "av_evasion": _any(
        r"disabl\w* (?:the )?(?:antivirus|anti-?virus|windows defender|defender|av|edr)",
        r"(?:evad|bypass)\w* (?:the )?(?:antivirus|anti-?virus|av|edr|defender|uac|smartscreen)",
        r"(?:add|adds|adding|install\w*) (?:itself )?to (?:windows )?startup",
        r"persist\w* (?:after|across|through) reboots?",
        r"spread\w* (?:itself )?(?:to|across|through) (?:other )?(?:computers|machines|devices"
        r"|the network|usb)",
    ),
    # --- cryptomining -------------------------------------------------------
    "miner": _any(
        r"(?:crypto|coin|monero|xmr|bitcoin|btc|eth|ethereum|litecoin|doge\w*|cpu|gpu)"
        r" ?min(?:er|ers|ing)",
        r"mine (?:monero|xmr|bitcoin|btc|crypto\w*|coins?|ethereum|eth|litecoin|doge\w*)",
        r"xmrig",
        r"cryptonight",
        r"randomx",
        r"miners?",
    ),
    "miner_web": _any(
        r"(?:in[\s-]?browser|browser[\s-]based|javascript|js|web|webassembly|wasm|hidden"
        r"|background|stealth|silent) (?:crypto ?|coin ?|monero ?|xmr ?)?min(?:er|ers|ing)",
        r"min(?:er|ing) scripts?",
        r"webminer",
    ),
    "cryptojack": _any(
        r"crypto[\s-]?jack\w*",
        r"coinhive",
        r"drive[\s-]by mining",
        r"mining malware",
        r"(?:hidden|silent|stealth) (?:crypto ?)?miners?",
    ),
    "victim_resources": _any(
        r"(?:visitors?'?s?|users?'|their|people'?s|victims?'?s?|other people'?s|everyone'?s"
        r"|players'?|viewers'?|readers'?|customers'?|employees'?)"
        r" (?:cpus?|gpus?|computers?|browsers?|devices?|machines?|processing power|compute"
        r"|resources|electricity|phones?|hardware)",
        r"while (?:they|users|visitors|people|readers|players) (?:browse|visit|read|watch|play"
        r"|are on)",
        r"when (?:someone|people|users|visitors) visit\w*",
        r"in (?:the )?visitors'? browsers?",
        r"(?:cpus?|gpus?|computers?|browsers?|devices?|processing power|resources) of"
        r" (?:every(?:one|body)|(?:all |the )?(?:visitors|users|people|readers|players|viewers))",
    ),
    "embed": _any(r"embed\w*", r"inject\w*", r"insert\w*", r"sneak\w*", r"hid(?:e|es|ing)"),
    # --- ddos ---------------------------------------------------------------
    "ddos_term": _any(
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
    "ddos_tool": _any(
        r"(?:d?dos|stress(?:er)?|booter|flood(?:er|ing)?) (?:tools?|scripts?|panels?|services?"
        r"|bots?|programs?|apps?|software|botnet)",
    ),
    "flood": _any(
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
    "takedown": _any(
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
    "net_target": _any(
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
    "hostile_owner": _any(
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
    # --- spam ---------------------------------------------------------------
    "mass": _any(
        r"mass",
        r"bulk",
        r"blast\w*",
        r"thousands",
        r"millions",
        r"hundreds of thousands",
        r"tons of",
        r"\d+ ?k",
        r"\d{1,3}(?:,\d{3})+",
        r"\d{4,}",
        r"en masse",
        r"at scale",
        r"every (?:number|e-?mail|address|contact|user|member|group|server|channel)",
    ),
    "messages": _any(
        r"e-?mails?",
        r"sms(?:es)?",
        r"texts?",
        r"text messages?",
        r"messages?",
        r"dms?",
        r"direct messages",
        r"comments?",
        r"posts?",
        r"replies",
        r"robocalls?",
        r"friend requests",
        r"invites?",
    ),
    "unsolicited": _any(
        r"unsolicited",
        r"spam\w*",
        r"(?:scraped|harvested|bought|purchased|leaked|stolen) (?:e-?mail |phone |contact )?"
        r"(?:lists?|addresses|e-?mails|numbers|contacts|leads)",
        _WITHOUT_CONSENT,
        r"(?:didn'?t|did not|never) (?:sign(?:ed)? up|opt(?:ed)?[\s-]?in|subscribe\w*|ask\w*)",
        r"random (?:people|numbers|strangers|users|addresses|accounts)",
        r"(?:the )?same (?:message|text|dm|comment|post|e-?mail) (?:to|in|on|under) (?:every|all"
        r"|thousands|hundreds)",
    ),
    "evade_filter": _any(
        r"(?:bypass\w*|evad\w*|avoid\w*|get (?:past|around)|dodg\w*|beat|trick\w*) (?:\S+ ){0,2}"
        r"(?:spam (?:filters?|detection|folders?)|(?:gmail|outlook)'?s? (?:filters?|spam)"
        r"|sending limits?|blacklists?|blocklists?)",
        r"rotat\w* (?:\S+ )?(?:senders?|ips?|domains?|smtp|proxies|accounts|phone numbers|numbers)",
        r"(?:thousands|hundreds|lots|many|dozens) of (?:fake|burner|throwaway|sock ?puppet)"
        r" accounts",
        r"(?:e-?mail|sms|text) (?:bomb\w*|flood\w*)",
        r"spam ?bots?",
        r"spammers?",
        r"spam tools?",
    ),
    "spam_send": _any(
        r"(?:send\w*|blast\w*|post\w*|push\w*) (?:\S+ ){0,2}spam",
        r"spam(?:ming|s)? (?:\S+ ){0,2}(?:people|users|everyone|inboxes|numbers|phones|forums"
        r"|comment sections|subreddits|groups|channels|strangers"
        r"|(?:their|people'?s) (?:dms|inboxes))",
    ),
    "fake_reviews": _any(
        r"(?:fake|bogus|paid|made[\s-]up|fabricated|fraudulent|sock ?puppet) (?:\S+ ){0,2}"
        r"(?:reviews?|ratings?|testimonials?|followers?|likes|upvotes?|engagement|votes)",
        r"review (?:bomb\w*|farm\w*|brigad\w*)",
        r"astroturf\w*",
        r"(?:bot|click|like) farms?",
        r"(?:buy|buying|sell|selling|purchas)\w* (?:\S+ )?(?:followers|likes|views|subscribers"
        r"|upvotes|reviews)",
    ),
    "automation": _any(
        r"automat\w*",
        r"auto[\s-]?post\w*",
        r"bots?",
        r"scripts?",
        r"at scale",
        r"thousands",
        r"hundreds",
        r"in bulk",
    ),
    # --- fraud --------------------------------------------------------------
    "fake_doc_adj": _any(
        r"fake[ds]?",
        r"forg(?:e|es|ed|ing|ery)",
        r"counterfeit",
        r"fraudulent",
        r"bogus",
        r"phony",
        r"fabricat\w*",
        r"falsif\w*",
        r"doctored",
        r"replica",
        r"novelty",
        r"scannable",
        r"(?:realistic|authentic|real|legit)[\s-]looking",
        r"backdated",
    ),
    "document": _any(
        r"(?:state|government|national|photo|student|military|federal|school) ids?",
        r"id cards?",
        r"identity (?:cards?|documents?)",
        r"driver'?s? licen[cs]es?",
        r"drivers licen[cs]es?",
        r"driving licen[cs]es?",
        r"licen[cs]e plates?",
        r"passports?",
        r"visas?",
        r"residence permits?",
        r"green cards?",
        r"social security (?:cards?|numbers?)",
        r"ssn cards?",
        r"(?:birth|death|marriage) certificates?",
        r"invoices?",
        r"receipts?",
        r"diplomas?",
        r"degrees?",
        r"transcripts?",
        r"certificates?",
        r"bank statements?",
        r"pay ?stubs?",
        r"pay ?slips?",
        r"w-?2s?",
        r"tax (?:returns?|forms?|documents?)",
        r"doctor'?s? notes?",
        r"sick notes?",
        r"medical (?:certificates?|records?|notes?)",
        r"prescriptions?",
        r"utility bills?",
        r"vaccination (?:cards?|certificates?|records?)",
        r"(?:lottery |event |concert |plane )?tickets?",
        r"gift cards?",
        r"coupons?",
        r"checks?",
        r"cheques?",
        r"money orders?",
        r"documents?",
        r"papers",
        r"payment (?:confirmations?|proofs?|screenshots?)",
        r"proof of (?:payment|income|address|funds|residence)",
        r"letters? of recommendation",
        r"employment (?:letters?|verification)",
        r"insurance (?:cards?|claims?)",
    ),
    "doc_realism": _any(
        r"scannable",
        r"with (?:a )?(?:working )?(?:barcodes?|holograms?|mrz)",
        r"pass\w* (?:\S+ )?(?:verification|kyc|inspection|checks?|a (?:bouncer|check))",
        r"bypass\w* (?:\S+ )?(?:kyc|id verification|identity verification|age verification)",
        r"(?:any|someone else'?s|a fake|a different|whatever) name",
        r"look\w* (?:\S+ )?(?:real|authentic|legit\w*|official|genuine)",
        r"indistinguishable from (?:the )?real",
    ),
    "never_happened": _any(
        r"(?:that|which) never happened",
        r"(?:that|which) (?:didn'?t|did not) happen",
        r"(?:i|we) never (?:made|had|did|bought|paid)",
        r"to (?:claim|get) (?:a )?(?:refunds?|reimburse\w*|expenses)",
        r"(?:expense|insurance|claim|tax) fraud",
    ),
    "fake_charity": _any(
        r"(?:fake|fraudulent|bogus|sham|scam|phony|fraud) (?:\S+ ){0,2}(?:charit\w*|fundrais\w*"
        r"|donations?|gofundme|crowdfund\w*|relief funds?|non[\s-]?profits?)",
        r"(?:charit\w*|fundrais\w*|donations?|gofundme) (?:\S+ ){0,5}(?:keep (?:all )?(?:the )?"
        r"(?:money|donations|funds)|pocket\w* (?:the )?(?:money|donations|funds)|for myself"
        r"|doesn'?t exist|does not exist|(?:that|which) isn'?t real|not (?:a )?real)",
    ),
    "invest_scam": _any(
        r"ponzi\w*",
        r"pyramid schemes?",
        r"pump[\s-]and[\s-]dump",
        r"rug[\s-]?pulls?",
        r"exit scams?",
        r"pig butchering",
        r"guarantee[ds]? (?:\S+ ){0,2}(?:returns?|profits?|income|roi|gains)",
        r"(?:double|triple) (?:your|their) (?:money|bitcoin|btc|crypto|investment)",
        r"(?:fake|fraudulent|scam|bogus) (?:\S+ ){0,2}(?:investment|trading|exchange|broker\w*"
        r"|ico|hedge fund|wallet)",
        r"get[\s-]rich[\s-]quick",
        r"risk[\s-]free (?:profits?|returns?)",
    ),
    "scam_target": _any(
        r"scam\w* (?:\S+ ){0,2}(?:people|victims|users|customers|elderly|seniors|old people"
        r"|grandparents|tourists|investors|buyers|sellers|someone|them)",
        r"(?:scam|fraud) (?:sites?|websites?|pages?|shops?|stores?|apps?|scripts?|templates?"
        r"|calls?|call cent(?:er|re)s?)",
        r"(?:steal|take|get) (?:\S+ ){0,2}(?:money|savings) from (?:\S+ )?(?:people|victims|elderly"
        r"|seniors|grandparents)",
    ),
    "financial_crime": _any(
        r"carding",
        r"cc (?:checkers?|generators?|shops?)",
        r"(?:valid|live|working|real|stolen) (?:credit card|card|cc) (?:numbers?|details|dumps?)",
        r"card dumps",
        r"cvv (?:shops?|checkers?)",
        r"money laundering",
        r"launder\w* (?:\S+ )?(?:money|funds|cash|crypto|proceeds)",
        r"(?:stolen|leaked|hacked) (?:credit cards?|cards|identities|identity)",
        r"identity theft",
        r"synthetic identit\w*",
        r"sim[\s-]swap\w*",
        r"chargeback fraud",
        r"refund (?:scam|fraud)",
        r"fake (?:bank|payment|wire|transfer|paypal|venmo|zelle) (?:\S+ ){0,2}(?:confirmations?"
        r"|receipts?|screenshots?|notifications?|alerts?|proofs?)",
        r"counterfeit (?:money|bills|currency|banknotes|notes|dollars|euros)",
    ),
    "age_context": _any(
        r"bouncers?",
        r"bars?",
        r"clubs?",
        r"underage",
        r"under[\s-]?21",
        r"drinking age",
        r"age verification",
        r"buy (?:alcohol|beer|liquor|cigarettes)",
    ),
    "fake_id": _any(r"(?:fake|forged|counterfeit|scannable) ids?"),
    # --- stalking -----------------------------------------------------------
    "track": _any(
        r"track\w*",
        r"trac(?:e|es|ing)",
        r"monitor\w*",
        r"follow\w*",
        r"spy\w*",
        r"locat(?:e|es|ing)",
        r"pinpoint\w*",
        r"geolocat\w*",
        r"watch\w*",
        r"surveil\w*",
        r"keep tabs on",
        r"know where",
        r"see where",
    ),
    "location": _any(
        r"locations?",
        r"whereabouts",
        r"gps",
        r"geo ?locations?",
        r"coordinates",
        r"movements?",
        r"where (?:he|she|they|someone|a person|my \w+) (?:is|are|goes|go|lives?|works?"
        r"|sleeps?|hangs out)",
        r"(?:home|real|physical|street|house|current|live) (?:address|location)",
        r"addresses",
        r"daily routines?",
    ),
    "person": _any(
        r"someone'?s?",
        r"somebody'?s?",
        r"a (?:specific |particular |random |private )?person'?s?",
        r"(?:a|this|that|the|some) (?:girl|woman|guy|man|stranger|celebrity|streamer|journalist"
        r"|coworker|colleague|neighbou?r|classmate|kid|teen|person)'?s?",
        r"(?:my|an|her|his|their) (?:ex|ex-?(?:wife|husband|girlfriend|boyfriend|partner)|wife"
        r"|husband|girlfriend|boyfriend|partner|spouse|crush|coworker|colleague|neighbou?r"
        r"|boss|roommate|classmate|target)'?s?",
        r"(?:him|her)",
        r"any(?:one|body)'?s?",
        r"(?:a|any|the) target'?s?",
        r"(?:by|from) (?:their |just (?:a |their )?|only (?:a |their )?)?(?:name|username"
        r"|phone number|photo|picture|e-?mail(?: address)?|license plate|ip address|handle)",
        r"private (?:individuals?|citizens?|people)",
    ),
    "no_consent": _any(
        _WITHOUT_CONSENT,
        r"secret(?:ly)?",
        r"covert(?:ly)?",
        r"hidden",
        r"in secret",
        r"undetect\w*",
        r"stealth\w*",
        r"(?:they|he|she) (?:won'?t|will never|can'?t|cannot) (?:know|notice|find out|tell)",
        r"behind (?:their|his|her) backs?",
        r"so (?:they|he|she) (?:doesn'?t|don'?t|won'?t) (?:know|notice)",
    ),
    "dox_topic": _any(r"dox\w*"),
    "dox": _any(
        r"dox(?:x)?(?:es|ed|ing)? (?:this|that|a|the|some|someone|somebody|people|him|her|them|my"
        r"|any|users?|journalists?|streamers?|anyone)",
        r"dossiers?",
        r"(?:compil|gather|collect|aggregat|assembl|build|scrap|pull|dig|find|uncover|expos)\w*"
        r" (?:\S+ ){0,2}(?:everything|all (?:the )?(?:info\w*|data|details)|personal (?:info\w*"
        r"|details|data)|private (?:info\w*|details|data)|profiles?|info\w*|details|data|dirt)"
        r" (?:about|on|of) (?:a (?:specific |particular )?person|someone|somebody|him|her"
        r"|my ex|an ex|anyone|a target|private (?:people|individuals|citizens)|specific people"
        r"|a (?:journalist|streamer|celebrity|girl|woman|guy|man|coworker|neighbou?r))",
    ),
    "find": _any(
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
    ),
    "home_address": _any(
        r"home address(?:es)?",
        r"(?:real|physical|street|house|residential|exact|precise|current) address(?:es)?",
        r"where (?:\S+ ){1,3}lives?",
    ),
    "spy_app": _any(
        r"stalkerware",
        r"spy ?(?:apps?|ware|software|tools?)",
        r"phone spy",
        r"spy on (?:\S+ ){0,2}(?:phones?|messages|texts|chats|whatsapp|location|someone|my "
        r"(?:ex|wife|husband|girlfriend|boyfriend|partner|spouse)|her|him|them|people)",
        r"(?:read|intercept|monitor|see|access)\w* (?:\S+ ){0,2}(?:her|his|their|someone'?s"
        r"|another person'?s|my (?:wife|husband|girlfriend|boyfriend|partner|spouse|ex)'?s?)"
        r" (?:texts|messages|whatsapp|dms|e-?mails|chats|calls|photos)",
    ),
    # --- hate ---------------------------------------------------------------
    "group": _any(
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
    ),
    "dehumanise": _any(
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
    ),
    "exterminate": _any(
        r"exterminat\w*",
        r"eliminat\w* (?:all|every|the)",
        r"eradicat\w*",
        r"wip(?:e|ing) out",
        r"get rid of (?:all|every|the)",
        r"kill (?:all|every)",
        r"gas (?:the|all)",
        r"deport (?:all|every)",
        r"purge (?:all|the)",
        r"cleans(?:e|ing) (?:\S+ )?of",
        r"genocide (?:of|against)",
    ),
    "harass": _any(
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
    "tool": _any(
        r"bots?",
        r"tools?",
        r"scripts?",
        r"campaigns?",
        r"automat\w*",
        r"mass",
        r"generators?",
        r"accounts",
    ),
    "hate_content": _any(
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
    ),
    # --- self-harm ----------------------------------------------------------
    "sh_topic": _any(
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
    "encourage": _any(
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
    "sh_method": _any(
        r"suicide (?:methods?|guides?|instructions|kits?|bags?)",
        r"(?:painless|easy|quick|best|effective|surest|quickest|fastest) (?:\S+ ){0,2}(?:ways?"
        rf"|methods?) to (?:die|kill {_SELF}|end (?:it|it all|my life|your life))",
        rf"how to (?:kill {_SELF}|commit suicide|end (?:my|your) life|hang {_SELF}|overdose|slit)",
        r"lethal (?:doses?|amounts?)",
        r"how many (?:\S+ ){0,2}(?:pills|tablets) (?:to|would|will) (?:die|kill)",
        r"hid(?:e|ing) (?:\S+ ){0,3}(?:cuts|scars|self[\s-]harm|weight loss|eating disorder"
        r"|not eating) from",
    ),
    "pro_ed": _any(
        r"pro[\s-]?ana",
        r"pro[\s-]?mia",
        r"thinspo\w*",
        r"meanspo",
        r"bonespo",
        r"skinny ?(?:goals|motivation)",
        r"(?:starv\w*|fasting|not eating) (?:\S+ ){0,3}(?:challenge|competition|streak|contest)",
        r"(?:eat|eating) (?:under|less than) \d+ calories",
    ),
    "incite": _any(
        r"(?:tell\w*|encourag\w*|urg\w*|push\w*|convinc\w*|persuad\w*|bully\w*|dar\w*)"
        r" (?:\S+ ){0,3}(?:to )?(?:kill (?:them|him|her|your) ?sel(?:f|ves)|end (?:their|his|her"
        r"|your) li(?:fe|ves)|commit suicide|hurt (?:them|him|her|your) ?sel(?:f|ves)"
        r"|cut (?:them|him|her|your) ?sel(?:f|ves))",
        r"kys",
        r"go (?:kill|die|hang) (?:yourself|urself|your self)",
    ),
    # --- prompt injection ---------------------------------------------------
    "override": _any(
        r"(?:ignor|disregard|forget|overrid|bypass|skip|drop|abandon|discard)\w* (?:\S+ ){0,2}"
        r"(?:previous|prior|above|earlier|preceding|former|original|initial|system|developer|your|its"
        r"|all (?:the |your |of the |of your )?(?:previous |prior )?|any (?:previous |prior )?)"
        r" ?(?:\S+ )?(?:instructions?|prompts?|rules|directions|guidelines|guardrails|constraints"
        r"|polic(?:y|ies)|restrictions|directives|programming|safety (?:rules|guidelines|filters?)"
        r"|content polic(?:y|ies)|messages?|context)",
        r"(?:ignor|disregard|forget)\w* (?:all |everything )?(?:the |that )?(?:above|before this"
        r"|you were told|you have been told)",
    ),
    "new_instructions": _any(
        r"new (?:system )?instructions ?:",
        r"system ?(?:prompt|message|override) ?:",
        r"you are (?:now |no longer )(?:\S+ ){0,2}(?:dan|unrestricted|unfiltered|jailbroken"
        r"|uncensored|in developer mode|free of|without (?:rules|restrictions|filters))",
        r"you are (?:dan|unrestricted|unfiltered|jailbroken|uncensored|in developer mode)",
        r"developer mode (?:enabled|on|activated)",
        r"do anything now",
        r"(?:act|behave|respond) as (?:if you (?:have|had) no|an? unrestricted|an? unfiltered|dan"
        r"|root|the system|the (?:admin|administrator|developer))",
        r"pretend (?:that )?you (?:have|had) no (?:rules|restrictions|filters|guidelines)",
    ),
    "jailbreak": _any(r"jailbreak\w*", r"dan mode", r"developer mode"),
    "role_marker": (
        r"(?:<\|im_start\|>|<\|im_end\|>|<\|system\|>|<\|endoftext\|>|\[/?inst\]|\[/?system\]"
        r"|</?system>|<<sys>>|###\s*(?:system|instructions?)\b)"
    ),
    "reveal_strong": _any(
        r"(?:reveal|print|show|output|repeat|leak|dump|display|echo|return|give|tell|disclose"
        r"|share|expose|send|write out|spell out|what (?:is|are|was|were))\w* (?:me )?"
        r"(?:your|you were given|(?:microbuilder|this (?:ai|assistant|model|builder|generator"
        r"|platform)|the (?:platform|builder|generator|assistant|model|ai|llm))'?s?) (?:\S+ )?"
        r"(?:system (?:prompt|message|instructions?)|(?:initial|original|hidden|secret|internal"
        r"|pre-?|meta-?)prompts?|(?:initial|original|hidden|secret|internal) (?:instructions?"
        r"|rules|prompt)|developer (?:message|instructions?)|instructions)",
    ),
    "reveal_verbatim": _any(
        r"(?:output|print|repeat|show|reveal|echo|dump|return)\w* (?:\S+ ){0,2}"
        r"(?:everything|all|the text|the instructions|the prompt|the messages?) (?:\S+ )?"
        r"(?:above|before) (?:this|here|the first|my)",
        r"(?:repeat|print|output)\w* (?:\S+ ){0,4}verbatim",
    ),
    "reveal_weak": _any(
        r"(?:reveal|leak|dump|print|repeat|disclose|output)\w* (?:\S+ )?(?:system prompts?"
        r"|initial prompts?|hidden prompts?)",
    ),
    "secret_path": (
        r"(?:/etc/(?:passwd|shadow|sudoers)|/proc/(?:self|\d+)/(?:environ|cmdline|mem|maps|root)"
        r"|~/\.ssh|\.ssh/|\bid_rsa\b|\bid_ed25519\b|\bauthorized_keys\b|/var/run/secrets"
        r"|/run/secrets|\bdocker\.sock\b|\bkubeconfig\b|\.aws/credentials|\.git-credentials"
        r"|\.netrc\b|169\.254\.169\.254|metadata\.google\.internal|\bmb_\w+)"
    ),
    "access": _any(
        r"read\w*",
        r"print\w*",
        r"dump\w*",
        r"cat",
        r"output\w*",
        r"show\w*",
        r"list\w*",
        r"display\w*",
        r"leak\w*",
        r"exfiltrat\w*",
        r"send\w*",
        r"upload\w*",
        r"post\w*",
        r"cop(?:y|ies|ying)",
        r"steal\w*",
        r"expos\w*",
        r"return\w*",
        r"includ\w*",
        r"embed\w*",
        r"log",
        r"logs",
        r"e-?mail\w*",
        r"extract\w*",
        r"grab\w*",
        r"access\w*",
        r"fetch\w*",
        r"retriev\w*",
        r"obtain\w*",
        r"reveal\w*",
        r"get",
        r"give",
    ),
    "env_secrets": _any(
        r"environment variables?",
        r"env(?:ironment)? vars?",
        r"\.env",
        r"os\.environ",
        r"process\.env",
        r"printenv",
        r"secrets?",
        r"api[\s_-]?keys?",
        r"access (?:keys?|tokens?)",
        r"secret (?:keys?|tokens?)",
        r"tokens?",
        r"credentials?",
        r"private keys?",
        r"ssh keys?",
        r"signing keys?",
        r"encryption keys?",
        r"master (?:keys?|passwords?)",
        r"service account",
        r"database (?:url|password|credentials)",
        r"connection strings?",
        r"openai[\s_-]?api[\s_-]?key",
        r"aws[\s_-]?(?:secret|access)\w*",
        r"keys",
    ),
    "platform": _any(
        r"(?:the |your )?(?:build|builder|ci|host|hosting|deploy(?:ment)?|worker|generation"
        r"|generator|pipeline|platform|orchestrat\w*)(?:'?s)? (?:servers?|machines?|hosts?"
        r"|environment|containers?|workers?|system|infrastructure|nodes?|boxes|vms?|runners?"
        r"|secrets|keys|process)",
        r"(?:the )?host (?:machine|system|os|filesystem|file system|environment|network)",
        r"microbuilder\w*",
        r"this (?:platform|service|builder|generator|server)",
        r"your (?:own )?(?:servers?|environment|system|machine|infrastructure|secrets|keys"
        r"|api keys|credentials|config\w*|env\w*|variables|source code|backend|database|host)",
        r"(?:the )?underlying (?:server|machine|host|system|infrastructure)",
        r"(?:the )?build server'?s?",
        r"(?:the )?platform'?s?",
        r"outside (?:the|of the|its) (?:sandbox|container)",
        r"temporal (?:server|history|workers?)",
    ),
    "exfil_strong": _any(r"exfiltrat\w*", r"smuggl\w*", r"siphon\w*"),
    "sandbox_escape": _any(
        r"(?:disabl|escap|break\w* out|bypass|turn\w* off|get\w* out|circumvent|evad|weaken"
        r"|defeat|switch\w* off|deactivat|break)\w* (?:\S+ ){0,2}(?:sandbox\w*|isolation"
        r"|seccomp|apparmor|selinux|bubblewrap|bwrap|namespaces?|chroot|jail"
        r"|network (?:restrictions|isolation|filter\w*|policy)|egress (?:restrictions|filter\w*"
        r"|rules|block\w*))",
        r"(?:escap|break\w* out)\w* (?:\S+ ){0,2}(?:containers?|docker|vm)",
        r"container (?:escape|breakout)",
        r"(?:sandbox|jail)[\s-]?(?:escape|breakout|break)",
    ),
    "disable_safety": _any(
        r"(?:disabl|bypass|skip|turn\w* off|evad|circumvent|avoid|get\w* around|defeat)\w*"
        r" (?:\S+ ){0,2}(?:moderation|content (?:filter\w*|moderation|polic\w*)|safety (?:filters?"
        r"|checks?|guardrails?)|guardrails|security (?:checks?|scans?|gates?|review)|qa (?:gate"
        r"|checks?)|bandit|static analysis|review process)",
    ),
    "infra": _any(
        r"other (?:tenants?'?|customers?'? (?:apps?|containers?|data)|users?'? (?:apps?"
        r"|containers?|data)|containers?|apps? on (?:the|this) (?:host|server|platform))",
        r"host network",
        r"(?:the )?host'?s? (?:network|ports?|services|filesystem|processes)",
        r"cloud metadata",
        r"metadata (?:service|endpoint|server|api)",
        r"instance metadata",
        r"169\.254\.\d{1,3}\.\d{1,3}",
    ),
    "internal_net": _any(
        r"internal (?:network|services?|apis?|endpoints?|hosts?|ips?|dns|databases?|db"
        r"|dashboards?|systems?|admin (?:panels?|interfaces?|consoles?|pages?))",
        r"intranet",
        r"private (?:network|subnet|ip ranges?)",
        r"10\.\d{1,3}\.\d{1,3}\.\d{1,3}",
        r"192\.168\.\d{1,3}\.\d{1,3}",
        r"172\.(?:1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}",
        r"docker (?:socket|daemon|api)",
        r"kubernetes api",
        r"kube[\s-]?api\w*",
        r"lan",
    ),
    "net_verb": _any(
        r"connect\w*",
        r"reach\w*",
        r"access\w*",
        r"scan\w*",
        r"prob(?:e|es|ing)",
        r"talk\w* to",
        r"call\w*",
        r"request\w*",
        r"fetch\w*",
        r"curl",
        r"proxy\w*",
        r"pivot\w*",
        r"tunnel\w*",
        r"enumerat\w*",
        r"quer(?:y|ies|ying)",
        r"hit",
        r"ping\w*",
        r"open\w* (?:a )?(?:sockets?|connections?) to",
        r"send\w* (?:\S+ ){0,2}to",
    ),
    "dump_env": _any(
        r"(?:all|every|the whole|entire|each) (?:the |of the )?(?:environment variables?|env vars?"
        r"|env)",
        r"printenv",
        r"os\.environ",
        r"process\.env",
    ),
    "scan_net": _any(
        r"(?:port[\s-]?)?scan\w* (?:\S+ ){0,2}(?:networks?|subnets?|ports|ip ranges?)",
        r"nmap",
        r"masscan",
        r"port[\s-]?scan\w*",
    ),
    "generated_app": _any(
        r"(?:the |this |each |every )?generated (?:app|application|code|site|service|program)s?",
        r"the app (?:itself|you (?:generate|build|make))",
    ),
    # --- benign context -----------------------------------------------------
    "ctx_security_edu": _any(
        _EDUCATION,
        r"simulat\w* for (?:my |our )?(?:employees|staff|team|users)",
        r"(?:my |our |a )?(?:\S+ )?class(?:es|room)?",
        r"explain\w*",
        r"how (?:\S+ ){0,3}works?",
        r"(?:phishing|scam|fraud|spam|security) (?:simulation|awareness|training|quiz|test)",
    ),
    "ctx_phishing_defence": _any(
        r"report\w* (?:\S+ ){0,3}(?:phish|suspicious|scam)\w*",
        r"(?:phishing|phish) (?:detect\w*|report\w*|filter\w*|checker|scanner|protection"
        r"|prevention|blocker|alerts?)",
        r"detect(?:s|ing|or|ors)? (?:\S+ )?(?:phishing|phish|fake)\w*",
        r"(?:block|flag|scan)(?:s|ning|ging|er|ers)? (?:\S+ )?(?:phishing|suspicious|malicious)",
        r"protect\w* (?:\S+ ){0,2}(?:against|from) (?:phishing|scams?)",
    ),
    "ctx_malware_defence": _any(
        r"(?:anti-?virus|anti-?malware|malware (?:scann\w*|detect\w*|analysis|removal"
        r"|protection)|virus ?(?:scann\w*|checker))",
        r"detect(?:s|ing|or|ors)? (?:\S+ ){0,2}(?:malware|virus\w*|key ?loggers?|ransomware"
        r"|spyware|trojans?|rootkits?|threats?|malicious)",
        r"(?:remov|clean|scan|block)(?:e|es|ing|s|ner|ners)? (?:\S+ ){0,2}(?:malware|virus\w*"
        r"|spyware|ransomware|infections?)",
        r"protect\w* (?:\S+ ){0,2}(?:against|from) (?:\S+ )?(?:malware|ransomware|virus\w*"
        r"|keyloggers?|spyware|hackers)",
        r"(?:malware|virus|key ?logger|ransomware|spyware|rootkit|threat|trojan)s? (?:detection"
        r"|removal|protection|defen[cs]e|response|recovery|prevention|scann\w*|analysis|research)",
        r"incident response",
        r"typing (?:speed|test|tutor|practice|game)",
        r"words per minute",
        r"wpm",
    ),
    "ctx_mining_defence": _any(
        r"profitab\w*",
        r"calculators?",
        r"my (?:own )?(?:mining )?(?:rigs?|farm|hardware|gpus?|asics?)",
        r"portfolio",
        r"price (?:tracker|chart|alerts?)",
        r"(?:detect|block)(?:s|ing|er|ers|or|ors)? (?:\S+ ){0,2}"
        r"(?:miners?|mining|crypto[\s-]?jack\w*|coinhive)",
        r"(?:miner|mining|cryptojacking) (?:blocker|detector|protection)",
        r"opt[\s-]?in",
        r"with (?:\S+ ){0,2}consent",
        r"consent\w* (?:to|before)",
    ),
    "ctx_ddos_defence": _any(
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
    "ctx_spam_defence": _any(
        r"report\w* (?:\S+ )?spam",
        r"spam (?:filters?|detect\w*|classif\w*|block\w*|report\w*|checker|score|protection"
        r"|folder)",
        r"anti[\s-]?spam",
        r"(?:detect|block|filter|flag)(?:s|ing|er|ers|or|ors)? (?:\S+ ){0,2}(?:spam|bots?|fake"
        r" reviews)",
        r"unsubscrib\w*",
        r"double opt[\s-]?in",
        r"opt(?:ed)?[\s-]?in",
        r"(?:my|our) (?:own )?(?:newsletter )?subscribers",
        r"who (?:signed up|opted in|subscribed)",
        r"newsletter sign[\s-]?up",
        r"mailing list sign[\s-]?up",
        r"verified (?:purchases?|buyers?|reviews?)",
    ),
    "ctx_own_backend": _any(
        r"(?:my|our|the) (?:own )?(?:backend|api|database|db|auth (?:server|service|api))",
        r"over https",
        r"hash\w*",
        r"bcrypt",
        r"argon2",
        r"securely",
        r"encrypted",
    ),
    "ctx_signup": _any(
        r"sign[\s-]?ups?",
        r"regist(?:er|ers|ering|ration)",
        r"account creation",
        r"creat\w* (?:an |their |a new )?accounts?",
        r"onboarding",
    ),
    "ctx_fraud_defence": _any(
        r"detect(?:s|ing|or|ors)? (?:\S+ ){0,2}(?:fraud|fakes?|forger\w*|scams?|counterfeit\w*)",
        r"(?:spot|verif|validat)\w* (?:\S+ ){0,2}(?:fakes?|fraud|scams?|authentic\w*|documents?"
        r"|diplomas?|ids?|receipts?|invoices?|certificates?)",
        r"anti[\s-]?fraud",
        r"fraud (?:detection|prevention|alerts?|monitoring|awareness|reporting)",
        r"scam (?:detector|checker|alerts?|awareness|reporting|warnings?)",
        r"report\w* (?:\S+ )?(?:scams?|fraud)",
        r"paper[\s-]trading",
        r"virtual (?:money|currency|coins)",
        r"play money",
        r"simulat(?:or|ion|ed)",
    ),
    "ctx_fraud_figleaf": _any(
        r"(?:test|testing|mock|dummy|sample|seed|placeholder|synthetic) (?:user )?data",
        r"faker",
        r"lorem ipsum",
        r"games?",
        r"props?",
        r"movie",
        r"film",
        r"practice",
    ),
    "ctx_stalking_consent": _any(
        r"my own (?:location|phone|devices?|runs?|workouts?|trips?|car|bike|keys)",
        r"find my (?:phone|device|keys|car|bike)",
        r"lost (?:phone|device|keys)",
        r"family (?:location )?sharing",
        r"(?:with|given|after getting|having) (?:\S+ ){0,2}consent",
        r"(?:who|that) (?:opt|consent|agree)\w*",
        r"opt(?:s|ed)?[\s-]?in",
        r"consensual\w*",
        r"mutual\w* shar\w*",
        r"(?:package|parcel|delivery|shipment|order|fleet|bus|flight|train) (?:tracking|tracker)",
        r"report\w* (?:\S+ )?(?:stalking|harassment|dox\w*)",
        r"protect\w* (?:\S+ ){0,2}(?:from|against) (?:\S+ )?(?:dox\w*|stalk\w*|trackers?)",
        r"anti[\s-]?stalk\w*",
        r"detect\w* (?:\S+ )?(?:stalkerware|spyware|trackers?|airtags?)",
        r"(?:airtag|tracker|stalkerware|spyware|gps tracker|bug)s? (?:detector|detection|scanner"
        r"|finder)s?",
        r"warn\w* (?:\S+ )?(?:if|when) (?:someone|somebody|a tracker|an airtag|you'?re being)",
        r"safety plans?",
    ),
    "ctx_hate_defence": _any(
        r"report\w* (?:\S+ )?(?:hate|harassment|abuse|racism|bullying|slurs)",
        r"moderat\w*",
        r"(?:detect|classif|filter|flag)\w* (?:\S+ ){0,2}(?:hate|slurs|harassment|toxic\w*"
        r"|abuse|bullying)",
        r"(?:counter|debunk|combat|fight|challeng)\w* (?:\S+ ){0,2}(?:racism|hate|antisemitism"
        r"|bigotry|homophobia|transphobia|misinformation|denial|propaganda|extremism)",
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
    ),
    "ctx_self_harm_support": _any(
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
    "ctx_injection_defence": _any(
        r"detect(?:s|ing|or|ors)?",
        r"classif(?:y|ier|iers|ies)",
        r"(?:prompt[\s-]injection|jailbreak) (?:filter\w*|scanner|guard\w*|detect\w*|defen[cs]e)",
        r"defen[cs]\w*",
        r"protect\w* (?:\S+ ){0,2}against",
        r"guard\w* against",
        r"red[\s-]?team\w* (?:my|our) own",
        r"(?:my|our) own (?:chatbot|llm|bot|model|assistant|agent)",
        r"(?:my|our) (?:own )?(?:home |local )?(?:network|lab|servers?|devices?|router)",
        _EDUCATION,
        r"explain\w*",
        r"ctf",
        r"capture the flag",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    # --- phishing -----------------------------------------------------------
    near(PHISHING, 0.70, "phishing kit or page", "phish_kit"),
    near(PHISHING, 0.20, "mentions phishing", "phish_term"),
    near(PHISHING, 0.50, "imitation login page", "fake_strong", "login", window=50),
    seq(PHISHING, 0.75, "fake login page of a real brand", "fake_strong", "brand", "login", gap=35),
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
    near(PHISHING, 0.65, "account-alert lure using a real brand", "lure", "brand"),
    # --- malware ------------------------------------------------------------
    near(MALWARE, 0.55, "malware (keylogger, ransomware, RAT, stealer ...)", "malware_strong"),
    near(MALWARE, 0.55, "asks to build malware", "build", "malware_strong", window=60),
    near(MALWARE, 0.20, "mentions malware", "malware_generic"),
    near(MALWARE, 0.45, "asks to build malware", "build", "malware_generic", window=50),
    near(MALWARE, 0.35, "captures keystrokes/cookies/tokens", "capture_verb", "capture_target"),
    near(MALWARE, 0.70, "steals cookies, tokens or saved secrets", "steal", "capture_target"),
    near(MALWARE, 0.55, "covert capture of user input or secrets", "capture_target", "stealth"),
    near(
        MALWARE,
        0.55,
        "exfiltrates captured input or secrets",
        "capture_target",
        "exfil",
        severe=True,
    ),
    near(MALWARE, 0.50, "stealthy malware", "malware_strong", "stealth"),
    near(MALWARE, 0.60, "malware that reports to its operator", "malware_strong", "exfil"),
    near(MALWARE, 0.85, "encrypts files for ransom", "encrypt_files", "ransom", window=100),
    near(MALWARE, 0.60, "antivirus evasion, persistence or self-propagation", "av_evasion"),
    near(MALWARE, 0.50, "self-spreading destructive code", "av_evasion", "destroy"),
    # --- cryptomining -------------------------------------------------------
    near(CRYPTOMINING, 0.85, "cryptojacking / hidden miner", "cryptojack"),
    near(
        CRYPTOMINING,
        0.80,
        "mines with other people's hardware",
        "miner",
        "victim_resources",
        severe=True,
    ),
    near(CRYPTOMINING, 0.55, "in-browser miner", "miner_web"),
    near(CRYPTOMINING, 0.60, "covert mining", "miner", "stealth"),
    near(CRYPTOMINING, 0.50, "miner embedded in a page", "embed", "miner", window=50),
    near(CRYPTOMINING, 0.15, "mentions crypto mining", "miner"),
    # --- ddos ---------------------------------------------------------------
    near(DDOS, 0.35, "denial-of-service term (DDoS, booter, flood ...)", "ddos_term"),
    seq(DDOS, 0.45, "denial of service against a site", "ddos_term", "net_target", gap=25),
    near(DDOS, 0.50, "floods until the target goes down", "flood", "takedown"),
    near(DDOS, 0.65, "DDoS tool", "ddos_tool"),
    near(DDOS, 0.50, "asks to build a DDoS tool", "build", "ddos_term", window=60),
    near(DDOS, 0.55, "floods a target with traffic", "flood", "net_target", window=60),
    near(
        DDOS,
        0.45,
        "floods someone else's service",
        "flood",
        "net_target",
        "hostile_owner",
        severe=True,
    ),
    seq(DDOS, 0.45, "takes a site offline", "takedown", "net_target", gap=25),
    near(
        DDOS,
        0.60,
        "takes someone else's site offline",
        "takedown",
        "net_target",
        "hostile_owner",
        severe=True,
    ),
    near(DDOS, 0.50, "denial of service against someone else", "ddos_term", "hostile_owner"),
    # --- spam ---------------------------------------------------------------
    near(SPAM, 0.30, "mass messaging", "mass", "messages", window=40),
    near(SPAM, 0.55, "unsolicited messages", "unsolicited", "messages", window=60),
    near(
        SPAM,
        0.50,
        "mass unsolicited messaging",
        "mass",
        "messages",
        "unsolicited",
        window=100,
        severe=True,
    ),
    near(SPAM, 0.60, "evades spam filters / spam tooling", "evade_filter"),
    near(SPAM, 0.60, "sends spam", "spam_send"),
    near(SPAM, 0.50, "sends spam in bulk", "spam_send", "mass", window=60, severe=True),
    near(SPAM, 0.60, "fake reviews or engagement", "fake_reviews"),
    near(SPAM, 0.50, "fake reviews at scale", "fake_reviews", "automation", severe=True),
    near(SPAM, 0.50, "fake reviews at scale", "fake_reviews", "mass", severe=True),
    # --- fraud --------------------------------------------------------------
    seq(FRAUD, 0.75, "forged documents", "fake_doc_adj", "document", gap=25),
    near(FRAUD, 0.60, "documents made to pass as real", "document", "doc_realism", window=60),
    near(FRAUD, 0.60, "documents for events that never happened", "document", "never_happened"),
    near(FRAUD, 0.75, "fake ID for age checks", "fake_id", "age_context"),
    near(FRAUD, 0.80, "fake charity", "fake_charity"),
    near(FRAUD, 0.80, "investment scam", "invest_scam"),
    near(FRAUD, 0.75, "scam aimed at people", "scam_target"),
    near(FRAUD, 0.80, "carding, laundering or identity theft", "financial_crime"),
    # --- stalking -----------------------------------------------------------
    near(STALKING, 0.50, "tracks a person's location", "track", "location", "person"),
    near(
        STALKING,
        0.65,
        "tracks a person without consent",
        "track",
        "person",
        "no_consent",
        window=100,
        severe=True,
    ),
    near(STALKING, 0.80, "doxxing / dossier on a person", "dox"),
    near(STALKING, 0.35, "mentions doxxing", "dox_topic"),
    near(
        STALKING,
        0.80,
        "finds where a person lives",
        "find",
        "home_address",
        "person",
        window=60,
        severe=True,
    ),
    near(STALKING, 0.75, "spyware for watching a person", "spy_app"),
    # --- hate ---------------------------------------------------------------
    seq(HATE, 0.85, "dehumanises a protected group", "group", "dehumanise", gap=40, severe=True),
    near(HATE, 0.60, "dehumanising language near a protected group", "group", "dehumanise"),
    seq(
        HATE,
        0.90,
        "calls for violence against a protected group",
        "exterminate",
        "group",
        gap=20,
        severe=True,
    ),
    near(HATE, 0.80, "hateful content or symbols", "hate_content"),
    near(HATE, 0.55, "harasses a protected group", "harass", "group", window=50),
    near(HATE, 0.50, "tooling to harass a protected group", "tool", "harass", "group", severe=True),
    # --- self-harm ----------------------------------------------------------
    near(SELF_HARM, 0.80, "encourages self-harm", "encourage", "sh_topic", window=60, severe=True),
    near(SELF_HARM, 0.85, "self-harm methods", "sh_method", severe=True),
    near(SELF_HARM, 0.75, "pro-eating-disorder content", "pro_ed", severe=True),
    near(SELF_HARM, 0.85, "tells people to harm themselves", "incite", severe=True),
    near(SELF_HARM, 0.15, "mentions self-harm", "sh_topic"),
    # --- prompt injection ---------------------------------------------------
    near(PROMPT_INJECTION, 0.85, "instruction override", "override", severe=True),
    near(PROMPT_INJECTION, 0.75, "role or instruction hijack", "new_instructions", severe=True),
    near(PROMPT_INJECTION, 0.35, "jailbreak wording", "jailbreak"),
    near(PROMPT_INJECTION, 0.60, "chat-template role markers", "role_marker"),
    near(PROMPT_INJECTION, 0.85, "asks for the platform's prompt", "reveal_strong", severe=True),
    near(PROMPT_INJECTION, 0.45, "asks for a system prompt", "reveal_weak"),
    near(PROMPT_INJECTION, 0.80, "asks to repeat hidden context", "reveal_verbatim", severe=True),
    near(PROMPT_INJECTION, 0.55, "names host secrets or system files", "secret_path"),
    near(
        PROMPT_INJECTION,
        0.60,
        "reads host secrets or system files",
        "access",
        "secret_path",
        window=60,
        severe=True,
    ),
    near(
        PROMPT_INJECTION,
        0.80,
        "reads the platform's secrets",
        "access",
        "env_secrets",
        "platform",
        window=100,
        severe=True,
    ),
    near(
        PROMPT_INJECTION,
        0.80,
        "exfiltrates secrets",
        "exfil_strong",
        "env_secrets",
        window=60,
        severe=True,
    ),
    near(PROMPT_INJECTION, 0.85, "sandbox escape", "sandbox_escape", severe=True),
    near(PROMPT_INJECTION, 0.45, "disables platform safety checks", "disable_safety"),
    near(PROMPT_INJECTION, 0.45, "dumps every environment variable", "access", "dump_env"),
    near(
        PROMPT_INJECTION, 0.55, "sends secrets to a third party", "exfil", "env_secrets", window=60
    ),
    near(PROMPT_INJECTION, 0.50, "scans networks", "scan_net"),
    near(
        PROMPT_INJECTION,
        0.85,
        "reaches platform infrastructure",
        "net_verb",
        "infra",
        window=60,
        severe=True,
    ),
    near(
        PROMPT_INJECTION, 0.60, "reaches an internal network", "net_verb", "internal_net", window=60
    ),
    near(
        PROMPT_INJECTION,
        0.50,
        "generated app aimed at internal network",
        "generated_app",
        "internal_net",
    ),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({PHISHING, MALWARE, SPAM, FRAUD, DDOS, CRYPTOMINING, STALKING}),
        0.45,
        "security-education context",
        "ctx_security_edu",
    ),
    Context(frozenset({PHISHING}), 0.45, "anti-phishing tool", "ctx_phishing_defence"),
    Context(frozenset({PHISHING, MALWARE}), 0.5, "the user's own accounts", "for_self"),
    Context(frozenset({PHISHING}), 0.5, "account sign-up", "ctx_signup"),
    Context(frozenset({PHISHING}), 0.5, "the app's own authentication", "ctx_own_backend"),
    Context(
        frozenset({MALWARE}), 0.45, "malware defence or benign input capture", "ctx_malware_defence"
    ),
    Context(
        frozenset({CRYPTOMINING}), 0.45, "own mining, tracking or blocking", "ctx_mining_defence"
    ),
    Context(frozenset({DDOS}), 0.45, "load testing or DDoS defence", "ctx_ddos_defence"),
    Context(
        frozenset({SPAM}),
        0.45,
        "anti-spam or opted-in audience",
        "ctx_spam_defence",
        unless="evade_filter",
    ),
    Context(frozenset({FRAUD}), 0.45, "fraud detection or simulation", "ctx_fraud_defence"),
    Context(frozenset({FRAUD}), 0.60, "test data or fiction", "ctx_fraud_figleaf"),
    Context(
        frozenset({STALKING}), 0.45, "consensual or own-device tracking", "ctx_stalking_consent"
    ),
    Context(frozenset({HATE}), 0.45, "moderation, education or support", "ctx_hate_defence"),
    Context(frozenset({SELF_HARM}), 0.40, "prevention or support context", "ctx_self_harm_support"),
    Context(
        frozenset({PROMPT_INJECTION}),
        0.50,
        "injection defence or teaching",
        "ctx_injection_defence",
    ),
)
