"""Feedback form: a Jinja page, a form post, answers saved by a background task."""

import json
import os
import re
from pathlib import Path
from typing import Annotated

from fastapi import BackgroundTasks, FastAPI, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

app = FastAPI(title="Feedback")
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
TOPICS = ("food", "music", "venue", "other")


class Summary(BaseModel):
    responses: int
    average_rating: float | None
    ratings: dict[str, int]
    by_topic: dict[str, int]


def answers_file() -> Path:
    return Path(os.environ.get("MICROAPP_DATA_DIR", ".")) / "feedback.jsonl"


def save_answer(answer: dict[str, object]) -> None:
    with answers_file().open("a", encoding="utf-8") as f:
        f.write(json.dumps(answer, ensure_ascii=False) + "\n")


def load_answers() -> list[dict[str, object]]:
    path = answers_file()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/", response_class=HTMLResponse)
def form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "form.html", {"topics": TOPICS, "errors": [], "values": {}}
    )


@app.post("/", response_class=HTMLResponse)
def submit(
    request: Request,
    background: BackgroundTasks,
    rating: Annotated[int, Form(ge=1, le=5)],
    topic: Annotated[str, Form()] = "other",
    comment: Annotated[str, Form(max_length=2000)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    errors = []
    email = email.strip()
    if email and not EMAIL.fullmatch(email):
        errors.append("That email address does not look right.")
    if topic not in TOPICS:
        errors.append("Please pick one of the topics.")
    if rating <= 2 and not comment.strip():
        errors.append("Sorry to hear that! Please tell us what went wrong.")
    if errors:
        values = {"rating": rating, "topic": topic, "comment": comment, "email": email}
        return templates.TemplateResponse(
            request,
            "form.html",
            {"topics": TOPICS, "errors": errors, "values": values},
            status_code=400,
        )
    answer = {"rating": rating, "topic": topic, "comment": comment.strip(), "email": email}
    background.add_task(save_answer, answer)
    return templates.TemplateResponse(
        request, "thanks.html", {"rating": rating, "follow_up": bool(email)}
    )


@app.get("/summary", response_model=Summary)
def summary() -> Summary:
    answers = load_answers()
    ratings = {str(r): 0 for r in range(1, 6)}
    by_topic = dict.fromkeys(TOPICS, 0)
    for answer in answers:
        ratings[str(answer["rating"])] += 1
        by_topic[str(answer["topic"])] += 1
    total = sum(int(str(a["rating"])) for a in answers)
    average = round(total / len(answers), 2) if answers else None
    return Summary(
        responses=len(answers), average_rating=average, ratings=ratings, by_topic=by_topic
    )
