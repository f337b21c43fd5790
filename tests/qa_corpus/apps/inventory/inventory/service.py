from inventory.models import Item, ItemIn, Movement, StockValue


class UnknownItem(KeyError):
    pass


class DuplicateItem(ValueError):
    pass


class NotEnoughStock(ValueError):
    pass


class Inventory:
    """Items by SKU and the history of every stock movement."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.movements: list[Movement] = []

    def add(self, data: ItemIn) -> Item:
        if data.sku in self.items:
            raise DuplicateItem(data.sku)
        item = Item(**data.model_dump())
        self.items[item.sku] = item
        if item.quantity:
            self.movements.append(
                Movement(
                    sku=item.sku, change=item.quantity, quantity_after=item.quantity, reason="initial"
                )
            )
        return item

    def get(self, sku: str) -> Item:
        if sku not in self.items:
            raise UnknownItem(sku)
        return self.items[sku]

    def adjust(self, sku: str, change: int, reason: str = "") -> Item:
        item = self.get(sku)
        new_quantity = item.quantity + change
        if new_quantity < 0:
            raise NotEnoughStock(f"only {item.quantity} of {sku} in stock")
        item.quantity = new_quantity
        self.movements.append(
            Movement(sku=sku, change=change, quantity_after=new_quantity, reason=reason or "adjustment")
        )
        return item

    def remove(self, sku: str) -> None:
        self.get(sku)
        del self.items[sku]

    def low_stock(self) -> list[Item]:
        low = [i for i in self.items.values() if i.quantity <= i.reorder_level]
        return sorted(low, key=lambda i: (i.quantity - i.reorder_level, i.sku))

    def history(self, sku: str) -> list[Movement]:
        self.get(sku)
        return [m for m in self.movements if m.sku == sku]

    def value(self) -> StockValue:
        return StockValue(
            items=len(self.items),
            units=sum(i.quantity for i in self.items.values()),
            value_cents=sum(i.quantity * i.unit_price_cents for i in self.items.values()),
        )
