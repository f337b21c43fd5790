"""A tiny wiki: Markdown pages with [[wiki links]], revisions kept in SQLite."""

import os
import re
import sqlite3
from pathlib import Path as FilePath
from typing import Annotated

import mistune
from fastapi import FastAPI, HTTPException, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

app = FastAPI(title="Wiki")
render_markdown = mistune.create_markdown(escape=True)

Slug = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,60}$")]
WIKI_LINK = re.compile(r"\[\[([^\[\]|]{1,60})\]\]")


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:60] or "page"


def link_wiki_words(text: str) -> str:
    return WIKI_LINK.sub(lambda m: f"[{m.group(1).strip()}](./{slugify(m.group(1))})", text)


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(FilePath(os.environ.get("MICROAPP_DATA_DIR", ".")) / "wiki.db")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS revisions ("
        "id INTEGER PRIMARY KEY, slug TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL)"
    )
    return conn


class PageIn(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(max_length=50_000)


class Page(BaseModel):
    slug: str
    title: str
    body: str
    html: str
    revision: int
    links_to: list[str]


def load(slug: str) -> Page:
    with connect() as conn:
        rows = conn.execute(
            "SELECT title, body FROM revisions WHERE slug = ? ORDER BY id", (slug,)
        ).fetchall()
    if not rows:
        raise HTTPException(status_code=404, detail=f"no page called {slug}")
    title, body = rows[-1]
    links = sorted({slugify(m.group(1)) for m in WIKI_LINK.finditer(body)})
    return Page(
        slug=slug,
        title=title,
        body=body,
        html=render_markdown(link_wiki_words(body)),
        revision=len(rows),
        links_to=links,
    )


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.put("/pages/{slug}", response_model=Page)
def save_page(slug: Slug, page: PageIn) -> Page:
    with connect() as conn:
        conn.execute(
            "INSERT INTO revisions (slug, title, body) VALUES (?, ?, ?)",
            (slug, page.title.strip() or slug, page.body),
        )
    return load(slug)


@app.get("/pages", response_model=list[str])
def all_pages() -> list[str]:
    with connect() as conn:
        return [row[0] for row in conn.execute("SELECT DISTINCT slug FROM revisions ORDER BY slug")]


@app.get("/pages/{slug}", response_model=Page)
def read_page(slug: Slug) -> Page:
    return load(slug)


@app.get("/pages/{slug}/backlinks", response_model=list[str])
def backlinks(slug: Slug) -> list[str]:
    return [other for other in all_pages() if other != slug and slug in load(other).links_to]


@app.get("/view/{slug}", response_class=HTMLResponse)
def view(slug: Slug) -> str:
    page = load(slug)
    title = mistune.escape(page.title)
    return f"<!doctype html><title>{title}</title><h1>{title}</h1>{page.html}"
