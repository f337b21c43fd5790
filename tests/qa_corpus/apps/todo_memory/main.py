"""A simple todo API kept in memory."""

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

app = FastAPI(title="Todos")


class TodoIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    due: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class Todo(BaseModel):
    id: int
    title: str
    due: str | None
    done: bool = False


todos: list[Todo] = []


def find(todo_id: int) -> Todo:
    for todo in todos:
        if todo.id == todo_id:
            return todo
    raise HTTPException(status_code=404, detail="Todo not found")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/todos", response_model=list[Todo])
def list_todos(show_done: bool = True) -> list[Todo]:
    if show_done:
        return todos
    return [t for t in todos if not t.done]


@app.post("/todos", response_model=Todo, status_code=201)
def add_todo(data: TodoIn) -> Todo:
    todo = Todo(id=len(todos) + 1, title=data.title.strip(), due=data.due)
    todos.append(todo)
    return todo


@app.get("/todos/{todo_id}", response_model=Todo)
def get_todo(todo_id: int) -> Todo:
    return find(todo_id)


@app.post("/todos/{todo_id}/done", response_model=Todo)
def complete(todo_id: int) -> Todo:
    todo = find(todo_id)
    if todo.done:
        raise HTTPException(status_code=409, detail="Todo already done")
    todo.done = True
    return todo


@app.get("/todos-due", response_model=list[Todo])
def due_soonest() -> list[Todo]:
    """Open todos with a due date, soonest first."""
    open_with_date = [t for t in todos if t.due and not t.done]
    return sorted(open_with_date, key=lambda t: t.due or "")
