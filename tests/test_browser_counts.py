"""A stock count in a real headless Chromium against the production server, on a 390 px phone,
only through links, buttons and forms from the pharmacist's home: a pharmacist begins a count of
the fridge, scans each box (the scanner types the code and Enter; the page then asks how many
are on the shelf), submits it (the browser asks first) and reads that a second pharmacist must
approve the variance; a second pharmacist opens it from the count list and approves it (asked
first), which corrects the lot. The count screen and the approval view pass axe-core."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.accounts import create_user
from core.database import db
from inventory.counts import StockCount
from inventory.models import Lot, Movement
from tests import factories
from tests.test_browser import GTIN, PASSWORD, gs1, sign_in
from tests.test_browser_pages import PHONE, problems_of

pytestmark = [pytest.mark.browser, pytest.mark.server]

EXPIRY = date(2099, 12, 31)


def test_a_pharmacist_counts_the_fridge_by_barcode_and_a_second_approves_the_variance(
    live_app, browser, live_server
):
    with live_app.app_context():
        create_user("pharmacist-counter", "pharmacist", password=PASSWORD)
        create_user("pharmacist-approver", "pharmacist", password=PASSWORD)
        vial = factories.make_product(kind="consumable", name="Hyaluronic acid vial", gtin=GTIN,
                                      storage="refrigerated")  # fmt: skip
        short = factories.make_lot(vial, quantity="10", lot_number="HA-1", expiry_date=EXPIRY)
        factories.make_lot(vial, quantity="4", lot_number="HA-2", expiry_date=EXPIRY)
        swab = factories.make_product(kind="consumable", name="Gauze swab")
        factories.make_lot(swab, quantity="50", lot_number="SW-1", expiry_date=EXPIRY)
        short_id = short.id
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors, questions = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)

    # The pharmacist begins a count of the fridge from the navigation.
    sign_in(page, "pharmacist-counter")
    expect(page).to_have_url(re.compile(r"/stock$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Counts").click()
    page.get_by_label("What to count").select_option(label="Lots kept in the fridge")
    page.get_by_role("button", name="Begin the count").click()
    expect(page.locator(".flash-success")).to_contain_text("2 lots to count")
    reference = page.get_by_role("heading", level=1).inner_text().removeprefix("Count ")
    expect(page.locator(".count-sheet")).to_contain_text("HA-1")
    expect(page.locator(".count-sheet")).not_to_contain_text("SW-1")
    expect(page.locator("main")).not_to_contain_text("10 vial")  # a blind count
    assert problems_of(page, "the count screen") == []

    # The scanner types the code of a box of HA-1, then Enter; the page asks how many.
    barcode = page.get_by_label("Barcode")
    expect(barcode).to_be_focused()
    barcode.press_sequentially(gs1(GTIN, EXPIRY, "HA-1"))
    barcode.press("Enter")
    expect(page.locator("#scanned-lot")).to_contain_text(
        "Lot HA-1 of Hyaluronic acid vial: how many vial are on the shelf?"
    )
    counted = page.get_by_label("How many are on the shelf")
    expect(counted).to_be_focused()
    counted.fill("7")
    counted.press("Enter")
    expect(page.locator(".flash-success")).to_contain_text(
        "Lot HA-1 of Hyaluronic acid vial: 7 vial on the shelf."
    )
    # HA-2, scanned with its quantity typed first.
    page.get_by_label("How many are on the shelf").fill("4")
    page.get_by_label("Barcode").fill(gs1(GTIN, EXPIRY, "HA-2"))
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".flash-success")).to_contain_text("Lot HA-2")
    expect(page.get_by_role("heading", name="Lots to count (2 of 2 counted)")).to_be_visible()
    expect(page.get_by_label("Barcode")).to_be_focused()

    page.get_by_role("button", name="Submit the count").click()
    expect(page.locator(".flash-success")).to_contain_text(
        f"Count {reference} submitted: 1 lot differs from the stock records. A second "
        "pharmacist approves it."
    )
    expect(page.locator("#second-pharmacist-needed")).to_be_visible()
    expect(page.get_by_role("button", name="Approve and correct the stock")).to_have_count(0)
    expect(page.locator(f"#variance-{short_id}")).to_contain_text("-3")
    page.get_by_role("button", name="Sign out").click()

    # A second pharmacist approves it from the count list.
    sign_in(page, "pharmacist-approver")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Counts").click()
    page.get_by_role("link", name=reference).click()
    expect(page.locator(f"#variance-{short_id}")).to_contain_text("beyond the threshold")
    assert problems_of(page, "the approval view") == []
    page.get_by_role("button", name="Approve and correct the stock").click()
    expect(page.locator(".flash-success")).to_contain_text(
        f"Count {reference} approved: 1 lot corrected in the stock records."
    )
    expect(page.locator("#count-status")).to_have_text("Approved")
    context.close()

    assert questions == [
        f"Submit count {reference}? Lots not counted are counted as 0 (not found on the shelf).",
        f"Approve count {reference} and correct 1 lot in the stock records?",
    ]
    assert errors == []
    with live_app.app_context():
        assert db.session.get(Lot, short_id).quantity_on_hand == 7
        count = db.session.scalar(select(StockCount))
        assert (count.submitted_by_name, count.approved_by_name) == (
            "pharmacist-counter",
            "pharmacist-approver",
        )
        [adjusted] = db.session.scalars(
            select(Movement).where(Movement.lot_id == short_id, Movement.kind == "adjust")
        ).all()
        assert adjusted.quantity == -3 and reference in adjusted.reason
