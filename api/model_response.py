"""Answer with a pydantic model the route built, serialised once.

A route that returns a model makes FastAPI dump it to Python objects, validate
those against the response model, serialise them again and encode the JSON. For a
model the route assembled from parts already validated (a stored status read back
through its schema), all but the encoding repeat work; on the status routes that
pollers hit, it was a tenth of the request. The route keeps ``response_model`` for
the OpenAPI document and returns :class:`ModelResponse`, which FastAPI sends as it
is.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


class ModelResponse(Response):
    """A JSON response holding ``model.model_dump_json()``, what FastAPI would have sent."""

    media_type = "application/json"

    def __init__(self, model: BaseModel, status_code: int = 200) -> None:
        super().__init__(model.model_dump_json().encode(), status_code=status_code)
