import pytest
from fastapi.testclient import TestClient

import main

client = TestClient(main.app)

PANCAKES = {
    "title": "Pancakes",
    "servings": 4,
    "ingredients": [
        {"name": "Flour", "quantity": 200, "unit": "g"},
        {"name": "milk", "quantity": 300, "unit": "ML"},
        {"name": "egg", "quantity": 2},
    ],
    "steps": ["mix", "fry"],
}
OMELETTE = {
    "title": "omelette",
    "servings": 1,
    "ingredients": [{"name": "egg", "quantity": 3}, {"name": "butter", "quantity": 10, "unit": "g"}],
}


@pytest.fixture(autouse=True)
def empty_box():
    main.recipes.clear()


def add(recipe):
    response = client.post("/recipes", json=recipe)
    assert response.status_code == 201, response.text
    return response.json()


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_add_normalises_ingredients():
    recipe = add(PANCAKES)
    assert recipe["id"] == 1
    assert recipe["ingredients"] == [
        {"name": "flour", "quantity": 200.0, "unit": "g"},
        {"name": "milk", "quantity": 300.0, "unit": "ml"},
        {"name": "egg", "quantity": 2.0, "unit": "piece"},
    ]
    assert recipe["steps"] == ["mix", "fry"]


def test_ids_count_up():
    assert add(PANCAKES)["id"] == 1
    assert add(OMELETTE)["id"] == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"servings": 0}, "greater than or equal to 1"),
        ({"ingredients": []}, "at least 1"),
        ({"ingredients": [{"name": "egg", "quantity": 0}]}, "greater than 0"),
        ({"ingredients": [{"name": "  ", "quantity": 1}]}, "ingredient name must not be blank"),
        ({"ingredients": [{"name": "egg", "quantity": 1, "unit": "handful"}]}, "unit must be one of"),
        (
            {"ingredients": [{"name": "Egg", "quantity": 1}, {"name": "egg ", "quantity": 2}]},
            "each ingredient may appear only once",
        ),
    ],
)
def test_invalid_recipes(change, message):
    response = client.post("/recipes", json=PANCAKES | change)
    assert response.status_code == 422
    assert message in response.text


def test_unit_error_lists_the_units():
    response = client.post(
        "/recipes", json=PANCAKES | {"ingredients": [{"name": "x", "quantity": 1, "unit": "?"}]}
    )
    assert "cup, g, kg, l, ml, piece, pinch, tbsp, tsp" in response.text


def test_get_recipe():
    recipe = add(PANCAKES)
    assert client.get("/recipes/1").json() == recipe


def test_missing_recipe():
    response = client.get("/recipes/5")
    assert response.status_code == 404
    assert response.json() == {"detail": "recipe not found"}


def test_scale_up_and_down():
    add(PANCAKES)
    double = client.get("/recipes/1", params={"servings": 8}).json()
    assert double["servings"] == 8
    assert [i["quantity"] for i in double["ingredients"]] == [400.0, 600.0, 4.0]
    third = client.get("/recipes/1", params={"servings": 3}).json()
    assert [i["quantity"] for i in third["ingredients"]] == [150.0, 225.0, 1.5]
    assert client.get("/recipes/1").json()["servings"] == 4  # the stored recipe is unchanged


def test_scale_rounds_to_two_decimals():
    add(OMELETTE | {"servings": 3})
    scaled = client.get("/recipes/1", params={"servings": 2}).json()
    assert [i["quantity"] for i in scaled["ingredients"]] == [2.0, 6.67]


def test_same_servings_is_the_recipe():
    recipe = add(PANCAKES)
    assert client.get("/recipes/1", params={"servings": 4}).json() == recipe


def test_servings_bounds():
    add(PANCAKES)
    assert client.get("/recipes/1", params={"servings": 0}).status_code == 422
    assert client.get("/recipes/1", params={"servings": 101}).status_code == 422


def test_find_by_ingredients():
    add(PANCAKES)
    add(OMELETTE)
    add({"title": "Toast", "servings": 1, "ingredients": [{"name": "bread", "quantity": 2}]})

    def titles(**params):
        return [r["title"] for r in client.get("/recipes", params=params).json()]

    assert titles() == ["omelette", "Pancakes", "Toast"]
    assert titles(ingredient="EGG") == ["omelette", "Pancakes"]
    assert titles(ingredient=["egg", "milk"]) == ["Pancakes"]
    assert titles(ingredient=["egg", "bread"]) == []
    assert titles(ingredient=" ") == ["omelette", "Pancakes", "Toast"]
    assert titles(max_ingredients=2) == ["omelette", "Toast"]
    assert titles(max_ingredients=1) == ["Toast"]
    assert titles(ingredient="egg", max_ingredients=2) == ["omelette"]


def test_shopping_list_adds_up():
    add(PANCAKES)
    add(OMELETTE)
    response = client.get("/shopping-list", params={"ids": [1, 2, 2]})
    assert response.json() == {
        "butter (g)": 20.0,
        "egg (piece)": 8.0,
        "flour (g)": 200.0,
        "milk (ml)": 300.0,
    }


def test_shopping_list_empty_and_missing():
    assert client.get("/shopping-list").json() == {}
    add(PANCAKES)
    response = client.get("/shopping-list", params={"ids": [1, 9]})
    assert response.status_code == 404
    assert response.json() == {"detail": "recipe 9 not found"}
