"""Link preview: paste a URL in a form, see what it is made of before you share it."""

from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

app = FastAPI(title="Link preview")
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

TRACKING = ("utm_", "fbclid", "gclid", "mc_eid")


class Preview(BaseModel):
    url: str
    secure: bool
    domain: str
    site: str
    path: list[str]
    query: dict[str, str]
    tracking: list[str]
    clean_url: str
    favicon: str


def is_tracking(key: str) -> bool:
    return key.lower().startswith(TRACKING)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/", response_class=HTMLResponse)
def page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html")


@app.post("/preview", response_model=Preview)
def preview(url: Annotated[str, Form(max_length=2000)]) -> Preview:
    parts = urlsplit(url.strip())
    domain = parts.hostname.lower()
    labels = domain.split(".")
    site = ".".join(labels[-2:]) if len(labels) >= 2 else domain
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not is_tracking(k)]
    clean_query = "&".join(f"{k}={v}" if v else k for k, v in kept)
    clean = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{clean_query}" if clean_query else "")
    return Preview(
        url=url.strip(),
        secure=parts.scheme == "https",
        domain=domain,
        site=site,
        path=[p for p in parts.path.split("/") if p],
        query=dict(kept),
        tracking=[k for k, _ in pairs if is_tracking(k)],
        clean_url=clean,
        favicon=f"{parts.scheme}://{parts.netloc}/favicon.ico",
    )
