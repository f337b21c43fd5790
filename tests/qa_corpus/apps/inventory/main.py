"""Entry point: the inventory app lives in the ``inventory`` package."""

from inventory import create_app

app = create_app()
