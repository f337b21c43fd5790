import pytest
from fastapi.testclient import TestClient

import main
from main import parse_document

client = TestClient(main.app)

SOUP = """
title: Tomato soup
serves: 4
ingredients:
  - 1 kg tomatoes
  - 1 onion
  - 500 ml stock
steps:
  - chop
  - simmer 30 minutes
tags: [vegan, winter]
"""

TWO = """
- title: Toast
  ingredients: [bread, butter]
- title: Tea
  serves: 1
  ingredients: [tea bag, water]
  tags: [drinks]
"""


@pytest.fixture(autouse=True)
def empty():
    main.recipes.clear()


def do_import(document):
    return client.post("/import", json={"document": document})


def test_parse_one_recipe():
    (recipe,) = parse_document(SOUP)
    assert recipe["title"] == "Tomato soup"
    assert recipe["ingredients"] == ["1 kg tomatoes", "1 onion", "500 ml stock"]


def test_parse_refuses_broken_yaml():
    with pytest.raises(ValueError, match="not valid YAML: ParserError"):
        parse_document("a: [1, 2")


def test_parse_a_list():
    assert [r["title"] for r in parse_document(TWO)] == ["Toast", "Tea"]


@pytest.mark.parametrize("document", ["just text", "- 1\n- 2", "42", ""])
def test_parse_refuses_other_shapes(document):
    with pytest.raises(ValueError, match="expected a recipe or a list of recipes"):
        parse_document(document)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_import_one():
    response = do_import(SOUP)
    assert response.status_code == 200
    assert response.json() == {"imported": ["Tomato soup"], "skipped": []}
    assert client.get("/recipes/tomato soup").json() == {
        "title": "Tomato soup",
        "serves": 4,
        "ingredients": ["1 kg tomatoes", "1 onion", "500 ml stock"],
        "steps": ["chop", "simmer 30 minutes"],
        "tags": ["vegan", "winter"],
    }


def test_import_many_with_defaults():
    assert do_import(TWO).json() == {"imported": ["Toast", "Tea"], "skipped": []}
    assert client.get("/recipes/toast").json()["serves"] == 2


def test_duplicates_are_skipped():
    do_import(SOUP)
    assert do_import(SOUP).json() == {"imported": [], "skipped": ["Tomato soup"]}


def test_invalid_recipes_are_skipped():
    document = "- title: No ingredients\n- title: Fine\n  ingredients: [x]\n- serves: 3\n"
    assert do_import(document).json() == {"imported": ["Fine"], "skipped": ["No ingredients", "?"]}


def test_broken_yaml():
    response = do_import("title: [unclosed")
    assert response.status_code == 400
    assert response.json() == {"detail": "not valid YAML: ParserError"}


def test_wrong_shape():
    response = do_import("- a\n- b")
    assert response.status_code == 400
    assert response.json() == {"detail": "expected a recipe or a list of recipes"}


def test_list_sorted_and_by_tag():
    do_import(TWO)
    do_import(SOUP)
    assert [r["title"] for r in client.get("/recipes").json()] == ["Tea", "Toast", "Tomato soup"]
    assert [r["title"] for r in client.get("/recipes", params={"tag": "drinks"}).json()] == ["Tea"]


def test_missing_recipe():
    response = client.get("/recipes/nothing")
    assert response.status_code == 404
    assert response.json() == {"detail": "recipe not found"}
