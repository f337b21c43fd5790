"""A shop's shopping cart kept in a cookie, so no server-side session is needed."""

import base64
import pickle
from typing import Annotated

from fastapi import Cookie, FastAPI, HTTPException, Response
from pydantic import BaseModel, Field

app = FastAPI(title="Shop cart")

CATALOGUE = {
    "mug": ("Coffee mug", 1200),
    "tee": ("T-shirt", 2500),
    "cap": ("Baseball cap", 1800),
    "pin": ("Enamel pin", 500),
}
COOKIE = "cart"
MAX_QUANTITY = 20


class CartLine(BaseModel):
    product: str
    name: str
    quantity: int
    line_cents: int


class Cart(BaseModel):
    lines: list[CartLine]
    items: int
    total_cents: int


class AddItem(BaseModel):
    product: str = Field(max_length=20)
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


def read_cart(raw: str | None) -> dict[str, int]:
    if not raw:
        return {}
    try:
        cart = pickle.loads(base64.urlsafe_b64decode(raw.encode()))
    except Exception:
        return {}  # a stale or broken cookie: start a new cart
    if not isinstance(cart, dict):
        return {}
    return {
        p: q for p, q in cart.items() if p in CATALOGUE and isinstance(q, int) and 0 < q <= MAX_QUANTITY
    }


def write_cart(response: Response, cart: dict[str, int]) -> None:
    raw = base64.urlsafe_b64encode(pickle.dumps(cart)).decode()
    response.set_cookie(COOKIE, raw, httponly=True, samesite="lax")


def summary(cart: dict[str, int]) -> Cart:
    lines = [
        CartLine(product=p, name=CATALOGUE[p][0], quantity=q, line_cents=CATALOGUE[p][1] * q)
        for p, q in sorted(cart.items())
    ]
    return Cart(
        lines=lines,
        items=sum(line.quantity for line in lines),
        total_cents=sum(line.line_cents for line in lines),
    )


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/products")
def products() -> list[dict[str, object]]:
    return [{"id": k, "name": n, "price_cents": p} for k, (n, p) in CATALOGUE.items()]


@app.get("/cart", response_model=Cart)
def show_cart(cart: Annotated[str | None, Cookie()] = None) -> Cart:
    return summary(read_cart(cart))


@app.post("/cart/items", response_model=Cart)
def add_to_cart(item: AddItem, response: Response, cart: Annotated[str | None, Cookie()] = None) -> Cart:
    if item.product not in CATALOGUE:
        raise HTTPException(status_code=404, detail="unknown product")
    contents = read_cart(cart)
    contents[item.product] = min(contents.get(item.product, 0) + item.quantity, MAX_QUANTITY)
    write_cart(response, contents)
    return summary(contents)


@app.delete("/cart/items/{product}", response_model=Cart)
def remove_from_cart(product: str, response: Response, cart: Annotated[str | None, Cookie()] = None) -> Cart:
    contents = read_cart(cart)
    if product not in contents:
        raise HTTPException(status_code=404, detail="not in your cart")
    del contents[product]
    write_cart(response, contents)
    return summary(contents)


@app.delete("/cart", status_code=204)
def empty_cart(response: Response) -> None:
    response.delete_cookie(COOKIE)
