"""Split shared expenses of a trip and say who pays whom."""

from decimal import ROUND_HALF_UP, Decimal

from fastapi import FastAPI
from pydantic import BaseModel, Field, field_validator, model_validator

app = FastAPI(title="Expense splitter")

CENT = Decimal("0.01")
MAX_PEOPLE = 50
MAX_AMOUNT = 1_000_000


class Expense(BaseModel):
    description: str = Field(default="", max_length=100)
    paid_by: str
    amount: Decimal = Field(gt=0, le=MAX_AMOUNT, decimal_places=2)
    shared_by: list[str] | None = Field(
        default=None, description="who shares it; everybody when omitted"
    )


class Trip(BaseModel):
    people: list[str] = Field(min_length=1, max_length=MAX_PEOPLE)
    expenses: list[Expense] = Field(default_factory=list, max_length=500)

    @field_validator("people")
    @classmethod
    def distinct_names(cls, people: list[str]) -> list[str]:
        names = [p.strip() for p in people]
        if any(not n for n in names):
            raise ValueError("names must not be blank")
        if len(set(names)) != len(names):
            raise ValueError("names must be distinct")
        return names

    @model_validator(mode="after")
    def known_people(self) -> "Trip":
        known = set(self.people)
        for expense in self.expenses:
            expense.paid_by = expense.paid_by.strip()
            if expense.paid_by not in known:
                raise ValueError(f"{expense.paid_by!r} is not on this trip")
            if expense.shared_by is not None:
                expense.shared_by = [p.strip() for p in expense.shared_by]
                if not expense.shared_by:
                    raise ValueError("an expense must be shared by someone")
                unknown = [p for p in expense.shared_by if p not in known]
                if unknown:
                    raise ValueError(f"{unknown[0]!r} is not on this trip")
        return self


class Transfer(BaseModel):
    sender: str = Field(serialization_alias="from")
    to: str
    amount: Decimal


class Settlement(BaseModel):
    total: Decimal
    balances: dict[str, Decimal]
    transfers: list[Transfer]


def shares(amount: Decimal, people: int) -> list[Decimal]:
    """Split ``amount`` into ``people`` shares in cents; the first ones absorb the odd cents."""
    if not 1 <= people <= MAX_PEOPLE:
        raise ValueError(f"people must be between 1 and {MAX_PEOPLE}")
    if not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"amount must be between 0 and {MAX_AMOUNT}")
    cents = int((amount / CENT).to_integral_value(rounding=ROUND_HALF_UP))
    base, extra = divmod(cents, people)
    return [(base + (1 if i < extra else 0)) * CENT for i in range(people)]


def settle(balances: dict[str, Decimal]) -> list[Transfer]:
    """Few transfers that bring every balance to zero: the biggest debtor pays the biggest creditor."""
    debts = {person: -b for person, b in balances.items() if b < 0}
    credits = {person: b for person, b in balances.items() if b > 0}
    transfers: list[Transfer] = []
    while debts and credits:
        debtor = max(debts, key=lambda p: (debts[p], p))
        creditor = max(credits, key=lambda p: (credits[p], p))
        paid = min(debts[debtor], credits[creditor])
        transfers.append(Transfer(sender=debtor, to=creditor, amount=paid))
        debts[debtor] -= paid
        credits[creditor] -= paid
        if debts[debtor] == 0:
            del debts[debtor]
        if credits[creditor] == 0:
            del credits[creditor]
    return transfers


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/settle", response_model=Settlement, response_model_by_alias=True)
def settle_trip(trip: Trip) -> Settlement:
    balances = {person: Decimal("0.00") for person in trip.people}
    total = Decimal("0.00")
    for expense in trip.expenses:
        sharers = expense.shared_by or trip.people
        total += expense.amount
        balances[expense.paid_by] += expense.amount
        for person, share in zip(sharers, shares(expense.amount, len(sharers)), strict=True):
            balances[person] -= share
    return Settlement(total=total, balances=balances, transfers=settle(balances))
