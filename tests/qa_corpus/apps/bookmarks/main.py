"""Bookmarks with tags: async handlers, validation in the pydantic models."""

import asyncio
from collections import Counter
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="Bookmarks")


class BookmarkIn(BaseModel):
    url: str = Field(max_length=2000)
    title: str = Field(default="", max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("url")
    @classmethod
    def http_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an absolute http(s) URL")
        return value

    @field_validator("tags")
    @classmethod
    def clean_tags(cls, tags: list[str]) -> list[str]:
        cleaned: list[str] = []
        for tag in tags:
            tag = tag.strip().lower()
            if tag and tag not in cleaned:
                cleaned.append(tag)
        return cleaned


class Bookmark(BookmarkIn):
    id: int


class TagCount(BaseModel):
    tag: str
    count: int


bookmarks: dict[int, Bookmark] = {}
counter = 0
lock = asyncio.Lock()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/bookmarks", response_model=Bookmark, status_code=201)
async def add_bookmark(data: BookmarkIn) -> Bookmark:
    global counter
    async with lock:
        for existing in bookmarks.values():
            if existing.url == data.url:
                raise HTTPException(status_code=409, detail="already bookmarked")
        counter += 1
        title = data.title.strip() or urlsplit(data.url).hostname or data.url
        bookmark = Bookmark(id=counter, url=data.url, title=title, tags=data.tags)
        bookmarks[counter] = bookmark
    return bookmark


@app.get("/bookmarks", response_model=list[Bookmark])
async def list_bookmarks(
    tag: str | None = None, q: str | None = None, limit: int = Query(default=50, ge=1, le=500)
) -> list[Bookmark]:
    found = list(bookmarks.values())
    if tag:
        found = [b for b in found if tag.strip().lower() in b.tags]
    if q:
        text = q.lower()
        found = [b for b in found if text in b.title.lower() or text in b.url.lower()]
    return found[:limit]


@app.get("/bookmarks/{bookmark_id}", response_model=Bookmark)
async def get_bookmark(bookmark_id: int) -> Bookmark:
    if bookmark_id not in bookmarks:
        raise HTTPException(status_code=404, detail="no such bookmark")
    return bookmarks[bookmark_id]


@app.delete("/bookmarks/{bookmark_id}", status_code=204)
async def delete_bookmark(bookmark_id: int) -> None:
    async with lock:
        if bookmarks.pop(bookmark_id, None) is None:
            raise HTTPException(status_code=404, detail="no such bookmark")


@app.get("/tags", response_model=list[TagCount])
async def tags() -> list[TagCount]:
    counts = Counter(tag for b in bookmarks.values() for tag in b.tags)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [TagCount(tag=tag, count=n) for tag, n in ordered]
