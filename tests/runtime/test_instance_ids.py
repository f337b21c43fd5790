"""Instance ids name their app, version and generation, and can be read back."""

from __future__ import annotations

import pytest

from runtime.base import app_and_version_of, generation_of, instance_id_for


@pytest.mark.parametrize(
    ("app_id", "version", "generation"),
    [
        ("todo", 1, 0),
        ("todo", 12, 3),
        ("my-v2-app", 7, 0),  # "-v" inside the app id
        ("team-r9", 2, 0),  # "-r" inside the app id, first generation
        ("team-r9-v3", 4, 11),
    ],
)
def test_an_instance_id_gives_back_its_app_version_and_generation(
    app_id: str, version: int, generation: int
) -> None:
    instance_id = instance_id_for(app_id, version, generation)
    assert app_and_version_of(instance_id) == (app_id, version)
    assert generation_of(instance_id) == generation


@pytest.mark.parametrize("not_an_instance", ["todo", "todo-vx", "-v1", "todo-v", ""])
def test_a_name_that_is_no_instance_id_gives_nothing(not_an_instance: str) -> None:
    assert app_and_version_of(not_an_instance) is None
