"""Assembling a bundle: the shared scaffolding around one kind's templates.

A generated ``main.py`` is ``common.head`` (imports, settings, errors, the
SQLite store, text validation), then the kind's ``<kind>.main`` section
(schema, behaviour as plain functions, thin routes), then ``common.tail``
(page shell, ``/health``, ``/``, error handler, ``create_app``). The tests
are the shared ``conftest.py`` and ``test_app.py`` plus ``test_<kind>.py``.

Templates are files under ``templates/`` named ``*.tmpl`` (so no linter or
test runner mistakes them for code). ``{{name}}`` placeholders are filled
with text this module produces; values that come from the prompt only ever
enter generated code as Python literals made by :func:`py_literal`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from activities.generation.blueprints.prompt import stems
from activities.python_ast import literal_eval
from activities.python_ast import parse as parse_python
from schemas.bundle import AppBundle
from store.bundles import make_bundle

PyValue = str | int | bool | None | tuple["PyValue", ...] | list["PyValue"]

REQUIREMENTS = "fastapi>=0.115\n"
COMMON_IMPORTS = (
    "import html",
    "import os",
    "import sqlite3",
    "import threading",
    "from collections.abc import Sequence",
    "from datetime import date",
    "from typing import Annotated, Any",
    "from fastapi import APIRouter, Depends, FastAPI, Path, Request",
    "from fastapi.exceptions import RequestValidationError",
    "from fastapi.responses import HTMLResponse, JSONResponse",
    "from pydantic import BaseModel, Field",
)
_THIRD_PARTY = frozenset({"fastapi", "pydantic"})
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Brief:
    """What a blueprint may use from the prompt: the text, the app's title and naming words."""

    prompt: str
    title: str
    context: tuple[str, ...]


Settings = Mapping[str, PyValue]


def _no_settings(brief: Brief) -> Settings:
    del brief
    return {}


@dataclass(frozen=True)
class Blueprint:
    """One kind of app: how to recognise it in a prompt and what it is made of.

    Attributes:
        kind: short identifier, also the template prefix (``<kind>.main.py.tmpl``).
        label: noun appended to the title ("Climbing Team" + "Todo").
        summary: first line of the generated module docstring.
        keywords: stemmed phrase -> weight; the kind with the highest total wins.
        imports: import lines the kind's section needs beyond :data:`COMMON_IMPORTS`.
        seeded: whether the kind defines ``seed(store)``, called at the end of ``Store.__init__``.
        settings: the kind's module constants, read from the prompt.
    """

    kind: str
    label: str
    summary: str
    keywords: Mapping[str, int]
    imports: tuple[str, ...] = ()
    seeded: bool = False
    settings: Callable[[Brief], Settings] = _no_settings

    def score(self, words: tuple[str, ...]) -> int:
        """Sum of the weights of the keyword phrases found in ``words`` (stemmed)."""
        padded = " " + " ".join(words) + " "
        return sum(
            weight
            for phrase, weight in self.keywords.items()
            if " " + " ".join(stems_of(phrase)) + " " in padded
        )

    def bundle(self, brief: Brief) -> AppBundle:
        """The complete bundle for ``brief``."""
        return make_bundle(self.files(brief))

    def files(self, brief: Brief) -> dict[str, str]:
        """Path -> content of every file of the app."""
        head = render(
            "common.head",
            summary=self.summary,
            imports=_import_block(COMMON_IMPORTS + self.imports),
            title=py_literal(brief.title),
            settings=_settings_block(self.settings(brief)),
            store_init="        seed(self)\n" if self.seeded else "",
        )
        sections = (head, render(f"{self.kind}.main"), render("common.tail"))
        main = "\n\n\n".join(section.strip("\n") for section in sections) + "\n"
        files = {
            "main.py": main,
            "requirements.txt": REQUIREMENTS,
            "microapp.toml": f'name = {toml_string(brief.title)}\nhealth_path = "/health"\n',
            "tests/conftest.py": render("common.conftest"),
            "tests/test_app.py": render("common.test_app"),
            f"tests/test_{self.kind}.py": render(f"{self.kind}.tests"),
        }
        for path, content in files.items():
            if path.endswith(".py"):
                parse_python(content, filename=path)  # a template bug must fail here, not in QA
        return files


@cache
def stems_of(phrase: str) -> tuple[str, ...]:
    """Stemmed words of a keyword phrase (cached: keywords are constants)."""
    return stems(phrase)


@cache
def template(name: str) -> str:
    """The text of ``templates/<name>.py.tmpl``."""
    return (resources.files(__package__) / "templates" / f"{name}.py.tmpl").read_text("utf-8")


def render(name: str, **values: str) -> str:
    """Template ``name`` with its ``{{placeholders}}`` filled; every value must be used."""
    text = template(name)
    used: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        used.add(match.group(1))
        return values[match.group(1)]

    result = _PLACEHOLDER.sub(fill, text)
    if used != set(values):
        raise KeyError(f"template {name} does not use {sorted(set(values) - used)}")
    return result


def py_literal(value: PyValue) -> str:
    """``value`` as Python source that evaluates back to it (the only way data enters code).

    Strings are written with double quotes where that needs no escaping, like
    the formatter would; the result is checked by evaluating it back.
    """
    source = _literal(value)
    parsed = literal_eval(source)
    if type(parsed) is not type(value) or parsed != value:
        raise ValueError(f"cannot embed {type(value).__name__} as a literal")
    return source


def _literal(value: PyValue) -> str:
    if isinstance(value, tuple | list):
        items = [_literal(item) for item in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    source = repr(value)
    if isinstance(value, str) and source.startswith("'") and '"' not in value:
        return '"' + source[1:-1] + '"'
    return source


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    escaped = json.dumps(value, ensure_ascii=False)
    return re.sub(r"[\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped)


def _settings_block(settings: Settings) -> str:
    lines = []
    for name, value in settings.items():
        if not _CONSTANT_NAME.match(name):
            raise ValueError(f"setting name {name!r} is not an UPPER_CASE constant")
        lines.append(f"{name} = {py_literal(value)}")
    return "".join(line + "\n" for line in lines)


def _import_block(lines: tuple[str, ...]) -> str:
    """Import lines merged per module and grouped like isort: standard library, then the rest."""
    plain = {line for line in lines if line.startswith("import ")}
    names: dict[str, set[str]] = {}
    for line in lines:
        if line.startswith("from "):
            module, imported = line[len("from ") :].split(" import ")
            names.setdefault(module, set()).update(n.strip() for n in imported.split(","))
    merged = {f"from {m} import {', '.join(sorted(n, key=_name_key))}" for m, n in names.items()}
    third_party = {line for line in merged if line.split()[1].split(".")[0] in _THIRD_PARTY}
    stdlib = sorted(plain | (merged - third_party), key=_import_key)
    return "\n".join(stdlib) + "\n\n" + "\n".join(sorted(third_party, key=_import_key))


def _import_key(line: str) -> tuple[bool, str]:
    return (line.startswith("from "), line.split()[1])


def _name_key(name: str) -> tuple[bool, bool, str]:
    """isort's order of imported names: CONSTANTS, then Classes, then functions."""
    return (not name.isupper(), not name[:1].isupper(), name)
