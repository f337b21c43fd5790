"""Surveillance: tracking a person covertly, spyware on their phone, hidden recording.

Its vocabularies (``TERMS``), the rules that weigh them (``RULES``) and the benign
contexts that lower its score (``CONTEXTS``); see the package docstring for how
they combine.
"""

from __future__ import annotations

from typing import Final

from activities.moderation.rules.helpers import (
    WITHOUT_CONSENT,
    Context,
    Rule,
    any_of,
    near,
)
from schemas.moderation import ModerationCategory

DOXXING: Final = ModerationCategory.DOXXING
SURVEILLANCE: Final = ModerationCategory.SURVEILLANCE

TERMS: Final[dict[str, str]] = {
    "track": any_of(
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
        r"shows? (?:me )?where",
        r"follow\w*",
    ),
    "location": any_of(
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
    "no_consent": any_of(
        WITHOUT_CONSENT,
        r"secret(?:ly)?",
        r"covert(?:ly)?",
        r"hidden",
        r"in secret",
        r"undetect\w*",
        r"stealth\w*",
        r"(?:they|he|she) (?:won'?t|will never|can'?t|cannot) (?:know|notice|find out|tell)",
        r"behind (?:their|his|her) backs?",
        r"so (?:they|he|she) (?:doesn'?t|don'?t|won'?t) (?:know|notice)",
        r"quietly",
        r"silently",
        r"hid(?:e|es|ing|den)",
        r"(?:i|we) hid",
        r"(?:she|he|they) (?:forgot|forgets) to (?:turn off|disable|stop)",
        r"(?:doesn'?t|does not|won'?t|will not|never) (?:alert|notify|warn|tell|show)"
        r" (?:\S+ ){0,2}(?:person|them|him|her|anyone|owner|user)",
        r"without (?:\S+ )?(?:noticing|knowing|seeing|telling)",
        r"(?:she|he|they) (?:won'?t|will not|can'?t|cannot) see",
        r"remotely",
        r"never know",
        r"no (?:app )?icons?",
        r"(?:hides?|hiding|without) (?:its |the |an |any )?(?:app )?icons?",
        r"(?:he|she|they) (?:can'?t|cannot|must not|mustn'?t|shouldn'?t) know",
    ),
    "watch_verb": any_of(
        r"record\w*",
        r"listen\w* (?:in|to)",
        r"read\w*",
        r"intercept\w*",
        r"captur\w*",
        r"screenshot\w*",
        r"see\w*",
        r"show\w*(?: me)?",
        r"view\w*",
        r"access\w*",
        r"monitor\w*",
        r"spy\w* on",
        r"sniff\w*",
        r"forward\w*",
        r"sends?(?: me)?",
        r"copies",
        r"logs?",
        r"logging",
        r"turn\w* on",
        r"activat\w*",
        r"track\w*",
    ),
    "private_life": any_of(
        r"(?:phone )?calls",
        r"texts",
        r"text messages",
        r"(?:whatsapp |instagram |facebook |snapchat |private )?messages",
        r"i ?messages",
        r"whatsapp",
        r"dms",
        r"e-?mails",
        r"(?:browsing|search|web) history",
        r"(?:which|what) (?:sites|websites) (?:they|he|she) visit",
        r"what (?:\S+ ){0,5}(?:is |are )?brows\w*",
        r"wi-?fi traffic",
        r"(?:network )?traffic",
        r"screens?",
        r"screenshots",
        r"keystrokes",
        r"what (?:she|he|they) types?",
        r"microphones?",
        r"mic",
        r"conversations",
        r"audio",
        r"photos",
        r"(?:their|his|her) (?:phone|laptop|computer|icloud|email|inbox|account)",
    ),
    "covert_device": any_of(
        r"hidden cameras?",
        r"spy ?cam\w*",
        r"secret (?:cameras?|recorders?|microphones?|mics?)",
        r"(?:cameras?|cams?|mics?|microphones?|recorders?|trackers?) (?:hidden|concealed|disguised)"
        r" (?:in|as|inside)",
        r"(?:put|place|slip|drop|plant|attach|stash|hid|tap|stick|glu)\w* (?:a |an |the )?(?:gps "
        r"|bluetooth )?(?:trackers?|airtags?|tiles?|tags?) (?:\S+ ){0,2}(?:in|on|under|inside|into)"
        r" (?:\S+ ){0,3}\w+'s (?:car|bag|purse|bike|coat|jacket|backpack|phone|luggage|vehicle)",
        r"(?:tiny|mini|pinhole|button|disguised|concealed) (?:\S+ )?(?:cameras?|cams?|mics?"
        r"|microphones?|recorders?)",
        r"(?:hidden|secret|covert|concealed) (?:\S+ )?(?:listening|recording|spy) devices?",
        r"(?:fake|rogue|evil[\s-]?twin) (?:\S+ )?(?:wi-?fi|hotspots?|access points?)",
        r"(?:trackers?|airtags?|tiles?|tags?|gps)\w* (?:\S+ ){0,3}(?:taped|stuck|hid|hidden|glued"
        r"|planted|attached|stashed)\w* (?:\S+ ){0,3}(?:under|in|on|inside|behind|to)",
        r"(?:tap|stick|stuck|glu|plant|attach|stash)\w* (?:a |an |the |my )?(?:gps )?(?:trackers?"
        r"|airtags?|tiles?|tags?)",
        r"(?:leave|leaving|plant\w*|hid\w*) (?:\S+ ){0,3}in (?:my |his |her |their )?(?:\S+ )?(?:ex"
        r"|wife|husband|girlfriend|boyfriend|partner|roommate|tenant|neighbou?r)'?s? (?:apartment"
        r"|house|flat|room|bedroom|car|office)",
        r"(?:camera|cam|recorder|mic)\w* (?:\S+ ){0,4}(?:bathroom|bedroom|changing room"
        r"|shower|toilet|locker room)",
        r"(?:gps )?trackers? (?:i|we) hid",
        r"hid\w* (?:a |the )?(?:gps )?(?:tracker|airtag|tag)\w* (?:\S+ ){0,2}(?:under|in|on)",
        r"(?:airtags?|trackers?|tags?) (?:\S+ ){0,4}(?:doesn'?t|does not|won'?t|never) (?:alert"
        r"|notify|warn|beep)",
        r"tracking pixels?",
        r"(?:turn\w* on|activat\w*|access\w*) (?:\S+ ){0,3}(?:microphone|mic|camera|webcam)s?"
        r" remotely",
        r"listen in",
    ),
    "account_intrusion": any_of(
        r"log\w* (?:in)?to (?:my |his |her |their |someone'?s )?(?:\S+ )?(?:ex|wife|husband"
        r"|girlfriend|boyfriend|partner|spouse|sister|brother|coworker|roommate|friend|daughter"
        r"|son)'?s? (?:\S+ )?(?:accounts?|instagram|facebook|snapchat|email|gmail|icloud"
        r"|whatsapp|phone)",
        r"(?:from|into|through) (?:his|her|their) icloud",
    ),
    "their_device": any_of(
        r"(?:install|put|load|plant|sideload)\w* (?:\S+ ){0,3}on (?:my |his |her |their |a )?"
        r"(?:\S+ )?(?:ex|wife|husband|girlfriend|boyfriend|partner|spouse|roommate|tenant"
        r"|coworker|colleague|neighbou?r|sister|brother|boss|employee|friend|crush)'?s? (?:\S+ )?"
        r"(?:phone|laptop|computer|pc|tablet|car)",
    ),
    "live_location": any_of(
        r"where (?:\S+ ){0,2}(?:is|are|goes|go|lives?) (?:right now|each day|every day|at all times"
        r"|all the time|24/7|now|today)",
        r"(?:work|figure|find) out where (?:she|he|they|that person|the person)",
        r"(?:location|where (?:she|he|they)) (?:\S+ ){0,3}from (?:her|his|their) (?:posts|photos"
        r"|pictures|check-?ins|stories|socials|social media|instagram|tweets)",
    ),
    "intercept_traffic": any_of(
        r"(?:sniff|intercept|captur|read)\w* (?:\S+ ){0,3}(?:wi-?fi|traffic|network|packets)",
    ),
    "watched_people": any_of(
        r"every(?:one|body)'?s?",
        r"(?:employees|staff|workers|users|people|students|tenants)'?s?",
        r"(?:the|our|my) (?:nanny|babysitter|cleaner|housekeeper|caregiver)",
    ),
    "ctx_parental": any_of(
        r"my (?:teenage |teen |young |little |\d+[\s-]?(?:year[\s-]?old|yo) )?(?:daughter|son"
        r"|kids?|children|child)(?!'?s? (?:boy|girl)?friends?|'?s? partners?|'?s? teachers?"
        r"|'?s? coach|'?s? ex)'?s?",
        r"parental",
    ),
    "spy_app": any_of(
        r"stalkerware",
        r"spy ?(?:apps?|ware|software|tools?)",
        r"phone spy",
        r"(?:key ?loggers?|spyware|tracking apps?) (?:\S+ ){0,3}(?:on|for|to catch|to read|to see)"
        r" (?:my |his |her |their )?(?:\S+ )?(?:wife|husband|girlfriend|boyfriend|partner|spouse"
        r"|ex|roommate|coworker|boss|sister|brother)'?s?",
        r"spy on (?:\S+ ){0,2}(?:phones?|messages|texts|chats|whatsapp|location|someone|my "
        r"(?:ex|wife|husband|girlfriend|boyfriend|partner|spouse)|her|him|them|people)",
        r"(?:read|intercept|monitor|see|access)\w* (?:\S+ ){0,2}(?:her|his|their|someone'?s"
        r"|another person'?s|my (?:wife|husband|girlfriend|boyfriend|partner|spouse|ex)'?s?)"
        r" (?:texts|messages|whatsapp|dms|e-?mails|chats|calls|photos)",
    ),
    "ctx_stalking_consent": any_of(
        r"(?:check|scan|search|sweep|inspect)\w* (?:\S+ ){0,3}for (?:\S+ )?(?:stalkerware|spyware"
        r"|trackers?|bugs|hidden cameras|airtags|tracking apps)",
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
}

RULES: Final[tuple[Rule, ...]] = (
    near(SURVEILLANCE, 0.55, "tracks a person's location", "track", "location", "person"),
    near(
        SURVEILLANCE,
        0.80,
        "tracks a person without consent",
        "track",
        "person",
        "no_consent",
        window=100,
        severe=True,
    ),
    near(SURVEILLANCE, 0.75, "spyware for watching a person", "spy_app"),
    near(
        SURVEILLANCE,
        0.45,
        "watches a person's private life",
        "watch_verb",
        "private_life",
        "person",
        window=80,
    ),
    near(
        SURVEILLANCE,
        0.60,
        "covertly watches a person's private life",
        "watch_verb",
        "private_life",
        "no_consent",
        window=100,
        severe=True,
    ),
    near(SURVEILLANCE, 0.85, "hidden camera, tracker or microphone", "covert_device", severe=True),
    near(SURVEILLANCE, 0.85, "logs into a partner's account", "account_intrusion", severe=True),
    near(SURVEILLANCE, 0.45, "where a person is, live", "live_location", "track", window=100),
    near(
        SURVEILLANCE,
        0.50,
        "sends a person's location away",
        "exfil",
        "location",
        "person",
        window=60,
    ),
    near(
        SURVEILLANCE,
        0.60,
        "something installed on a partner's or housemate's device",
        "their_device",
        "watch_verb",
        window=100,
        severe=True,
    ),
    near(SURVEILLANCE, 0.45, "locates a specific person", "live_location", "person", window=100),
    near(
        SURVEILLANCE,
        0.60,
        "finds where anyone is from a number or name",
        "lookup_input",
        "live_location",
        window=100,
        severe=True,
    ),
    near(
        SURVEILLANCE,
        0.60,
        "intercepts a person's network traffic",
        "intercept_traffic",
        "person",
        window=60,
        severe=True,
    ),
    near(
        SURVEILLANCE,
        0.40,
        "records people at work or home",
        "watch_verb",
        "private_life",
        "watched_people",
        window=80,
    ),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({SURVEILLANCE, DOXXING}),
        0.45,
        "consensual or own-device tracking",
        "ctx_stalking_consent",
    ),
    Context(frozenset({SURVEILLANCE}), 0.50, "a parent and their child", "ctx_parental"),
)
