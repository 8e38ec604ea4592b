"""The purchasing pages: suppliers and their products, the suggestions drafted into orders,
an order submitted, received against its line by typed fields, cancelled only after asking."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from core.database import db
from inventory.purchase_orders import OrderStatus, PurchaseOrder, create_order, submit
from inventory.suppliers import Supplier, supply_product
from tests import factories


def test_a_pharmacist_adds_a_supplier_and_a_product_it_supplies(client, sign_in_page):
    sign_in_page("pharmacist")
    product = factories.make_product(kind="consumable", name="Gauze pads")
    added = client.post(
        "/stock/suppliers/new",
        data={"name": "Meso Supplies", "email": "orders@meso.example", "lead_time_days": "10"},
    )
    assert added.status_code == 302
    supplier = db.session.scalar(select(Supplier).where(Supplier.name == "Meso Supplies"))
    offered = client.post(
        f"/stock/suppliers/{supplier.id}/products",
        data={"offer-product_id": str(product.id), "offer-pack_size": "10",
              "offer-unit_price": "1.5"},
    )  # fmt: skip
    assert offered.status_code == 302
    page = client.get(f"/stock/suppliers/{supplier.id}").get_data(as_text=True)
    assert "Gauze pads" in page and "1.5" in page


def test_a_bad_lead_time_is_said_next_to_its_field(client, sign_in_page):
    sign_in_page("pharmacist")
    answer = client.post("/stock/suppliers/new", data={"name": "X", "lead_time_days": "400"})
    assert answer.status_code == 422
    assert 'id="lead_time_days-error"' in answer.get_data(as_text=True)


def test_suggestions_become_a_draft_that_is_submitted_received_and_never_cancelled_unasked(
    client, sign_in_page
):
    sign_in_page("pharmacist")
    product = factories.make_product(
        kind="consumable", name="Gauze pads", unit="piece", reorder_point=Decimal(10)
    )
    supplier = Supplier(name="Meso Supplies", lead_time_days=5)
    db.session.add(supplier)
    db.session.flush()
    supply_product(supplier, product.id, pack_size=Decimal(4), unit_price=Decimal(2))
    db.session.commit()
    page = client.get("/stock/reorder").get_data(as_text=True)
    assert "Order 12 pieces (3 packs of 4) from Meso Supplies" in page
    drafted = client.post("/stock/reorder/order", data={"product_id": str(product.id)})
    assert drafted.status_code == 302
    order = db.session.scalar(select(PurchaseOrder))
    assert order.status == OrderStatus.DRAFT
    assert client.post(f"/stock/orders/{order.id}/submit").status_code == 302
    db.session.expire_all()
    assert order.status == OrderStatus.SUBMITTED
    page = client.get(f"/stock/orders/{order.id}").get_data(as_text=True)
    assert "Receive a delivery" in page
    line = order.lines[0]
    received = client.post(
        f"/stock/orders/{order.id}/receive",
        data={"receive-line_id": str(line.id), "receive-lot_number": "G1",
              "receive-expiry_date": "2030-12-31", "receive-quantity": "4"},
    )  # fmt: skip
    assert received.status_code == 302, received.get_data(as_text=True)
    db.session.expire_all()
    assert order.status == OrderStatus.PARTLY_RECEIVED
    asked = client.post(f"/stock/orders/{order.id}/cancel")
    assert asked.status_code == 200 and "cannot be undone" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert order.status == OrderStatus.PARTLY_RECEIVED
    assert (
        client.post(f"/stock/orders/{order.id}/cancel", data={"confirmed": "yes"}).status_code
        == 302
    )
    db.session.expire_all()
    assert order.status == OrderStatus.CANCELLED
    assert client.get(f"/stock/orders/{order.id}/print").status_code == 200


def test_the_boards_receive_form_receives_against_an_open_order_line(client, sign_in_page):
    sign_in_page("pharmacist")
    product = factories.make_product(kind="consumable", name="Gauze pads", unit="piece")
    supplier = Supplier(name="Meso Supplies", lead_time_days=5)
    db.session.add(supplier)
    db.session.flush()
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    order = create_order(
        supplier.id, None, lines=[{"product_id": product.id, "quantity": Decimal(8)}],
        user_id=None, now=now,
    )  # fmt: skip
    submit(order.id, user_id=None, now=now)
    db.session.commit()
    board = client.get("/stock").get_data(as_text=True)
    assert f"{order.number} from Meso Supplies: Gauze pads, 8 piece to come" in board
    received = client.post(
        "/stock/receive",
        data={"product_id": str(product.id), "lot_number": "G1", "expiry_date": "2030-12-31",
              "quantity": "3", "purchase_order_line_id": str(order.lines[0].id)},
    )  # fmt: skip
    assert received.status_code == 302, received.get_data(as_text=True)
    db.session.expire_all()
    assert order.status == OrderStatus.PARTLY_RECEIVED
    assert order.lines[0].received_quantity == 3
