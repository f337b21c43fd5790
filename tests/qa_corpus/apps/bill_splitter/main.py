"""Split a restaurant bill: items, tip and service, per person."""

from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

app = FastAPI(title="Bill splitter")


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    price_cents: int = Field(ge=0, le=1_000_000)
    quantity: int = Field(default=1, ge=1, le=100)


class Bill(BaseModel):
    items: list[Item] = Field(min_length=1, max_length=100)
    people: int = Field(ge=1, le=50)
    tip_percent: float = Field(default=10, ge=0, le=50)
    service_included: bool = False


class Breakdown(BaseModel):
    subtotal_cents: int
    tip_cents: int
    total_cents: int
    per_person_cents: int
    leftover_cents: int
    most_expensive: str


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/split", response_model=Breakdown)
def split_bill(bill: Bill) -> Breakdown:
    subtotal = 0
    priciest, priciest_price = "", -1
    for item in bill.items:
        line = item.price_cents * item.quantity
        subtotal += line
        if item.price_cents > priciest_price:
            priciest, priciest_price = item.name, item.price_cents
    if bill.service_included:
        tip = 0
    else:
        tip = round(subtotal * bill.tip_percent / 100)
    total = subtotal + tip
    per_person = -(-total // bill.people)  # round up: the bill must be covered
    leftover = per_person * bill.people - total
    return Breakdown(
        subtotal_cents=subtotal,
        tip_cents=tip,
        total_cents=total,
        per_person_cents=per_person,
        leftover_cents=leftover,
        most_expensive=priciest,
    )


@app.get("/tips")
def tip_suggestions(amount_cents: int = Query(ge=0, le=10_000_000)) -> list[dict[str, int]]:
    suggestions = []
    for percent in (10, 15, 20):
        tip = round(amount_cents * percent / 100)
        suggestions.append({"percent": percent, "tip_cents": tip, "total_cents": amount_cents + tip})
    return suggestions
