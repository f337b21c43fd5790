"""Inventory: items with quantities, stock movements, categories and low-stock alerts."""

from activities.generation.blueprints.prompt import listed, number_after_limit_word
from activities.generation.blueprints.scaffold import Blueprint, Brief, Settings

DEFAULT_LOW_STOCK = 5
_CATEGORY_CUES = ("categories", "category", "sections", "departments", "types", "kinds", "groups")


def _settings(brief: Brief) -> Settings:
    threshold = number_after_limit_word(brief.prompt)
    return {
        "CATEGORIES": tuple(listed(brief.prompt, _CATEGORY_CUES, max_items=12, max_chars=40)),
        "LOW_STOCK_DEFAULT": DEFAULT_LOW_STOCK if threshold is None else min(threshold, 100_000),
    }


BLUEPRINT = Blueprint(
    kind="inventory",
    label="Inventory",
    summary="An inventory: items, quantities, stock movements and low-stock alerts.",
    keywords={
        "inventory": 3,
        "stock": 3,
        "warehouse": 3,
        "stockroom": 3,
        "storeroom": 2,
        "supplies": 2,
        "pantry": 2,
        "restock": 3,
        "sku": 2,
        "spare part": 2,
        "equipment": 1,
        "item": 1,
    },
    imports=("from fastapi import Query",),
    settings=_settings,
)
