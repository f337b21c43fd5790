"""Naming generated apps (titles and app ids) and reading parameters from prompts."""

from __future__ import annotations

import re

import pytest

from activities.generation import suggest_app_id
from activities.generation.blueprints import KIND_WORDS
from activities.generation.blueprints.prompt import (
    context_words,
    currency,
    listed,
    number_after_limit_word,
    pairs,
    question,
    quoted,
    stem,
)
from activities.generation.naming import MAX_TITLE_CHARS, name_app, slugify
from schemas.deployment import APP_ID_PATTERN, validate_app_id


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("a todo list for my climbing team", "Climbing Team Todo"),
        ("A TODO list for the NASA interns", "NASA Interns Todo"),
        ("a todo list for my climbing team, with due dates", "Climbing Team Todo"),
        ("weekly chores checklist", "Weekly Chores Todo"),
        ("a notebook for cooking ideas with tags: dessert, vegan", "Cooking Ideas Notes"),
        ("notes about Roman history", "Roman History Notes"),
        ("a poll to choose between pizza, sushi and tacos for friday lunch", "Friday Lunch Poll"),
        ("a guestbook for our wedding", "Wedding Guestbook"),
        ("habits for my morning routine: meditate, stretch, journal", "Morning Routine Habits"),
        ("a habit tracker for meditate, stretch and read", "Habits"),
        ("url shortener for the marketing team", "Marketing Team Link Shortener"),
        ("flashcards for learning spanish vocabulary", "Spanish Vocabulary Flashcards"),
        ("split bills on our ski trip between Ann, Bob and Cy", "Ski Trip Expenses"),
        ("inventory for my bakery with categories: flour, sugar", "Bakery Inventory"),
        ("a todo list for my Café crew", "Café Crew Todo"),
        ("build me an app", "Notes"),
        ("Todo", "Todo"),
    ],
)
def test_titles(prompt: str, title: str) -> None:
    assert name_app(prompt).title == title


def test_long_titles_are_cut_at_words() -> None:
    named = name_app("a todo list for " + " ".join(["supercalifragilistic"] * 10))
    assert len(named.title) <= MAX_TITLE_CHARS
    assert named.title.endswith(" Todo")
    assert named.context == ("Supercalifragilistic",) * 2


@pytest.mark.parametrize(
    ("prompt", "app_id"),
    [
        ("a todo list for my climbing team", "climbing-team-todo"),
        ("a todo list for my Café crew", "cafe-crew-todo"),
        ("a guestbook for our wedding", "wedding-guestbook"),
        ("Todo", "todo"),
        ("url shortener for the marketing team", "marketing-team-link-shortener"),
        ("a todo list for the 2030 reunion", "app-2030-reunion-todo"),
        ("poll for 42", "app-42-poll"),
    ],
)
def test_app_ids(prompt: str, app_id: str) -> None:
    assert suggest_app_id(prompt) == app_id


@pytest.mark.parametrize(
    "prompt",
    [
        "!!!",
        "",
        "日本語のアプリ",
        "   ",
        "a " * 100,
        "a todo list for " + "x" * 200,
        "a poll for the " + " ".join(f"w{i}" for i in range(30)),
        "42",
    ],
)
def test_app_ids_always_match_the_pattern(prompt: str) -> None:
    app_id = suggest_app_id(prompt)
    assert re.match(APP_ID_PATTERN, app_id)
    assert validate_app_id(app_id) == app_id
    assert suggest_app_id(prompt) == app_id


def test_app_ids_fall_back_to_a_hash_of_the_prompt() -> None:
    first, second = suggest_app_id("!!!"), suggest_app_id("???")
    assert re.fullmatch(r"app-[0-9a-f]{8}", first)
    assert first != second
    assert re.fullmatch(r"app-[0-9a-f]{8}", suggest_app_id("日本語のアプリ"))


def test_long_app_ids_are_cut_at_a_dash() -> None:
    app_id = suggest_app_id("a todo list for the international climbing federation committee")
    assert len(app_id) <= 40
    assert app_id == "international-climbing-federation"


@pytest.mark.parametrize(
    ("text", "slug"),
    [("Café Crew", "cafe-crew"), ("  A--B  ", "a-b"), ("日本", ""), ("Ünïcode 2", "unicode-2")],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [("tasks", "task"), ("Notes", "note"), ("glass", "glass"), ("bus", "bus"), ("is", "is")],
)
def test_stem(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


def test_quoted_strings() -> None:
    text = "poll \"Lunch?\" “Pizza” 'Sushi' don't 'x'y"
    assert quoted(text) == ["Lunch?", "Pizza", "Sushi"]


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("habits: run, read and stretch", ["Run", "Read", "Stretch"]),
        ("habits: floss", ["Floss"]),
        ("track my habits", []),
        ("a habit tracker for meditate, stretch and read", ["Meditate", "Stretch", "Read"]),
        ("habits such as yoga or swimming. Also more", ["Yoga", "Swimming"]),
        ("habits: a, A, b", ["A", "B"]),
    ],
)
def test_listed(text: str, items: list[str]) -> None:
    assert listed(text, ("habits", "habit"), max_items=5, max_chars=30) == items


def test_listed_names_only() -> None:
    cues = ("between",)
    assert listed("split between Ann, Bob and Cy", cues, max_items=5, max_chars=30, names=True) == [
        "Ann",
        "Bob",
        "Cy",
    ]
    assert (
        listed("split between my flatmates and me", cues, max_items=5, max_chars=30, names=True)
        == []
    )


def test_listed_limits() -> None:
    text = "habits: " + ", ".join(f"h{i}" for i in range(20)) + ", " + "x" * 50
    assert listed(text, ("habits",), max_items=3, max_chars=30) == ["H0", "H1", "H2"]
    assert listed("habits: " + "x" * 50, ("habits",), max_items=3, max_chars=30) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("split in €", "EUR"),
        ("costs in EUR", "EUR"),
        ("amounts in euros", "EUR"),
        ("$20 each", "USD"),
        ("in GBP please", "GBP"),
        ("swiss francs", "CHF"),
        ("no money words", None),
        ("a europe trip", None),
    ],
)
def test_currency(text: str, code: str | None) -> None:
    assert currency(text) == code


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("warn below 5", 5),
        ("less than 12 left", 12),
        ("reorder at 7", 7),
        ("meet at 7", None),
        ("no limit", None),
    ],
)
def test_number_after_limit_word(text: str, number: int | None) -> None:
    assert number_after_limit_word(text) == number


def test_pairs() -> None:
    text = "cards: hola = hello, gato -> cat; perro → dog\nHola = again, = nothing, x ="
    assert pairs(text, max_pairs=10, max_chars=20) == [
        ("hola", "hello"),
        ("gato", "cat"),
        ("perro", "dog"),
    ]
    assert pairs("a = b, c = d", max_pairs=1, max_chars=20) == [("a", "b")]


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ('a poll "Where to eat?" "Pizza"', "Where to eat?"),
        ("a poll asking which day works best? options: Mon, Tue", "Which day works best?"),
        ("poll?", None),
        ("a poll", None),
    ],
)
def test_question(text: str, asked: str | None) -> None:
    assert question(text) == asked


def test_context_words_skip_kind_words_and_fillers() -> None:
    assert context_words("a simple todo app for tracking my chores", KIND_WORDS) == ["chores"]
    assert context_words("a place for notes about cooking", KIND_WORDS) == ["cooking"]
    assert context_words("build me an app", KIND_WORDS) == []
