from pydantic import BaseModel, Field, field_validator


class ItemIn(BaseModel):
    sku: str = Field(pattern=r"^[A-Z0-9-]{3,20}$")
    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(default=0, ge=0, le=1_000_000)
    reorder_level: int = Field(default=5, ge=0, le=1_000_000)
    unit_price_cents: int = Field(ge=0, le=100_000_000)

    @field_validator("name")
    @classmethod
    def tidy_name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("name must not be blank")
        return value


class Item(ItemIn):
    pass


class Adjustment(BaseModel):
    change: int = Field(ge=-1_000_000, le=1_000_000)
    reason: str = Field(default="", max_length=200)


class Movement(BaseModel):
    sku: str
    change: int
    quantity_after: int
    reason: str


class StockValue(BaseModel):
    items: int
    units: int
    value_cents: int
