import pytest
from fastapi.testclient import TestClient

from main import app, pretty

client = TestClient(app)

CAKE = [
    {"name": "flour", "amount": 300, "unit": "g"},
    {"name": "eggs", "amount": 3},
    {"name": "milk", "amount": 0.5, "unit": "cup"},
]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (2.0, "2"),
        (0, "0"),
        (1.5, "1½"),
        (0.5, "½"),
        (0.25, "¼"),
        (2.75, "2¾"),
        (0.333, "⅓"),
        (0.667, "⅔"),
        (1.1, "1.1"),
        (0.07, "0.07"),
        (12.125, "12.12"),
    ],
)
def test_pretty(amount, text):
    assert pretty(amount) == text


def test_pretty_refuses_negative_amounts():
    with pytest.raises(ValueError, match="must not be negative"):
        pretty(-1)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_double_the_cake():
    response = client.post("/scale", json={"ingredients": CAKE, "from_servings": 4, "to_servings": 8})
    assert response.status_code == 200
    assert response.json() == {
        "factor": 2.0,
        "ingredients": [
            {"name": "flour", "amount": 600.0, "unit": "g", "display": "600 g"},
            {"name": "eggs", "amount": 6.0, "unit": "", "display": "6"},
            {"name": "milk", "amount": 1.0, "unit": "cup", "display": "1 cup"},
        ],
    }


def test_scale_down():
    body = client.post("/scale", json={"ingredients": CAKE, "from_servings": 6, "to_servings": 2}).json()
    assert body["factor"] == 0.333
    assert [i["display"] for i in body["ingredients"]] == ["100 g", "1", "0.17 cup"]


def test_same_servings():
    body = client.post("/scale", json={"ingredients": CAKE, "from_servings": 3, "to_servings": 3}).json()
    assert body["factor"] == 1.0
    assert [i["amount"] for i in body["ingredients"]] == [300.0, 3.0, 0.5]
    assert body["ingredients"][2]["display"] == "½ cup"


def test_odd_factor_rounds_to_three_decimals():
    body = client.post(
        "/scale",
        json={"ingredients": [{"name": "salt", "amount": 1, "unit": "tsp"}], "from_servings": 3, "to_servings": 2},
    ).json()
    assert body["ingredients"][0]["amount"] == 0.667
    assert body["ingredients"][0]["display"] == "⅔ tsp"


@pytest.mark.parametrize(
    "change",
    [
        {"to_servings": 0},
        {"to_servings": 1001},
        {"ingredients": []},
        {"ingredients": [{"name": "x", "amount": -1}]},
        {"ingredients": [{"name": "", "amount": 1}]},
    ],
)
def test_invalid_requests(change):
    body = {"ingredients": CAKE, "from_servings": 4, "to_servings": 8} | change
    assert client.post("/scale", json=body).status_code == 422
