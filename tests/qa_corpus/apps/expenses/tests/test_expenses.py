from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from main import Transfer, app, settle, shares

client = TestClient(app)
D = Decimal


def transfers(result):
    return [(t["from"], t["to"], t["amount"]) for t in result["transfers"]]


@pytest.mark.parametrize(
    ("amount", "people", "expected"),
    [
        ("10.00", 2, ["5.00", "5.00"]),
        ("10.00", 3, ["3.34", "3.33", "3.33"]),
        ("0.05", 3, ["0.02", "0.02", "0.01"]),
        ("7.00", 1, ["7.00"]),
        ("0.01", 2, ["0.01", "0.00"]),
    ],
)
def test_shares_add_up_to_the_amount(amount, people, expected):
    result = shares(D(amount), people)
    assert result == [D(e) for e in expected]
    assert sum(result) == D(amount)


def test_shares_round_to_cents():
    assert shares(D("0.015"), 1) == [D("0.02")]


@pytest.mark.parametrize("people", [0, -1, 51])
def test_shares_need_a_sensible_number_of_people(people):
    with pytest.raises(ValueError, match="between 1 and 50"):
        shares(D("1"), people)


@pytest.mark.parametrize("amount", ["-0.01", "1000000.01"])
def test_shares_refuse_odd_amounts(amount):
    with pytest.raises(ValueError, match="amount must be between 0 and 1000000"):
        shares(D(amount), 2)


def test_shares_of_the_largest_amount():
    assert shares(D("1000000"), 2) == [D("500000.00"), D("500000.00")]


def test_settle_simple_debt():
    assert settle({"ann": D("10"), "bob": D("-10")}) == [
        Transfer(sender="bob", to="ann", amount=D("10"))
    ]


def test_settle_biggest_first():
    balances = {"ann": D("30"), "bob": D("-5"), "cy": D("-25"), "dee": D("0")}
    assert settle(balances) == [
        Transfer(sender="cy", to="ann", amount=D("25")),
        Transfer(sender="bob", to="ann", amount=D("5")),
    ]


def test_settle_splits_a_debt_between_creditors():
    balances = {"ann": D("6"), "bob": D("4"), "cy": D("-10")}
    assert settle(balances) == [
        Transfer(sender="cy", to="ann", amount=D("6")),
        Transfer(sender="cy", to="bob", amount=D("4")),
    ]


def test_settle_nothing_to_do():
    assert settle({"ann": D("0"), "bob": D("0")}) == []
    assert settle({}) == []


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_weekend_trip():
    trip = {
        "people": ["Ann", "Bob", "Cy"],
        "expenses": [
            {"description": "cabin", "paid_by": "Ann", "amount": "300.00"},
            {"description": "food", "paid_by": "Bob", "amount": "90.00"},
            {"description": "wine", "paid_by": "Cy", "amount": "20.00", "shared_by": ["Ann", "Cy"]},
        ],
    }
    response = client.post("/settle", json=trip)
    assert response.status_code == 200
    result = response.json()
    assert result["total"] == "410.00"
    assert result["balances"] == {"Ann": "160.00", "Bob": "-40.00", "Cy": "-120.00"}
    assert transfers(result) == [("Cy", "Ann", "120.00"), ("Bob", "Ann", "40.00")]


def test_uneven_cents():
    trip = {"people": ["a", "b", "c"], "expenses": [{"paid_by": "a", "amount": "10.00"}]}
    result = client.post("/settle", json=trip).json()
    assert result["balances"] == {"a": "6.66", "b": "-3.33", "c": "-3.33"}
    assert transfers(result) == [("c", "a", "3.33"), ("b", "a", "3.33")]


def test_no_expenses():
    result = client.post("/settle", json={"people": ["solo"]}).json()
    assert result == {"total": "0.00", "balances": {"solo": "0.00"}, "transfers": []}


def test_names_are_trimmed():
    trip = {"people": [" Ann ", "Bob"], "expenses": [{"paid_by": "Ann ", "amount": "4.00"}]}
    result = client.post("/settle", json=trip).json()
    assert result["balances"] == {"Ann": "2.00", "Bob": "-2.00"}


@pytest.mark.parametrize(
    ("trip", "message"),
    [
        ({"people": []}, "at least 1"),
        ({"people": ["a", "a"]}, "names must be distinct"),
        ({"people": ["a", " "]}, "names must not be blank"),
        ({"people": ["a"], "expenses": [{"paid_by": "z", "amount": "1"}]}, "'z' is not on this trip"),
        (
            {"people": ["a"], "expenses": [{"paid_by": "a", "amount": "1", "shared_by": ["q"]}]},
            "'q' is not on this trip",
        ),
        (
            {"people": ["a"], "expenses": [{"paid_by": "a", "amount": "1", "shared_by": []}]},
            "must be shared by someone",
        ),
        ({"people": ["a"], "expenses": [{"paid_by": "a", "amount": "0"}]}, "greater than 0"),
        ({"people": ["a"], "expenses": [{"paid_by": "a", "amount": "1.001"}]}, "decimal places"),
    ],
)
def test_invalid_trips(trip, message):
    response = client.post("/settle", json=trip)
    assert response.status_code == 422
    assert message in response.text
