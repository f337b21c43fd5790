"""Todo list stored in SQLite, one connection per request through a dependency."""

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Response
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="Todo")

MAX_ID = 2**63 - 1  # SQLite INTEGER
TodoId = Annotated[int, Path(ge=1, le=MAX_ID)]


def database_file() -> FilePath:
    return FilePath(os.environ.get("MICROAPP_DATA_DIR", ".")) / "todos.sqlite3"


def get_db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(database_file())
    conn.row_factory = sqlite3.Row
    conn.execute(
        "CREATE TABLE IF NOT EXISTS todos ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " title TEXT NOT NULL,"
        " done INTEGER NOT NULL DEFAULT 0,"
        " priority INTEGER NOT NULL DEFAULT 2)"
    )
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


Db = Annotated[sqlite3.Connection, Depends(get_db)]


class TodoCreate(BaseModel):
    title: str = Field(max_length=200)
    priority: int = Field(default=2, ge=1, le=3, description="1 = high, 3 = low")

    @field_validator("title")
    @classmethod
    def title_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("title must not be blank")
        return value


class TodoUpdate(BaseModel):
    title: str | None = Field(default=None, max_length=200)
    done: bool | None = None
    priority: int | None = Field(default=None, ge=1, le=3)

    @field_validator("title")
    @classmethod
    def title_not_blank(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
            if not value:
                raise ValueError("title must not be blank")
        return value


class Todo(BaseModel):
    id: int
    title: str
    done: bool
    priority: int


class Stats(BaseModel):
    total: int
    done: int
    open: int


def row_to_todo(row: sqlite3.Row) -> Todo:
    return Todo(id=row["id"], title=row["title"], done=bool(row["done"]), priority=row["priority"])


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/todos", response_model=Todo, status_code=201)
def create_todo(todo: TodoCreate, db: Db) -> Todo:
    cursor = db.execute(
        "INSERT INTO todos (title, priority) VALUES (?, ?)", (todo.title, todo.priority)
    )
    return Todo(id=cursor.lastrowid, title=todo.title, done=False, priority=todo.priority)


@app.get("/todos", response_model=list[Todo])
def list_todos(db: Db, done: bool | None = None) -> list[Todo]:
    query = "SELECT * FROM todos"
    params: tuple[int, ...] = ()
    if done is not None:
        query += " WHERE done = ?"
        params = (int(done),)
    rows = db.execute(query + " ORDER BY priority, id", params).fetchall()
    return [row_to_todo(r) for r in rows]


@app.get("/todos/stats", response_model=Stats)
def todo_stats(db: Db) -> Stats:
    total, done = db.execute("SELECT COUNT(*), COALESCE(SUM(done), 0) FROM todos").fetchone()
    return Stats(total=total, done=done, open=total - done)


@app.get("/todos/{todo_id}", response_model=Todo)
def get_todo(todo_id: TodoId, db: Db) -> Todo:
    row = db.execute("SELECT * FROM todos WHERE id = ?", (todo_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="todo not found")
    return row_to_todo(row)


@app.patch("/todos/{todo_id}", response_model=Todo)
def update_todo(todo_id: TodoId, changes: TodoUpdate, db: Db) -> Todo:
    row = db.execute("SELECT * FROM todos WHERE id = ?", (todo_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="todo not found")
    current = row_to_todo(row)
    updated = current.model_copy(update=changes.model_dump(exclude_none=True))
    db.execute(
        "UPDATE todos SET title = ?, done = ?, priority = ? WHERE id = ?",
        (updated.title, int(updated.done), updated.priority, todo_id),
    )
    return updated


@app.delete("/todos/{todo_id}", status_code=204)
def delete_todo(todo_id: TodoId, db: Db) -> Response:
    cursor = db.execute("DELETE FROM todos WHERE id = ?", (todo_id,))
    if cursor.rowcount == 0:
        raise HTTPException(status_code=404, detail="todo not found")
    return Response(status_code=204)


@app.delete("/todos", response_model=Stats)
def clear_done(db: Db) -> Stats:
    """Remove the finished todos; answers with what is left."""
    db.execute("DELETE FROM todos WHERE done = 1")
    return todo_stats(db)
