"""Guestbook: signed messages, newest first, paginated, with a link-spam guard and hearts."""

from activities.generation.blueprints.scaffold import Blueprint

BLUEPRINT = Blueprint(
    kind="guestbook",
    label="Guestbook",
    summary="A guestbook: visitors sign with a message; newest first, with hearts.",
    keywords={
        "guestbook": 3,
        "guest book": 3,
        "visitor book": 3,
        "sign in book": 2,
        "leave a message": 2,
        "well wish": 2,
        "message wall": 2,
        "shoutbox": 2,
        "condolence": 2,
        "visitor": 1,
        "greeting": 1,
        "wall": 1,
    },
    imports=("import re", "from fastapi import Query"),
)
