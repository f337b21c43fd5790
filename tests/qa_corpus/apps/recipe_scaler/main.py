"""Recipe scaler: convert a recipe written for N servings to M servings."""

from fractions import Fraction

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI(title="Recipe scaler")

NICE_FRACTIONS = {Fraction(1, 4): "¼", Fraction(1, 3): "⅓", Fraction(1, 2): "½", Fraction(2, 3): "⅔", Fraction(3, 4): "¾"}


class Ingredient(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    amount: float = Field(ge=0, le=100_000)
    unit: str = Field(default="", max_length=10)


class ScaleRequest(BaseModel):
    ingredients: list[Ingredient] = Field(min_length=1, max_length=50)
    from_servings: int
    to_servings: int = Field(gt=0, le=1000)


class ScaledIngredient(BaseModel):
    name: str
    amount: float
    unit: str
    display: str


class ScaleResponse(BaseModel):
    factor: float
    ingredients: list[ScaledIngredient]


def pretty(amount: float) -> str:
    """1.5 -> "1½", 0.333 -> "⅓", 2.0 -> "2"; other amounts with up to two decimals."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    whole = int(amount)
    rest = Fraction(amount - whole).limit_denominator(12)
    if rest == 0:
        return str(whole)
    if rest in NICE_FRACTIONS:
        return (str(whole) if whole else "") + NICE_FRACTIONS[rest]
    return f"{amount:.2f}".rstrip("0").rstrip(".")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/scale", response_model=ScaleResponse)
def scale(request: ScaleRequest) -> ScaleResponse:
    factor = request.to_servings / request.from_servings
    scaled = []
    for item in request.ingredients:
        amount = round(item.amount * factor, 3)
        scaled.append(
            ScaledIngredient(
                name=item.name,
                amount=amount,
                unit=item.unit,
                display=f"{pretty(amount)} {item.unit}".strip(),
            )
        )
    return ScaleResponse(factor=round(factor, 3), ingredients=scaled)
