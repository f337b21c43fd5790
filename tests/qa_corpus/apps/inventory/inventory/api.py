from fastapi import APIRouter, Depends, HTTPException, Request

from inventory.models import Adjustment, Item, ItemIn, Movement, StockValue
from inventory.service import DuplicateItem, Inventory, NotEnoughStock, UnknownItem

router = APIRouter()


def get_inventory(request: Request) -> Inventory:
    return request.app.state.inventory


def find(inventory: Inventory, sku: str) -> Item:
    try:
        return inventory.get(sku)
    except UnknownItem:
        raise HTTPException(status_code=404, detail=f"no item {sku}") from None


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/items", response_model=Item, status_code=201)
def add_item(data: ItemIn, inventory: Inventory = Depends(get_inventory)) -> Item:
    try:
        return inventory.add(data)
    except DuplicateItem:
        raise HTTPException(status_code=409, detail=f"{data.sku} already exists") from None


@router.get("/items", response_model=list[Item])
def list_items(inventory: Inventory = Depends(get_inventory)) -> list[Item]:
    return sorted(inventory.items.values(), key=lambda i: i.sku)


@router.get("/items/low-stock", response_model=list[Item])
def low_stock(inventory: Inventory = Depends(get_inventory)) -> list[Item]:
    return inventory.low_stock()


@router.get("/items/{sku}", response_model=Item)
def get_item(sku: str, inventory: Inventory = Depends(get_inventory)) -> Item:
    return find(inventory, sku)


@router.post("/items/{sku}/adjust", response_model=Item)
def adjust(sku: str, body: Adjustment, inventory: Inventory = Depends(get_inventory)) -> Item:
    find(inventory, sku)
    try:
        return inventory.adjust(sku, body.change, body.reason)
    except NotEnoughStock as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.get("/items/{sku}/history", response_model=list[Movement])
def history(sku: str, inventory: Inventory = Depends(get_inventory)) -> list[Movement]:
    find(inventory, sku)
    return inventory.history(sku)


@router.delete("/items/{sku}", status_code=204)
def remove(sku: str, inventory: Inventory = Depends(get_inventory)) -> None:
    find(inventory, sku)
    inventory.remove(sku)


@router.get("/value", response_model=StockValue)
def stock_value(inventory: Inventory = Depends(get_inventory)) -> StockValue:
    return inventory.value()
