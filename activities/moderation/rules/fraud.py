"""Fraud: forged documents, fake charities, investment scams, carding and laundering.

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

FRAUD: Final = ModerationCategory.FRAUD

TERMS: Final[dict[str, str]] = {
    "fake_doc_adj": any_of(
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
    "document": any_of(
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
    "doc_realism": any_of(
        r"scannable",
        r"with (?:a )?(?:working )?(?:barcodes?|holograms?|mrz)",
        r"pass\w* (?:\S+ )?(?:verification|kyc|inspection|checks?|a (?:bouncer|check))",
        r"bypass\w* (?:\S+ )?(?:kyc|id verification|identity verification|age verification)",
        r"(?:any|someone else'?s|a fake|a different|whatever) name",
        r"look\w* (?:\S+ )?(?:real|authentic|legit\w*|official|genuine)",
        r"indistinguishable from (?:the )?real",
    ),
    "never_happened": any_of(
        r"(?:that|which) never happened",
        r"(?:that|which) (?:didn'?t|did not) happen",
        r"(?:i|we) never (?:made|had|did|bought|paid)",
        r"to (?:claim|get) (?:a )?(?:refunds?|reimburse\w*|expenses)",
        r"(?:expense|insurance|claim|tax) fraud",
    ),
    "fake_charity": any_of(
        r"(?:fake|fraudulent|bogus|sham|scam|phony|fraud) (?:\S+ ){0,2}(?:charit\w*|fundrais\w*"
        r"|donations?|gofundme|crowdfund\w*|relief funds?|non[\s-]?profits?)",
        r"(?:charit\w*|fundrais\w*|donations?|gofundme) (?:\S+ ){0,5}(?:keep (?:all )?(?:the )?"
        r"(?:money|donations|funds)|pocket\w* (?:the )?(?:money|donations|funds)|for myself"
        r"|doesn'?t exist|does not exist|(?:that|which) isn'?t real|not (?:a )?real"
        r"|(?:i|we) (?:don'?t|do not|never) (?:have|had|own)|(?:isn'?t|is not|not) (?:really"
        r" |actually )?(?:sick|ill|real))",
    ),
    "invest_scam": any_of(
        r"ponzi\w*",
        r"pyramid schemes?",
        r"pump[\s-]and[\s-]dump",
        r"rug[\s-]?pulls?",
        r"exit scams?",
        r"pig butchering",
        r"guarantee[ds]? (?:\S+ ){0,2}(?:returns?|profits?|income|roi|gains)",
        r"(?:double|triple) (?:your|their|the) (?:money|bitcoin|btc|crypto|investment|eth\w*"
        r"|coins?|sol|usdt|deposit|tokens)",
        r"send (?:\S+ )?(?:btc|eth|bitcoin|crypto|coins?) (?:\S+ ){0,3}(?:get|receive)"
        r" (?:\S+ )?back",
        r"(?:fake|fraudulent|scam|bogus) (?:\S+ ){0,2}(?:investment|trading|exchange|broker\w*"
        r"|ico|hedge fund|wallet)",
        r"get[\s-]rich[\s-]quick",
        r"(?:fake|made[\s-]up|fabricated|invented|bogus|inflated|fictitious) (?:\S+ )?(?:balances?"
        r"|earnings|returns|profits?|gains|payouts?|statements|trading results)",
        r"withdraw\w* (?:\S+ ){0,4}(?:never (?:works?|arrives?|goes through)|always pending"
        r"|(?:is |are )?(?:blocked|locked|frozen))",
        r"never pays? out",
        r"risk[\s-]free (?:profits?|returns?)",
    ),
    "scam_target": any_of(
        r"scam\w* (?:\S+ ){0,2}(?:people|victims|users|customers|elderly|seniors|old people"
        r"|grandparents|tourists|investors|buyers|sellers|someone|them)",
        r"(?:scam|fraud) (?:sites?|websites?|pages?|shops?|stores?|apps?|scripts?|templates?"
        r"|calls?|call cent(?:er|re)s?)",
        r"(?:steal|take|get) (?:\S+ ){0,2}(?:money|savings) from (?:\S+ )?(?:people|victims|elderly"
        r"|seniors|grandparents)",
    ),
    "giveaway": any_of(
        r"give ?aways?",
        r"giv(?:e|es|ing) away",
        r"sweepstakes",
        r"(?:win|wins|winning|claim|claims|won) (?:a |an |the |your |free )?(?:\S+ )?(?:iphone"
        r"|macbook|ps5|prize|car|tickets?|gift cards?|laptop|cash|reward)",
        r"spin the wheel",
        r"airdrops?",
        r"free (?:iphones?|macbooks?|ps5s?|tickets|crypto|bitcoin|eth|money)",
        r"(?:you|they|people|users|someone) (?:have |'ve |has )?won",
        r"lotter(?:y|ies)",
        r"jackpots?",
        r"prize draws?",
    ),
    "pay_to_claim": any_of(
        r"(?:processing|shipping|delivery|handling|release|activation|verification|upfront"
        r"|advance) fees?",
        r"pay(?:s|ing)? (?:for |the )?(?:shipping|delivery|a fee|fees|postage|taxes)",
        r"(?:with|by|in) gift cards?",
        r"enter (?:\S+ )?(?:card|credit card|bank) (?:\S+ )?(?:details|number|info\w*)?",
        r"(?:my|our|the) (?:\S+ )?wallet(?: address)?",
        r"qr code to (?:my|our)",
        r"send (?:\S+ ){0,2}(?:btc|eth|bitcoin|crypto|money|deposit)",
        r"(?:double|triple) your",
        r"(?:deposit|connect) (?:\S+ )?wallet",
    ),
    "impersonate": any_of(
        r"impersonat\w*",
        r"pretend\w* to be",
        r"pos(?:e|es|ing) as",
        r"deep ?fake\w*",
        r"fake (?:\S+ )?(?:account|page|profile|livestream|stream|video|announcement) (?:of|from)",
        r"(?:elon musk|musk|mrbeast|mr beast|taylor swift|michael saylor|saylor|jeff bezos|bezos"
        r"|bill gates|oprah|cristiano ronaldo|kim kardashian)'?s?",
        r"(?:celebrit\w*|famous|influencer|youtuber|streamer)'?s? (?:team|account|giveaway"
        r"|name|face)",
        r"(?:'s|s') team",
        r"(?:from|by) (?:\S+ )?(?:apple|amazon|google|microsoft|binance|coinbase|paypal|netflix"
        r"|tesla|spacex|samsung)",
    ),
    "fake_shop": any_of(
        r"(?:take|takes|taking|accept\w*) (?:\S+ )?orders? (?:for|of) (?:\S+ ){0,3}(?:we|i)"
        r" (?:don'?t|do not) (?:have|stock|own)",
        r"never (?:ships?|deliver\w*|sends? (?:the )?(?:item|goods|product))",
        r"(?:no|without) (?:intention|plan) (?:of|to) (?:ship|deliver)",
        r"fake (?:\S+ )?(?:job (?:offers?|postings?|ads?|listings?)|online (?:shops?|stores?)"
        r"|stores?|shops?|refunds?|refund (?:sites?|pages?)|support|tech support|helpdesk"
        r"|recovery)",
        r"charg\w* (?:\S+ )?(?:applicants|candidates|job seekers|new hires) (?:\S+ ){0,2}(?:for"
        r"|a fee)",
        r"(?:get|getting|recover\w*) back (?:\S+ ){0,2}(?:scammed|stolen|lost) (?:\S+ )?"
        r"(?:crypto|money|funds)",
        r"(?:upfront|advance) fee (?:\S+ ){0,6}(?:do nothing|disappear|keep)",
        r"(?:and|then) (?:we )?do nothing",
        r"(?:sell\w*|rent\w*|list\w*|listings?) (?:\S+ ){0,4}(?:i|we) (?:don'?t|do not) (?:own"
        r"|have)",
        r"ships? nothing",
        r"needs? (?:the )?(?:customer'?s?|their|your|victim'?s?) (?:credit )?card to",
    ),
    "fake_urgency": any_of(
        r"(?:countdowns?|timers?|stock counters?|only \d+ left)\W* (?:\S+ ){0,4}(?:reset\w*"
        r"|restart\w*|never (?:end|run out|change))",
        r"fake (?:scarcity|urgency|countdowns?|timers?|stock (?:levels?|counts?))",
    ),
    "self_testimonial": any_of(
        r"testimonials? (?:that )?(?:i|we) (?:wrote|made up|invented)(?: (?:myself|ourselves))?",
        r"(?:made[\s-]up|invented|fabricated) (?:\S+ )?testimonials?",
    ),
    "financial_crime": any_of(
        r"carding",
        r"cc (?:checkers?|generators?|shops?)",
        r"(?:valid|live|working|real|stolen) (?:credit card|card|cc) (?:numbers?|details|dumps?)",
        r"card dumps",
        r"cvv (?:shops?|checkers?)",
        r"(?:stolen|leaked|hacked) (?:credit cards?|cards|identities|identity)",
        r"identity theft",
        r"synthetic identit\w*",
        r"sim[\s-]swap\w*",
        r"chargeback fraud",
        r"refund (?:scam|fraud)",
        r"fake (?:bank|payment|wire|transfer|paypal|venmo|zelle) (?:\S+ ){0,2}(?:confirmations?"
        r"|receipts?|screenshots?|notifications?|alerts?|proofs?)",
    ),
    "age_context": any_of(
        r"bouncers?",
        r"bars?",
        r"clubs?",
        r"underage",
        r"under[\s-]?21",
        r"drinking age",
        r"age verification",
        r"buy (?:alcohol|beer|liquor|cigarettes)",
    ),
    "fake_id": any_of(r"(?:fake|forged|counterfeit|scannable) ids?"),
    "ctx_fraud_defence": any_of(
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
    "ctx_fraud_figleaf": any_of(
        r"(?:test|testing|mock|dummy|sample|seed|placeholder|synthetic) (?:user )?data",
        r"faker",
        r"lorem ipsum",
        r"games?",
        r"props?",
        r"movie",
        r"film",
        r"practice",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    seq(FRAUD, 0.75, "forged documents", "fake_doc_adj", "document", gap=25),
    near(FRAUD, 0.60, "documents made to pass as real", "document", "doc_realism", window=60),
    near(FRAUD, 0.60, "documents for events that never happened", "document", "never_happened"),
    near(FRAUD, 0.75, "fake ID for age checks", "fake_id", "age_context"),
    near(FRAUD, 0.80, "fake charity", "fake_charity"),
    near(FRAUD, 0.80, "investment scam", "invest_scam"),
    near(FRAUD, 0.75, "scam aimed at people", "scam_target"),
    near(FRAUD, 0.80, "carding, identity theft, fake payment proofs", "financial_crime"),
    near(FRAUD, 0.55, "giveaway that asks for payment", "giveaway", "pay_to_claim", window=120),
    near(FRAUD, 0.45, "giveaway in someone else's name", "giveaway", "impersonate", window=120),
    near(
        FRAUD,
        0.60,
        "impersonation giveaway that asks for payment",
        "giveaway",
        "impersonate",
        "pay_to_claim",
        window=150,
        severe=True,
    ),
    near(FRAUD, 0.80, "fake shop, job, refund or recovery service", "fake_shop", severe=True),
    near(FRAUD, 0.45, "self-written testimonials", "self_testimonial"),
    near(FRAUD, 0.45, "fake scarcity or urgency", "fake_urgency"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(frozenset({FRAUD}), 0.45, "fraud detection or simulation", "ctx_fraud_defence"),
    Context(frozenset({FRAUD}), 0.60, "test data or fiction", "ctx_fraud_figleaf"),
)
