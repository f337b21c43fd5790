"""A guestbook: a Jinja page with a form, entries kept in SQLite."""

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

app = FastAPI(title="Guestbook")
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

PAGE_SIZE = 20


def connect() -> sqlite3.Connection:
    data_dir = Path(os.environ.get("MICROAPP_DATA_DIR", "data"))
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "guestbook.db")
    conn.row_factory = sqlite3.Row
    conn.execute(
        "CREATE TABLE IF NOT EXISTS entries ("
        "id INTEGER PRIMARY KEY, name TEXT NOT NULL, message TEXT NOT NULL, signed_at TEXT NOT NULL)"
    )
    return conn


def latest_entries(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT name, message, signed_at FROM entries ORDER BY id DESC LIMIT ?", (PAGE_SIZE,)
    ).fetchall()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    with connect() as conn:
        entries = latest_entries(conn)
        count = conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    return templates.TemplateResponse(
        request, "index.html", {"entries": entries, "count": count, "error": None, "form": {}}
    )


@app.post("/sign", response_class=HTMLResponse)
def sign(
    request: Request,
    name: Annotated[str, Form(max_length=60)] = "",
    message: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    name, message = name.strip(), message.strip()
    error = None
    if not name:
        error = "Please tell us your name."
    elif not message:
        error = "Please write a message."
    with connect() as conn:
        if error:
            return templates.TemplateResponse(
                request,
                "index.html",
                {
                    "entries": latest_entries(conn),
                    "count": conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
                    "error": error,
                    "form": {"name": name, "message": message},
                },
                status_code=400,
            )
        conn.execute(
            "INSERT INTO entries (name, message, signed_at) VALUES (?, ?, ?)",
            (name, message, datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        )
    return RedirectResponse("./", status_code=303)


@app.get("/entries")
def entries_json() -> list[dict[str, str]]:
    with connect() as conn:
        return [dict(row) for row in latest_entries(conn)]
