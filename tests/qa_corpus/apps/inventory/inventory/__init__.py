"""Stock keeping for a small shop."""

from fastapi import FastAPI

from inventory.api import router
from inventory.service import Inventory


def create_app(inventory: Inventory | None = None) -> FastAPI:
    app = FastAPI(title="Inventory")
    app.state.inventory = inventory or Inventory()
    app.include_router(router)
    return app
