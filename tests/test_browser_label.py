"""A compounded batch's label in a real headless Chromium against the production server: the
pharmacist opens it from the batch page; printed (print media), the label stands alone; the
DataMatrix as the browser draws it decodes (zxing-cpp, from the screenshot) to the batch's lot
and beyond-use date; the page fits a phone and passes axe-core. Saves
docs/screenshots/label.png."""

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from core.clock import day_text, utcnow
from core.database import db
from inventory.barcodes import read_barcode
from inventory.compounding import compound
from tests import factories
from tests.test_browser_pages import PHONE, problems_of

pytestmark = [pytest.mark.browser, pytest.mark.server]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
GTIN = "04006381333931"


def decoded(png: bytes) -> str:
    """What a scanner types reading the picture: the symbology identifier, then the data."""
    [found] = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.DataMatrix
    )
    return found.symbology_identifier + found.bytes.decode("ascii")


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Signed in as {username}")


def test_a_batch_label_prints_alone_and_its_datamatrix_scans_back(live_app, page, browser):
    with live_app.app_context():
        pharmacist = factories.make_user(role="pharmacist", username="pharmacist-label")
        niacinamide = factories.make_substance("niacinamide-label")
        serum = factories.make_approved_serum(
            components=[(niacinamide, 20, "mg")], code="NIA", name="Brightening serum"
        )
        factories.make_serum_product(serum, name="Brightening serum 2 mL", gtin=GTIN)
        powder = factories.make_product(
            "component", substance_id=niacinamide.id, unit="mg", name="Niacinamide powder"
        )
        factories.make_lot(
            powder,
            lot_number="NIA-P-1",
            quantity="1000",
            expiry_date=utcnow().date() + timedelta(days=365),
        )
        batch = compound(serum, Decimal(5), user=pharmacist, now=utcnow(), storage="refrigerated")
        db.session.commit()
        batch_id, lot_number, bud = batch.id, batch.lot.lot_number, batch.beyond_use_date

    sign_in(page, "pharmacist-label")
    page.goto(f"/stock/batches/{batch_id}")
    page.get_by_role("link", name="Print label").click()
    label = page.locator("article.lot-label")
    expect(label).to_contain_text("Brightening serum 2 mL")
    expect(label.locator(".label-lot")).to_have_text(lot_number)
    expect(label.locator(".label-date")).to_have_text(day_text(bud))
    expect(label).to_contain_text("by pharmacist-label")
    expect(page.get_by_role("button", name="Print label")).to_be_visible()

    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Print label")).to_be_hidden()
    expect(label).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    label.screenshot(path=str(SCREENSHOTS / "label.png"))
    scanned = decoded(label.locator("svg.datamatrix").screenshot())
    assert scanned.startswith("]d2")  # GS1 DataMatrix
    box = read_barcode(scanned)
    assert (box.gtin, box.lot_number, box.expiry_date) == (GTIN, lot_number, bud)


def test_the_label_fits_a_phone_and_passes_axe(live_app, browser, live_server):
    with live_app.app_context():
        factories.make_user(role="pharmacist", username="pharmacist-phone")
        product = factories.make_product("consumable", name="Needle 30G 4 mm", gtin=GTIN)
        lot = factories.make_lot(product, lot_number="N-30G-1")
        lot_id = lot.id
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    sign_in(page, "pharmacist-phone")
    page.goto(f"/stock/lots/{lot_id}/label")
    problems = problems_of(page, "the label")
    context.close()
    assert problems == []
