"""The pharmacist's lot jobs in a real headless Chromium against a real gunicorn server, from
the stock board and only through links, buttons and forms: find a lot by its number from the
header, record its opening, correct its count, dispose of part of it and recall it (each
irreversible step after the browser's question), and release a lot waiting in quarantine.
Saves a screenshot of the lot page to docs/screenshots/."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.accounts import create_user
from core.clock import clinic_today, utcnow
from core.database import db
from inventory.lots import Expiry, receive
from inventory.models import Lot, LotStatus
from inventory.products import create_product
from tests.test_browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_a_pharmacist_finds_a_lot_and_takes_it_through_its_life(live_app, page):
    with live_app.app_context():
        pharmacist = create_user("pharmacist-lots", "pharmacist", password=PASSWORD)
        vials = create_product(
            kind="consumable", name="Hyaluronic acid base 2 mL", unit="vial", days_after_opening=28
        )
        expiry = Expiry(clinic_today() + timedelta(days=200))
        receipt = {"quantity": Decimal(10), "user_id": pharmacist.id, "now": utcnow()}
        for number in ("HA-77", "HA-770", "HB-12"):
            receive(product_id=vials.id, lot_number=number, expiry=expiry, **receipt)
        receive(product_id=vials.id, lot_number="Q-5", expiry=expiry, quarantine=True, **receipt)
        db.session.commit()

    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    sign_in(page, "pharmacist-lots")
    expect(page).to_have_url(re.compile(r"/stock$"))

    # Find the lot by its number, whatever its case, from the header.
    page.get_by_label("Find a lot by its number").fill("ha-77")
    page.get_by_role("search", name="Lots").get_by_role("button", name="Find").click()
    found = page.locator("table tbody tr")
    expect(found).to_have_count(2)  # HA-77 and HA-770, not HB-12
    page.get_by_role("link", name="HA-77", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Hyaluronic acid base 2 mL · lot HA-77"
    )

    page.get_by_role("button", name="Record the opening").click()
    expect(page.locator(".flash-success")).to_contain_text("Now 10 vial on hand, usable today.")

    page.get_by_label("Correction").fill("-2")
    page.get_by_label("Reason", exact=True).first.fill("two broken in transport")
    page.get_by_role("button", name="Correct the count").click()
    expect(page.locator(".flash-success")).to_contain_text("Now 8 vial on hand")

    dispose = page.get_by_role("region", name="Dispose of stock")
    dispose.get_by_label("Quantity to dispose of").fill("3")
    dispose.get_by_label("Reason").fill("caps cracked")
    dispose.get_by_role("button", name="Dispose of stock").click()
    expect(page.locator(".flash-success")).to_contain_text("Now 5 vial on hand")

    page.get_by_label("Reason for the recall").fill("Supplier recall notice 2026-118")
    page.get_by_role("button", name="Recall lot HA-77").click()
    expect(page.locator(".flash-success")).to_contain_text("recalled")
    expect(page.locator(".status")).to_contain_text("Recalled")
    screenshot(page, "pharmacist-lot")
    assert questions == [
        "Dispose of stock of lot HA-77? This cannot be undone.",
        "Recall lot HA-77? It can never be used again.",
    ]

    # Back on the board, the lot waiting in quarantine is released from its page.
    page.get_by_role("link", name="← Stock board").click()
    waiting = page.get_by_role("region", name="Waiting for release")
    waiting.get_by_role("link", name=re.compile(r"lot Q-5")).click()
    page.get_by_role("button", name="Release lot Q-5").click()
    expect(page.locator(".flash-success")).to_contain_text("Now 10 vial on hand, usable today.")

    with live_app.app_context():
        states = dict(db.session.execute(select(Lot.lot_number, Lot.status)).all())
        on_hand = db.session.scalar(select(Lot.quantity_on_hand).where(Lot.lot_number == "HA-77"))
    assert (states["HA-77"], states["Q-5"], on_hand) == (
        LotStatus.RECALLED,
        LotStatus.AVAILABLE,
        Decimal(5),
    )
