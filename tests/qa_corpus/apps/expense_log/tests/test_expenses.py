from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

import main
from main import evaluate

client = TestClient(main.app)


@pytest.fixture(autouse=True)
def empty():
    main.expenses.clear()


def add(amount, category="food", day="2030-03-14", note=""):
    return client.post("/expenses", json={"amount": amount, "category": category, "day": day, "note": note})


@pytest.mark.parametrize(
    ("expression", "value"),
    [("12.50", "12.50"), ("12.5 + 3.2", "15.70"), ("10 - 2.25", "7.75"), (" 1+1+1 ", "3.00"), ("0.005", "0.01")],
)
def test_evaluate(expression, value):
    assert evaluate(expression) == Decimal(value)


@pytest.mark.parametrize("expression", ["2*3", "__import__('os')", "1/0", "abc", ""])
def test_evaluate_allows_only_sums(expression):
    with pytest.raises(ValueError, match="only numbers, \\+ and - are allowed"):
        evaluate(expression)


@pytest.mark.parametrize("expression", ["1..2", "+", "5 -", "01"])
def test_evaluate_unreadable_sums(expression):
    with pytest.raises(ValueError, match="not a sum I can read"):
        evaluate(expression)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_add_expense():
    response = add("4.50 + 2.30", "food", note=" lunch ")
    assert response.status_code == 201
    assert response.json() == {"id": 1, "amount": "6.80", "category": "food", "note": "lunch", "day": "2030-03-14"}


def test_refused_amounts():
    for amount, detail in [
        ("2*3", "only numbers, + and - are allowed"),
        ("1..2", "that is not a sum I can read"),
        ("0", "an expense must be more than zero"),
        ("5 - 10", "an expense must be more than zero"),
    ]:
        response = add(amount)
        assert response.status_code == 400
        assert response.json() == {"detail": detail}
    assert client.get("/expenses").json() == []


def test_invalid_fields():
    assert add("1", category="crypto").status_code == 422
    assert add("1", day="yesterday").status_code == 422
    assert add("1" * 51).status_code == 422


def test_list_by_day_and_month():
    add("1", day="2030-03-20")
    add("2", day="2030-02-01")
    add("3", day="2030-03-01")
    assert [e["amount"] for e in client.get("/expenses").json()] == ["2.00", "3.00", "1.00"]
    march = client.get("/expenses", params={"month": "2030-03"}).json()
    assert [e["amount"] for e in march] == ["3.00", "1.00"]


def test_totals():
    add("10 + 2.5", "food")
    add("3.20", "transport")
    add("7.30", "food", day="2030-04-01")
    assert client.get("/totals").json() == {"food": "19.80", "transport": "3.20", "total": "23.00"}
    assert client.get("/totals", params={"month": "2030-04"}).json() == {"food": "7.30", "total": "7.30"}


def test_totals_empty():
    assert client.get("/totals").json() == {"total": "0.00"}
