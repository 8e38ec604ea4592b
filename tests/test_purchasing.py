"""Suppliers, reorder suggestions from planned sessions, purchase orders submitted to the
supplier (by e-mail through the outbox) and received lot by lot against their lines (issue
16)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic.forecast import forecast
from core.accounts import create_user
from core.clock import clinic_today, utcnow
from core.database import db
from inventory.alerts import Alert, AlertKind, scan
from inventory.lots import dispose
from inventory.models import Lot
from inventory.products import create_product
from inventory.purchase_orders import OrderStatus, PurchaseOrderLine, create_order, submit
from inventory.suppliers import create_supplier, supply_product
from inventory.value import stock_value, written_off_by_month
from ops.jobs import deliver_job
from tests import factories
from tests.mailserver import smtp_server

AS_OF = date(2026, 3, 2)  # a Monday
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GTIN = "09501101530003"


def a_supplier(name=None, *, lead_time_days=14, email="orders@pharma.example"):
    supplier = create_supplier(
        name=name or factories.unique("Pharma supplies "),
        email=email,
        lead_time_days=lead_time_days,
    )
    db.session.commit()
    return supplier


def supplied(product, supplier, *, pack_size="5", unit_price="2.5"):
    offer, _ = supply_product(
        supplier,
        product.id,
        pack_size=Decimal(pack_size),
        unit_price=Decimal(unit_price) if unit_price is not None else None,
    )
    db.session.commit()
    return offer


def serum_in_vials(**fields):
    serum = factories.make_approved_serum()
    return serum, factories.make_serum_product(serum, unit="vial", **fields)


def plan_courses(serum, count: int, start: date = AS_OF):
    for _ in range(count):
        factories.make_course(serum=serum, start_date=start, induction_sessions=4)


def suggestions_of(client, headers, **query):
    answer = client.get(
        "/api/reorder-suggestions", headers=headers, query_string={"as_of": AS_OF, **query}
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


# --- suppliers ---------------------------------------------------------------------------------


def test_a_pharmacist_adds_a_supplier_and_the_products_it_supplies(client, login_as):
    headers = login_as("pharmacist")
    made = client.post(
        "/api/suppliers",
        headers=headers,
        json={"name": "Meso Supplies", "email": "orders@meso.example", "phone": "+33 1 02",
              "lead_time_days": 10},
    )  # fmt: skip
    assert made.status_code == 201, made.get_json()
    supplier = made.get_json()
    assert {k: supplier[k] for k in ("name", "email", "phone", "lead_time_days")} == {
        "name": "Meso Supplies", "email": "orders@meso.example", "phone": "+33 1 02",
        "lead_time_days": 10,
    }  # fmt: skip
    product = factories.make_product(kind="consumable")
    url = f"/api/suppliers/{supplier['id']}/products"
    offer = {"product_id": product.id, "pack_size": 10, "unit_price": 1.25, "gtin": GTIN}
    first = client.post(url, headers=headers, json=offer)
    assert first.status_code == 201, first.get_json()
    again = client.post(url, headers=headers, json={**offer, "unit_price": 1.5})
    assert again.status_code == 200
    listed = client.get(url, headers=headers).get_json()
    assert listed == [
        {"supplier_id": supplier["id"], "product_id": product.id, "pack_size": 10,
         "unit_price": 1.5, "gtin": GTIN}
    ]  # fmt: skip


def test_two_suppliers_cannot_share_a_name_and_bad_fields_are_named(client, login_as):
    headers = login_as("admin")
    assert client.post("/api/suppliers", headers=headers, json={"name": "A"}).status_code == 201
    assert client.post("/api/suppliers", headers=headers, json={"name": "A"}).status_code == 409
    bad = client.post(
        "/api/suppliers", headers=headers, json={"name": "B", "lead_time_days": -1, "email": "x"}
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"lead_time_days", "email"}


# --- suggestions ---------------------------------------------------------------------------------


def test_a_suggestion_covers_the_sessions_planned_over_the_lead_time_in_whole_packs(
    client, login_as
):
    serum, product = serum_in_vials()
    factories.make_lot(product, quantity="4")
    supplied(product, a_supplier("Meso Supplies", lead_time_days=14), pack_size="5")
    # Four courses of weekly sessions from AS_OF: three sessions each fall within the 14 days'
    # lead time and the 7 days' margin (the fourth, on day 21, after it).
    plan_courses(serum, 4)
    [suggestion] = suggestions_of(client, login_as("pharmacist"))
    assert suggestion["product_id"] == product.id
    assert suggestion["site_id"] == factories.clinic_site().id
    assert suggestion["quantity"] == 10  # 12 needed, 4 usable: 8 short, two packs of 5
    assert suggestion["reason"] == (
        "12 sessions planned in the next 3 weeks need 12 vials; 4 usable, 0 on order. "
        "Order 10 vials (2 packs of 5) from Meso Supplies, its only supplier (14 days to "
        "deliver)."
    )


def test_a_longer_lead_time_looks_further_ahead(client, login_as):
    serum, product = serum_in_vials()
    supplied(product, a_supplier(lead_time_days=21), pack_size="1")
    plan_courses(serum, 2)
    [suggestion] = suggestions_of(client, login_as("pharmacist"))
    assert suggestion["quantity"] == 8  # all four weekly sessions of both courses
    assert suggestion["reason"].startswith("8 sessions planned in the next 4 weeks")


def test_the_reorder_point_is_covered_too_and_the_cheapest_supplier_is_chosen(client, login_as):
    product = factories.make_product(kind="consumable", unit="piece", reorder_point=Decimal(20))
    factories.make_lot(product, quantity="5")
    supplied(product, a_supplier("Dear"), pack_size="10", unit_price="3")
    cheap = a_supplier("Cheap")
    supplied(product, cheap, pack_size="10", unit_price="2")
    [suggestion] = suggestions_of(client, login_as("pharmacist"))
    assert suggestion["supplier_id"] == cheap.id
    assert suggestion["quantity"] == 20
    assert "reorder point 20 pieces" in suggestion["reason"]
    assert "from Cheap, the cheapest of 2 suppliers" in suggestion["reason"]


def test_enough_stock_suggests_nothing(client, login_as):
    serum, product = serum_in_vials()
    factories.make_lot(product, quantity="20")
    supplied(product, a_supplier())
    plan_courses(serum, 2)
    assert suggestions_of(client, login_as("pharmacist")) == []


def test_suggestions_become_draft_orders_in_one_step_and_are_not_suggested_again(client, login_as):
    serum, product = serum_in_vials()
    supplier = a_supplier()
    supplied(product, supplier, pack_size="5", unit_price="2.5")
    plan_courses(serum, 4)
    headers = login_as("pharmacist")
    made = client.post(
        "/api/purchase-orders/from-suggestions", headers=headers, json={"as_of": str(AS_OF)}
    )
    assert made.status_code == 201, made.get_json()
    [order] = made.get_json()
    assert order["status"] == "draft" and order["supplier_id"] == supplier.id
    assert [(line["product_id"], line["quantity"], line["received_quantity"])
            for line in order["lines"]] == [(product.id, 15, 0)]  # fmt: skip
    assert suggestions_of(client, headers) == []
    again = client.post(
        "/api/purchase-orders/from-suggestions", headers=headers, json={"as_of": str(AS_OF)}
    )
    assert again.status_code == 409


# --- orders and their receipt --------------------------------------------------------------------


def submitted_order(product, *, quantity="10", lead_time_days=7, email=None, now=NOW):
    supplier = a_supplier(lead_time_days=lead_time_days, email=email)
    supplied(product, supplier, pack_size="5", unit_price="2.5")
    order = create_order(
        supplier.id,
        factories.clinic_site().id,
        lines=[{"product_id": product.id, "quantity": Decimal(quantity)}],
        user_id=None,
        now=now,
    )
    submit(order.id, user_id=None, now=now)
    db.session.commit()
    return order


def receive_on(client, headers, line_id, quantity, lot_number="L1", **fields):
    return client.post(
        "/api/lots",
        headers=headers,
        json={"barcode": f"(01){GTIN}(17)301231(10){lot_number}", "quantity": quantity,
              "purchase_order_line_id": line_id, **fields},
    )  # fmt: skip


def test_a_partial_receipt_leaves_the_order_partly_received_until_the_rest_comes(client, login_as):
    product = factories.make_product(kind="consumable", gtin=GTIN)
    order = submitted_order(product)
    line_id = order.lines[0].id
    headers = login_as("pharmacist")
    first = receive_on(client, headers, line_id, 6)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["unit_cost"] == 2.5
    shown = client.get(f"/api/purchase-orders/{order.id}", headers=headers).get_json()
    assert shown["status"] == "partly_received"
    assert shown["lines"][0]["received_quantity"] == 6
    rest = receive_on(client, headers, line_id, 4, lot_number="L2")
    assert rest.status_code == 201
    shown = client.get(f"/api/purchase-orders/{order.id}", headers=headers).get_json()
    assert shown["status"] == "received" and shown["lines"][0]["received_quantity"] == 10
    assert client.get(f"/api/products/{product.id}", headers=headers).get_json()["unit_cost"] == 2.5
    assert (
        client.post(f"/api/purchase-orders/{order.id}/cancel", headers=headers).status_code == 409
    )


def test_an_over_receipt_past_the_tolerance_is_refused_and_changes_nothing(app, client, login_as):
    app.config["PURCHASE_OVER_RECEIPT_TOLERANCE"] = 10
    product = factories.make_product(kind="consumable", gtin=GTIN)
    order = submitted_order(product, quantity="10")
    line_id = order.lines[0].id
    headers = login_as("pharmacist")
    assert receive_on(client, headers, line_id, 5).status_code == 201
    refused = receive_on(client, headers, line_id, 7, lot_number="L2")  # 12 of 10: past 10 %
    assert refused.status_code == 409
    assert "tolerance" in refused.get_json()["message"]
    assert refused.get_json()["errors"] == {"quantity": ["At most 6 more."]}
    db.session.expire_all()
    assert db.session.get(PurchaseOrderLine, line_id).received_quantity == 5
    assert db.session.scalar(select(Lot).where(Lot.lot_number == "L2")) is None
    within = receive_on(client, headers, line_id, 6, lot_number="L2")  # 11 of 10: within
    assert within.status_code == 201
    assert (
        client.get(f"/api/purchase-orders/{order.id}", headers=headers).get_json()["status"]
        == "received"
    )


def test_a_receipt_names_a_line_of_its_own_product_and_an_order_waiting_for_goods(client, login_as):
    product = factories.make_product(kind="consumable", gtin=GTIN)
    other = factories.make_product(kind="consumable")
    supplier = a_supplier()
    draft = create_order(
        supplier.id, None, lines=[{"product_id": product.id, "quantity": Decimal(5)}],
        user_id=None, now=NOW,
    )  # fmt: skip
    order = submitted_order(other)
    db.session.commit()
    headers = login_as("pharmacist")
    assert receive_on(client, headers, draft.lines[0].id, 1).status_code == 409
    wrong = receive_on(client, headers, order.lines[0].id, 1)
    assert wrong.status_code == 422
    assert "purchase_order_line_id" in wrong.get_json()["errors"]


def test_a_submitted_order_is_e_mailed_to_the_supplier_through_the_outbox(
    client, login_as, mail_config
):
    product = factories.make_product(kind="consumable", name="Gauze pads", unit="piece")
    supplier = a_supplier("Meso Supplies", email="orders@meso.example", lead_time_days=5)
    supplied(product, supplier, pack_size="5", unit_price="2")
    headers = login_as("pharmacist")
    order = client.post(
        "/api/purchase-orders",
        headers=headers,
        json={"supplier_id": supplier.id, "lines": [{"product_id": product.id, "quantity": 10}]},
    ).get_json()
    answer = client.post(f"/api/purchase-orders/{order['id']}/submit", headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "submitted"
    assert (
        client.post(f"/api/purchase-orders/{order['id']}/submit", headers=headers).status_code
        == 409
    )
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert deliver_job()["sent"] == 1
    [message] = mailbox.messages
    assert message["To"] == "orders@meso.example"
    assert order["number"] in message["Subject"]
    body = message.get_payload()
    assert "- 10 piece of Gauze pads (2 packs of 5), 2 a unit" in body


def test_what_is_on_order_counts_in_the_forecast_from_the_day_it_is_due():
    serum, product = serum_in_vials()
    plan_courses(serum, 1, start=AS_OF + timedelta(days=14))
    [short] = [f for f in forecast(4, AS_OF) if f.serum_id == serum.id]
    assert short.shortfall_week == AS_OF + timedelta(weeks=2)
    submitted_order(product, quantity="4", lead_time_days=7)
    [covered] = [f for f in forecast(4, AS_OF) if f.serum_id == serum.id]
    assert covered.on_order == 4
    assert covered.shortfall_week is None


def test_an_order_due_after_the_sessions_does_not_cover_them():
    serum, product = serum_in_vials()
    plan_courses(serum, 1, start=AS_OF + timedelta(days=1))
    submitted_order(product, quantity="4", lead_time_days=30)
    [row] = [f for f in forecast(4, AS_OF) if f.serum_id == serum.id]
    assert row.shortfall_week == AS_OF


def test_a_late_order_raises_one_alert_once():
    product = factories.make_product(kind="consumable")
    order = submitted_order(product, lead_time_days=7)
    assert scan(AS_OF + timedelta(days=7)).counts["purchase_order_late"] == 0  # due that day
    late = scan(AS_OF + timedelta(days=8))
    assert late.counts["purchase_order_late"] == 1
    assert scan(AS_OF + timedelta(days=9)).counts["purchase_order_late"] == 0
    [alert] = db.session.scalars(
        select(Alert).where(Alert.kind == AlertKind.PURCHASE_ORDER_LATE)
    ).all()
    assert alert.purchase_order_id == order.id
    assert f"{order.number} from {order.supplier.name} was due on" in alert.message
    assert order.status == OrderStatus.SUBMITTED


# --- value -------------------------------------------------------------------------------------


def test_a_unit_cost_given_at_receipt_becomes_the_products_cost(client, login_as):
    product = factories.make_product(kind="consumable")
    answer = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"product_id": product.id, "lot_number": "C1", "expiry_date": "2030-12-31",
              "quantity": 10, "unit_cost": 1.75},
    )  # fmt: skip
    assert answer.status_code == 201
    assert answer.get_json()["unit_cost"] == 1.75
    db.session.expire_all()
    assert product.unit_cost == Decimal("1.75")


def test_the_stock_is_worth_its_lots_at_their_cost_and_disposals_are_written_off_per_month():
    product = factories.make_product(kind="consumable")
    costed = factories.make_lot(product, quantity="10", unit_cost=Decimal("2.5"))
    factories.make_lot(product, quantity="2")  # at the product's last cost
    uncosted = factories.make_product(kind="consumable")
    factories.make_lot(uncosted, quantity="4")  # no cost known: counted as nothing
    dispose(costed.id, "damaged", user_id=None, now=NOW - timedelta(days=35), quantity=Decimal(4))
    dispose(costed.id, "expired", user_id=None, now=NOW, quantity=Decimal(2))
    db.session.commit()
    value = stock_value()
    assert value.value == Decimal("15.00") and value.lots_without_cost == 1
    months = written_off_by_month(AS_OF, months=3)
    assert [(m.month, m.value) for m in months] == [
        (date(2026, 1, 1), Decimal("10.00")),
        (date(2026, 2, 1), Decimal("0")),
        (date(2026, 3, 1), Decimal("5.00")),
    ]


def test_the_board_shows_the_stock_value_and_a_chart_of_what_was_written_off(client, sign_in_page):
    sign_in_page("pharmacist")
    factories.make_lot(factories.make_product(kind="consumable"), unit_cost=Decimal(3))
    page = client.get("/stock", query_string={"as_of": AS_OF}).get_data(as_text=True)
    assert '<strong id="stock-value">30.00</strong>' in page
    assert page.count('<rect class="written-off"') == 12


# --- receipts racing -----------------------------------------------------------------------------

RACING = 20


@pytest.mark.server
def test_receipts_racing_on_one_order_line_never_receive_more_than_it_allows(live_app, live_server):
    with live_app.app_context():
        create_user("racing-receiver", "pharmacist", password="a long test password")
        product = create_product(kind="consumable", name="Gauze pads", unit="piece", gtin=GTIN)
        supplier = create_supplier(name="Racing Supplies", lead_time_days=3)
        now = utcnow()
        order = create_order(
            supplier.id, None, lines=[{"product_id": product.id, "quantity": Decimal(10)}],
            user_id=None, now=now,
        )  # fmt: skip
        submit(order.id, user_id=None, now=now)
        db.session.commit()
        line_id, order_id = order.lines[0].id, order.id
        expiry = clinic_today() + timedelta(days=300)
    token = live_server.token("racing-receiver", "a long test password")

    def receive_one(n):
        barcode = f"(01){GTIN}(17){expiry:%y%m%d}(10)RACE-{n}"
        return live_server.request(
            "POST", "/api/lots",
            {"barcode": barcode, "quantity": 1, "purchase_order_line_id": line_id}, token=token,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=RACING) as pool:
        answers = list(pool.map(receive_one, range(RACING)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * 10 + [409] * (RACING - 10), answers
    with live_app.app_context():
        line = db.session.get(PurchaseOrderLine, line_id)
        assert line.received_quantity == 10
        assert line.order.status == OrderStatus.RECEIVED
        lots = select(func.count()).select_from(Lot).where(Lot.lot_number.like("RACE-%"))
        assert db.session.scalar(lots) == 10
        assert order_id == line.purchase_order_id
