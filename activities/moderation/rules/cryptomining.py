"""Cryptojacking: miners hidden in pages or run on other people's hardware.

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

CRYPTOMINING: Final = ModerationCategory.CRYPTOMINING

TERMS: Final[dict[str, str]] = {
    "miner": any_of(
        r"(?:crypto|coin|monero|xmr|bitcoin|btc|eth|ethereum|litecoin|doge\w*|cpu|gpu)"
        r" ?min(?:er|ers|ing)",
        r"mine (?:monero|xmr|bitcoin|btc|crypto\w*|coins?|ethereum|eth|litecoin|doge\w*)",
        r"xmrig",
        r"cryptonight",
        r"randomx",
        r"miners?",
    ),
    "miner_web": any_of(
        r"(?:in[\s-]?browser|browser[\s-]based|javascript|js|web|webassembly|wasm|hidden"
        r"|background|stealth|silent) (?:crypto ?|coin ?|monero ?|xmr ?)?min(?:er|ers|ing)",
        r"min(?:er|ing) scripts?",
        r"webminer",
    ),
    "cryptojack": any_of(
        r"crypto[\s-]?jack\w*",
        r"coinhive",
        r"drive[\s-]by mining",
        r"mining malware",
        r"(?:hidden|silent|stealth) (?:crypto ?)?miners?",
    ),
    "victim_resources": any_of(
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
    "embed": any_of(r"embed\w*", r"inject\w*", r"insert\w*", r"sneak\w*", r"hid(?:e|es|ing)"),
    "ctx_mining_defence": any_of(
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
}

RULES: Final[tuple[Rule, ...]] = (
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
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({CRYPTOMINING}), 0.45, "own mining, tracking or blocking", "ctx_mining_defence"
    ),
)
