"""A pharmacist turns a reorder suggestion into a purchase order, submits it to the supplier
and receives the delivery by scanning its barcode on the order's page, in a real headless
Chromium against a real gunicorn server, on a phone-sized screen."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.accounts import create_user
from core.clock import clinic_today
from core.database import db
from inventory.models import Lot
from inventory.products import create_product
from inventory.purchase_orders import OrderStatus, PurchaseOrder
from inventory.suppliers import create_supplier, supply_product
from tests.test_browser import GTIN, PASSWORD, gs1, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.server]

PHONE = {"width": 390, "height": 844}


def test_a_pharmacist_orders_a_suggestion_submits_it_and_receives_it_by_barcode(live_app, page):
    with live_app.app_context():
        create_user("pharmacist-orders", "pharmacist", password=PASSWORD)
        gauze = create_product(
            kind="consumable", name="Gauze pads", unit="piece", gtin=GTIN,
            reorder_point=Decimal(10),
        )  # fmt: skip
        supplier = create_supplier(
            name="Meso Supplies", email="orders@meso.example", lead_time_days=5
        )
        supply_product(supplier, gauze.id, pack_size=Decimal(4), unit_price=Decimal(2))
        db.session.commit()
        expiry = clinic_today() + timedelta(days=300)
    page.set_viewport_size(PHONE)
    sign_in(page, "pharmacist-orders")

    page.get_by_role("link", name="Ordering").click()
    row = page.locator("tr.suggestion-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(
        "Order 12 pieces (3 packs of 4) from Meso Supplies, its only supplier"
    )
    page.get_by_role("button", name="Draft orders of the ticked products").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Order PO-\d{6}"))
    expect(page.locator("#order-status")).to_have_text("Draft")

    page.get_by_role("button", name="Submit to Meso Supplies").click()
    expect(page.locator(".flash-success")).to_contain_text("e-mailed to orders@meso.example")
    expect(page.locator("#order-status")).to_have_text("Sent to the supplier")

    page.get_by_label("Barcode").fill(gs1(GTIN, expiry, "G-77"))
    page.get_by_label("Quantity").fill("12")
    page.get_by_role("button", name="Receive").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Received 12 piece of Gauze pads, lot G-77"
    )
    expect(page.locator("#order-status")).to_have_text("Received")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]

    with live_app.app_context():
        order = db.session.scalar(select(PurchaseOrder))
        assert order.status == OrderStatus.RECEIVED
        lot = db.session.scalar(select(Lot).where(Lot.lot_number == "G-77"))
        assert lot.quantity_on_hand == 12 and lot.unit_cost == 2
