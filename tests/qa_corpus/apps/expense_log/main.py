"""Expense log: type amounts like a pocket calculator ("12.50 + 3.20"), see totals per category."""

import re
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

app = FastAPI(title="Expense log")

SUM_ONLY = re.compile(r"[0-9.+\- ]+")
CATEGORIES = ("food", "transport", "home", "fun", "other")


class ExpenseIn(BaseModel):
    amount: str = Field(max_length=50, description='a number or a sum, e.g. "12.50 + 3.20"')
    category: str = Field(default="other", pattern="^(food|transport|home|fun|other)$")
    note: str = Field(default="", max_length=200)
    day: date


class Expense(BaseModel):
    id: int
    amount: Decimal
    category: str
    note: str
    day: date


expenses: list[Expense] = []


def evaluate(expression: str) -> Decimal:
    """The value of a sum like "12.50 + 3.20 - 1", rounded to cents."""
    expression = expression.strip()
    if not SUM_ONLY.fullmatch(expression):
        raise ValueError("only numbers, + and - are allowed")
    try:
        value = eval(expression, {"__builtins__": {}}, {})
    except SyntaxError:
        raise ValueError("that is not a sum I can read") from None
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/expenses", response_model=Expense, status_code=201)
def add_expense(data: ExpenseIn) -> Expense:
    try:
        amount = evaluate(data.amount)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if amount <= 0:
        raise HTTPException(status_code=400, detail="an expense must be more than zero")
    expense = Expense(id=len(expenses) + 1, amount=amount, category=data.category, note=data.note.strip(), day=data.day)
    expenses.append(expense)
    return expense


@app.get("/expenses", response_model=list[Expense])
def list_expenses(month: str | None = None) -> list[Expense]:
    found = [e for e in expenses if month is None or e.day.isoformat().startswith(month)]
    return sorted(found, key=lambda e: (e.day, e.id))


@app.get("/totals")
def totals(month: str | None = None) -> dict[str, str]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for expense in list_expenses(month):
        sums[expense.category] += expense.amount
    result = {c: str(sums[c].quantize(Decimal("0.01"))) for c in CATEGORIES if c in sums}
    result["total"] = str(sum(sums.values(), Decimal("0")).quantize(Decimal("0.01")))
    return result
