"""Todo list: tasks with a priority and a due date, open/done filters, an overdue count."""

from activities.generation.blueprints.scaffold import Blueprint

BLUEPRINT = Blueprint(
    kind="todo",
    label="Todo",
    summary="A todo list: tasks with a priority and a due date, open or done.",
    keywords={
        "todo": 3,
        "to do": 2,
        "task": 2,
        "checklist": 3,
        "chore": 2,
        "errand": 2,
        "backlog": 2,
        "things to do": 2,
        "reminder": 1,
        "deadline": 1,
    },
    imports=("import json", "from datetime import date"),
)
