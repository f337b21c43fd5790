import pytest

from inventory.models import ItemIn
from inventory.service import DuplicateItem, Inventory, NotEnoughStock, UnknownItem


def item(sku="HAM-01", quantity=10, reorder_level=5, price=1250, name="Claw hammer"):
    return ItemIn(
        sku=sku, name=name, quantity=quantity, reorder_level=reorder_level, unit_price_cents=price
    )


def test_add_and_get():
    inv = Inventory()
    added = inv.add(item())
    assert inv.get("HAM-01") == added
    assert added.quantity == 10


def test_add_records_initial_stock():
    inv = Inventory()
    inv.add(item(quantity=7))
    inv.add(item(sku="NAIL-1", quantity=0))
    assert [(m.sku, m.change, m.quantity_after, m.reason) for m in inv.movements] == [
        ("HAM-01", 7, 7, "initial")
    ]


def test_duplicate_sku():
    inv = Inventory()
    inv.add(item())
    with pytest.raises(DuplicateItem):
        inv.add(item(name="Another"))


def test_unknown_sku():
    inv = Inventory()
    for call in (inv.get, inv.remove, inv.history):
        with pytest.raises(UnknownItem):
            call("NOPE")
    with pytest.raises(UnknownItem):
        inv.adjust("NOPE", 1)


def test_adjust_up_and_down():
    inv = Inventory()
    inv.add(item(quantity=10))
    assert inv.adjust("HAM-01", -3, "sold").quantity == 7
    assert inv.adjust("HAM-01", 5).quantity == 12
    assert [(m.change, m.quantity_after, m.reason) for m in inv.history("HAM-01")] == [
        (10, 10, "initial"),
        (-3, 7, "sold"),
        (5, 12, "adjustment"),
    ]


def test_adjust_to_exactly_zero():
    inv = Inventory()
    inv.add(item(quantity=4))
    assert inv.adjust("HAM-01", -4).quantity == 0


def test_cannot_go_below_zero():
    inv = Inventory()
    inv.add(item(quantity=2))
    with pytest.raises(NotEnoughStock, match="only 2 of HAM-01 in stock"):
        inv.adjust("HAM-01", -3)
    assert inv.get("HAM-01").quantity == 2
    assert len(inv.history("HAM-01")) == 1


def test_low_stock_most_urgent_first():
    inv = Inventory()
    inv.add(item(sku="AAA", quantity=5, reorder_level=5))  # at the level: 0
    inv.add(item(sku="BBB", quantity=1, reorder_level=5))  # 4 short
    inv.add(item(sku="CCC", quantity=6, reorder_level=5))  # fine
    inv.add(item(sku="DDD", quantity=0, reorder_level=4))  # 4 short
    assert [i.sku for i in inv.low_stock()] == ["BBB", "DDD", "AAA"]


def test_remove():
    inv = Inventory()
    inv.add(item())
    inv.remove("HAM-01")
    assert inv.items == {}


def test_value():
    inv = Inventory()
    assert inv.value().model_dump() == {"items": 0, "units": 0, "value_cents": 0}
    inv.add(item(sku="A-1", quantity=3, price=200))
    inv.add(item(sku="B-1", quantity=2, price=1050))
    assert inv.value().model_dump() == {"items": 2, "units": 5, "value_cents": 2700}


def test_name_is_tidied():
    assert item(name="  Claw   hammer ").name == "Claw hammer"
    with pytest.raises(ValueError, match="name must not be blank"):
        item(name="   ")
