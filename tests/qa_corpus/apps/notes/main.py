"""Notes: a small notes service (the example from the issue, logic in the handlers)."""

from datetime import UTC, datetime

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

app = FastAPI(title="Notes")


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=10_000)
    pinned: bool = False


class Note(NoteIn):
    id: int
    created_at: datetime


notes: dict[int, Note] = {}
next_id = 1


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/notes", response_model=Note, status_code=201)
def create_note(payload: NoteIn) -> Note:
    global next_id
    note = Note(id=next_id, created_at=datetime.now(UTC), **payload.model_dump())
    notes[note.id] = note
    next_id += 1
    return note


@app.get("/notes", response_model=list[Note])
def list_notes(q: str | None = None) -> list[Note]:
    result = list(notes.values())
    if q:
        needle = q.lower()
        result = [n for n in result if needle in n.title.lower() or needle in n.body.lower()]
    # pinned notes first, then the newest
    return sorted(result, key=lambda n: (not n.pinned, -n.id))


@app.get("/notes/{note_id}", response_model=Note)
def get_note(note_id: int) -> Note:
    note = notes.get(note_id)
    if note is None:
        raise HTTPException(status_code=404, detail="Note not found")
    return note


@app.put("/notes/{note_id}", response_model=Note)
def update_note(note_id: int, payload: NoteIn) -> Note:
    if note_id not in notes:
        raise HTTPException(status_code=404, detail="Note not found")
    note = notes[note_id].model_copy(update=payload.model_dump())
    notes[note_id] = note
    return note


@app.delete("/notes/{note_id}", status_code=204)
def delete_note(note_id: int) -> None:
    if notes.pop(note_id, None) is None:
        raise HTTPException(status_code=404, detail="Note not found")
