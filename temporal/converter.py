"""The data converter every client and worker must use (pydantic JSON)."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter


def data_converter() -> DataConverter:
    """The project's data converter: pydantic models as JSON payloads."""
    return pydantic_data_converter
