"""URL shortener: short codes for long links, redirects, hit counts."""

import re
import string
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="Shortener")

ALPHABET = string.digits + string.ascii_letters
CUSTOM_CODE = re.compile(r"[A-Za-z0-9_-]{3,32}")
FIRST_CODE = 10_000  # codes start at three characters
RESERVED = {"health", "links", "docs", "openapi.json", "redoc"}


def encode(number: int) -> str:
    """Base-62 code of a non-negative number (0 -> "0")."""
    if number < 0:
        raise ValueError("number must not be negative")
    digits = []
    while True:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
        if number == 0:
            break
    return "".join(reversed(digits))


class LinkIn(BaseModel):
    url: str = Field(max_length=2048)
    code: str | None = None

    @field_validator("url")
    @classmethod
    def check_url(cls, url: str) -> str:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("only http and https links can be shortened")
        return url

    @field_validator("code")
    @classmethod
    def check_code(cls, code: str | None) -> str | None:
        if code is None:
            return None
        if not CUSTOM_CODE.fullmatch(code):
            raise ValueError("code must be 3-32 letters, digits, '-' or '_'")
        if code.lower() in RESERVED:
            raise ValueError("this code is reserved")
        return code


class Link(BaseModel):
    code: str
    url: str
    hits: int = 0


links: dict[str, Link] = {}
created = 0


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/links", response_model=Link, status_code=201)
def shorten(data: LinkIn) -> Link:
    global created
    if data.code is not None:
        if data.code in links:
            raise HTTPException(status_code=409, detail="code already taken")
        code = data.code
    else:
        # reuse the code of a link we already shortened
        for link in links.values():
            if link.url == data.url:
                return link
        code = encode(FIRST_CODE + created)
        while code in links:  # a custom code may have taken it
            created += 1
            code = encode(FIRST_CODE + created)
        created += 1
    links[code] = Link(code=code, url=data.url)
    return links[code]


@app.get("/links", response_model=list[Link])
def all_links() -> list[Link]:
    return sorted(links.values(), key=lambda link: (-link.hits, link.code))


@app.get("/links/{code}", response_model=Link)
def link_stats(code: str) -> Link:
    if code not in links:
        raise HTTPException(status_code=404, detail="unknown code")
    return links[code]


@app.delete("/links/{code}", status_code=204)
def delete_link(code: str) -> None:
    if links.pop(code, None) is None:
        raise HTTPException(status_code=404, detail="unknown code")


@app.get("/{code}")
def follow(code: str) -> RedirectResponse:
    link = links.get(code)
    if link is None:
        raise HTTPException(status_code=404, detail="unknown code")
    link.hits += 1
    return RedirectResponse(link.url, status_code=307)
