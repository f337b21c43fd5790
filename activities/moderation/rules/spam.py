"""Spam: unsolicited mass messaging, filter evasion, fake reviews and engagement.

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

SPAM: Final = ModerationCategory.SPAM

TERMS: Final[dict[str, str]] = {
    "mass": any_of(
        r"mass",
        r"bulk",
        r"blast\w*",
        r"thousands",
        r"millions",
        r"hundreds of thousands",
        r"hundreds of",
        r"(?:a few|several) hundred",
        r"\d{3,} (?:\S+ ){0,2}(?:people|users|numbers|e-?mails|messages|texts|dms|comments|posts"
        r"|reviews|accounts|contacts|followers|groups|strangers|recipients|prospects)",
        r"(?:a|one|\d+) (?:million|thousand)",
        r"every (?:phone )?number",
        r"everyone (?:whose|on|in)",
        r"tons of",
        r"\d+ ?k",
        r"\d{1,3}(?:,\d{3})+",
        r"\d{4,}",
        r"en masse",
        r"at scale",
        r"every (?:number|e-?mail|address|contact|user|member|group|server|channel)",
    ),
    "messages": any_of(
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
    "unsolicited": any_of(
        r"unsolicited",
        r"spam\w*",
        r"(?:scraped|harvested|bought|purchased|leaked|stolen) (?:e-?mail |phone |contact )?"
        r"(?:lists?|addresses|e-?mails|numbers|contacts|leads)",
        WITHOUT_CONSENT,
        r"(?:didn'?t|did not|never) (?:sign(?:ed)? up|opt(?:ed)?[\s-]?in|subscribe\w*|ask\w*)",
        r"random (?:people|numbers|strangers|users|addresses|accounts|e-?mails)",
        r"strangers",
        r"(?:the )?same (?:message|text|dm|comment|post|e-?mail|ad|advert|promo) (?:\S+ ){0,3}"
        r"(?:to|in|on"
        r"|under) (?:every|all|thousands|hundreds|\d[\d,]*)",
        r"(?:lists?|contacts|numbers|leads|e-?mails|addresses) (?:that |which )?(?:i|we)"
        r" (?:bought|purchased|scraped|found|got|downloaded|copied|pulled)",
        r"(?:numbers|e-?mails|addresses|contacts|leads) (?:\S+ )?(?:scraped|harvested|bought"
        r"|purchased|leaked|stolen)",
        r"(?:without|never) (?:asking|their (?:consent|permission)|consent|permission)",
        r"from different accounts",
        r"(?:buy\w*|bought|purchas\w*|rent\w*) (?:a |an )?(?:\S+ )?lists? of (?:\S+ ){0,3}"
        r"(?:e-?mails|numbers|contacts|leads|addresses)",
        r"every (?:phone )?number (?:in|on|from)",
        r"(?:buy\w*|bought|purchas\w*|rent\w*) (?:\S+ ){0,2}(?:e-?mail|phone|contact"
        r"|lead)s? lists?",
        r"(?:sequential|generated|random)\w* (?:\S+ )?numbers",
        r"numbers generated",
        r"(?:leaked|scraped|bought|stolen|purchased) (?:\S+ )?(?:spreadsheets?|databases?|dumps?"
        r"|csvs?|files?|lists?)",
        r"(?:in|from) (?:the |a |an )?(?:\d+ )?area codes?",
        r"(?:e-?mails|numbers|contacts|addresses) (?:i|we) (?:scraped|harvested|bought|pulled"
        r"|copied|took|grabbed|lifted|got)",
    ),
    "promo": any_of(
        r"(?:promo|promotional|affiliate|referral|sales|marketing|my|our) (?:\S+ ){0,2}(?:links?"
        r"|codes?|ads?|offers?|pitch(?:es)?|invites?|deals?|channels?|servers?)",
        r"(?:promo|promotional|affiliate|referral|sales|marketing|my|our) messages?",
        r"about (?:my|our) (?:\S+ ){0,3}(?:offers?|deals?|products?|sale|services?|brand|shop"
        r"|store|app|course|ebook|supplements?|gummies|loans?|software|product|tool|saas|startup)",
        r"promos?",
        r"promotions?",
        r"discount codes?",
        r"(?:seo|sales|marketing) (?:offers?|pitch(?:es)?|services)",
        r"backlinks",
        r"(?:an? |the same )?ads?",
        r"invites? to (?:my|our|mine)",
        r"(?:crypto|casino|betting) (?:links?|promos?|promotions?|offers?)",
        r"promot\w* (?:my|our)",
        r"links? to (?:my|our)",
    ),
    "blanket": any_of(
        r"(?:under|on|in|to|into|at) (?:every|each|all (?:the )?)(?: \S+)? (?:videos?|posts?"
        r"|tweets?|threads?|groups?|channels?|servers?|comment sections?|subreddits?|forums?"
        r"|followers?|numbers?|websites?|sites?|contact forms?|inbox(?:es)?|users?|members?"
        r"|hashtags?|accounts?)",
        r"every (?:new )?follower",
        r"(?:every|each) (?:\S+ )?(?:number|email|address|contact) (?:in|on|from)",
        r"(?:trending|popular|viral) (?:tweets?|posts?|videos?|hashtags?|threads?|tiktoks?"
        r"|reels?|shorts?)",
        r"(?:in|under) (?:the )?comments? (?:of|on|under) (?:every|each|all)",
        r"every (?:\d+|few) (?:seconds|minutes|hours)",
        r"(?:to|on|in|at) (?:every|each|all (?:the )?) ?(?:\S+ )?(?:boards?|pins?|pages?|stories"
        r"|reels|blogs?|chats?|streams?|communities)",
        r"(?:all|every) (?:the )?followers of",
        r"(?:under|on|in|to|into|at|floods?|flooding) (?:every|each|all (?:the )?) ?(?:\S+ ){0,2}"
        r"(?:issues?|listings?|reviews?|threads?|tickets?|pull requests?|profiles?|products?)",
        r"(?:every(?:one|body)|all (?:the )?(?:people|users)) (?:who|that) follows?",
        r"(?:repl(?:y|ies)|respond\w*|comment\w*) to (?:every|each|all) (?:\S+ ){0,2}(?:comments?"
        r"|posts?|tweets?|messages?|threads?)",
        r"join(?:s|ing)? (?:\S+ ){0,2}(?:groups|servers|channels|chats|communities|subreddits)",
        r"(?:\d[\d,.]*k?|hundreds|thousands|millions) (?:of )?(?:\S+ )?(?:people|users|numbers"
        r"|accounts"
        r"|websites|groups|strangers|contacts|prospects|profiles|inboxes) (?:a|per|each) (?:day"
        r"|hour)",
        r"each of (?:these|the|those) \d[\d,]*",
        r"(?:message|dm|text|e-?mail|ping|tag)\w* (?:every|each|all) (?:\S+ )?(?:members?|users?"
        r"|followers?|contacts?|people)",
        r"(?:\d[\d,]*|hundreds|thousands) (?:of )?(?:facebook |reddit |telegram |discord )?"
        r"(?:groups|forums|subreddits|servers|channels|websites)",
        r"every (?:hour|day|minute) from",
        r"contact forms? on",
    ),
    "cold_outreach": any_of(
        r"cold (?:e-?mails?|outreach|calls?|dms?|messages?|texts?)",
        r"(?:\d[\d,]*) (?:\S+ )?(?:e-?mails|messages|dms|texts) (?:a|per) day to (?:prospects"
        r"|leads|strangers)",
    ),
    "evade_filter": any_of(
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
        r"so (?:gmail|outlook|yahoo|spam filters?|carriers?|whatsapp|instagram|it)"
        r" (?:doesn'?t|does not|won'?t|can'?t) (?:block|flag|filter|detect|catch|ban)",
        r"so each (?:\S+ )?only sends",
        r"so (?:\S+ ){0,3}(?:don'?t|doesn'?t|won'?t|can'?t) (?:get )?(?:blocked|flagged|filtered"
        r"|caught|banned|detected)",
        r"(?:fake|spoof|forge)\w* (?:the )?(?:from|sender) (?:address|name|ids?)",
        r"(?:land|get|stay|end up)\w* (?:\S+ ){0,3}(?:the )?inbox(?:es)? (?:instead of|not|rather"
        r" than) (?:in )?(?:the )?spam",
        r"inbox placement",
        r"(?:from )?(?:a )?rotation of (?:\S+ )?(?:accounts|numbers|domains|senders|ips)",
    ),
    "sourced_contacts": any_of(
        r"(?:found|pulled|taken|collected|gathered|scraped) (?:on|from|off) (?:their |the )?"
        r"(?:websites?|sites?|linkedin|google maps|directories|profiles|yelp)",
    ),
    "account_farm": any_of(
        r"(?:\d[\d,]*|hundreds|thousands|dozens) (?:of )?(?:new |fake |burner |throwaway )?"
        r"(?:gmail|outlook|yahoo|email|e-?mail|twitter|instagram|reddit|whatsapp|telegram|facebook"
        r"|tiktok|linkedin|discord) (?:accounts|addresses)",
        r"(?:\d[\d,]*|hundreds|thousands|dozens) (?:of )?(?:fake|burner|throwaway|bot|sock ?puppet)"
        r" (?:\S+ )?accounts",
        r"(?:creat|generat|register|mak)\w* (?:\S+ ){0,2}new (?:\S+ )?accounts (?:every|each"
        r"|daily)",
        r"(?:creat|generat|register|mak)\w* (?:\S+ ){0,2}(?:hundreds|thousands|dozens|\d[\d,]*)"
        r" (?:of )?(?:\S+ )?accounts",
    ),
    "spam_send": any_of(
        r"(?:send\w*|blast\w*|post\w*|push\w*) (?:\S+ ){0,2}spam",
        r"spam(?:ming|s)? (?:\S+ ){0,2}(?:people|users|everyone|inboxes|numbers|phones|forums"
        r"|comment sections|subreddits|groups|channels|strangers|servers?|\w+ servers?"
        r"|(?:their|people'?s) (?:dms|inboxes))",
        r"(?:sms|text|e-?mail|whatsapp|dm|imessage) (?:blasters?|bombers?|cannons?|spammers?)",
        r"spam(?:ming|s)? (?:all |every )?(?:the |my |those |these )?(?:e-?mails|numbers|contacts"
        r"|addresses|inboxes|dms)",
        r"auto[\s-]?dial\w*",
        r"tag\w* (?:\S+ ){0,3}(?:random|strangers|people who)",
        r"sign\w* up (?:\S+ ){0,3}(?:e-?mails|people|addresses|numbers) (?:to|for) (?:my|our)",
        r"robo[\s-]?call\w*",
        r"pre-?recorded (?:messages?|calls?|voice\w*)",
        r"ringless voicemails?",
        r"add\w* (?:\S+ ){0,2}(?:users|people|members|contacts|numbers) to (?:my|our|the)"
        r" (?:\S+ )?(?:channel|group|server|list|chat)",
    ),
    "fake_reviews": any_of(
        r"(?:fake|bogus|paid|made[\s-]up|fabricated|fraudulent|sock ?puppet) (?:\S+ ){0,2}"
        r"(?:reviews?|ratings?|testimonials?|followers?|likes|upvotes?|engagement|votes)",
        r"review (?:bomb\w*|farm\w*|brigad\w*)",
        r"(?:hundreds|thousands|dozens|\d{2,}) (?:of )?(?:\S+ ){0,2}(?:reviews|ratings"
        r"|testimonials)",
        r"(?:reviews?|ratings?) (?:\S+ ){0,3}(?:competitor|rival)\w*'?s?",
        r"(?:reviews?|ratings?|likes|upvotes?|votes|followers|comments) from (?:\S+ )?(?:fake|bot"
        r"|burner|sock ?puppet) accounts",
        r"(?:fake|bot|burner|sock ?puppet) (?:\S+ )?accounts? (?:\S+ ){0,2}(?:to|that) (?:like"
        r"|share|upvote|follow|review|rate|comment|vote|boost|inflate|pump)",
        r"(?:reviews?|ratings?) (?:\S+ ){0,6}pretending to be (?:guests|customers|buyers|clients"
        r"|patients|users)",
        r"(?:reviews?|ratings?|upvotes?|likes|votes) (?:\S+ ){0,4}from (?:my )?(?:friends'?"
        r"|family'?s?|alt|other|own|sock ?puppet|fake|bot|many|multiple|different) accounts",
        r"(?:link|blog|private blog) (?:farms?|networks?)",
        r"(?:review|testimonial|rating)s? generators? (?:\S+ ){0,8}post\w*",
        r"fake (?:blogs|sites|websites) (?:\S+ ){0,3}(?:link\w*|backlinks?)",
        r"astroturf\w*",
        r"(?:bot|click|like) farms?",
        r"(?:buy|buying|sell|selling|purchas)\w* (?:\S+ ){0,2}(?:followers|likes|views|subscribers"
        r"|upvotes|reviews)",
    ),
    "automation": any_of(
        r"automat\w*",
        r"auto[\s-]?post\w*",
        r"bots?",
        r"scripts?",
        r"at scale",
        r"thousands",
        r"hundreds",
        r"in bulk",
        r"generators?",
        r"auto[\s-]?(?:dms?|messag\w*|comment\w*|repl\w*|follow\w*|send\w*)",
        r"(?:bot|bots) (?:army|network)",
        r"army",
    ),
    "ctx_spam_defence": any_of(
        r"report\w* (?:\S+ )?spam",
        r"(?:remov|delet|hid|catch|stop|fight)\w* (?:\S+ ){0,2}spam",
        r"spam (?:filters?|detect\w*|classif\w*|block\w*|report\w*|checker|score|protection"
        r"|folder)",
        r"anti[\s-]?spam",
        r"(?:detect|block|filter|flag)(?:s|ing|er|ers|or|ors)? (?:\S+ ){0,2}(?:spam|bots?|fake"
        r" (?:reviews|followers|accounts|likes|engagement))",
        r"unsubscrib\w*",
        r"double opt[\s-]?in",
        r"opt(?:ed)?[\s-]?in",
        r"(?:my|our) (?:own )?(?:newsletter )?subscribers",
        r"who (?:signed up|opted in|subscribed)",
        r"newsletter sign[\s-]?up",
        r"mailing list sign[\s-]?up",
        r"verified (?:purchases?|buyers?|reviews?)",
        r"(?:my|our) own (?:\S+ )?(?:accounts?|server|subscribers|customers|members|list|guests)",
        r"who (?:booked|signed up|subscribed|registered|bought|joined)",
        r"guests",
        r"appointment reminders?",
        r"(?:sent |send )?once",
        r"welcom\w*",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
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
    near(SPAM, 0.75, "fake reviews or engagement", "fake_reviews"),
    near(SPAM, 0.50, "fake reviews at scale", "fake_reviews", "automation", severe=True),
    near(SPAM, 0.50, "fake reviews at scale", "fake_reviews", "mass", severe=True),
    near(SPAM, 0.75, "promotion pushed everywhere", "promo", "blanket", window=100),
    near(
        SPAM,
        0.60,
        "promotion sent at volume to people who never asked",
        "promo",
        "unsolicited",
        "mass",
        window=100,
        severe=True,
    ),
    near(
        SPAM,
        0.45,
        "automated promotion pushed everywhere",
        "automation",
        "promo",
        "blanket",
        window=120,
        severe=True,
    ),
    near(SPAM, 0.30, "automated posting everywhere", "automation", "blanket", window=80),
    near(
        SPAM,
        0.45,
        "promotion pushed everywhere at volume",
        "mass",
        "promo",
        "blanket",
        window=120,
        severe=True,
    ),
    near(SPAM, 0.60, "mass account creation", "account_farm"),
    near(SPAM, 0.65, "mass messages sent everywhere", "mass", "messages", "blanket", window=100),
    near(SPAM, 0.45, "cold outreach at volume", "cold_outreach"),
    near(
        SPAM,
        0.30,
        "outreach at volume to contacts found elsewhere",
        "mass",
        "messages",
        "sourced_contacts",
        window=100,
    ),
    near(
        SPAM,
        0.50,
        "promotion sent to people who never asked",
        "unsolicited",
        "promo",
        window=100,
    ),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({SPAM}),
        0.45,
        "anti-spam or opted-in audience",
        "ctx_spam_defence",
        unless="evade_filter",
    ),
)
