"""A compounded batch from the pharmacist's bench to the patient, in a real headless Chromium
against the production server, only through links, buttons and forms from each role's home:
the pharmacist compounds a demo serum from the demo stock, opens its label ("Print label") and
signs out; a second pharmacist opens the batch from the compounding page and verifies it,
which releases its lot; a doctor then plans a course and completes its first session with the
batch's lot, now offered among the usable lots. Saves docs/screenshots/compounding-batch.png
(the verified batch's compounding record). The batch page, for the preparer and for the
second pharmacist, fits a phone and passes axe-core."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.accounts import create_user
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from formulary.models import Serum, SerumStatus
from formulary.seed import seed_catalogue, seed_demo_serums
from inventory.compounding import compound
from inventory.demo import seed_demo_stock
from inventory.models import Batch, LotStatus
from tests import factories
from tests.test_browser import PASSWORD, screenshot, sign_in
from tests.test_browser_pages import PHONE, problems_of

pytestmark = [pytest.mark.browser, pytest.mark.server]

CODE = "HAIR-VIT-AA"


def test_a_batch_is_compounded_checked_by_a_second_pharmacist_and_used_in_a_session(live_app, page):
    with live_app.app_context():
        seed_catalogue()
        maker = create_user("pharmacist-maker", "pharmacist", password=PASSWORD)
        approver = create_user("admin-compounding", "admin", password=PASSWORD)
        seed_demo_serums(maker, approver)
        seed_demo_stock(utcnow())
        create_user("pharmacist-checker", "pharmacist", password=PASSWORD)
        create_user("doctor-compounding", "doctor", password=PASSWORD)
        factories.make_safe_patient(mrn="MRN-5120", name="Inês Duarte")
        db.session.commit()
        serum = db.session.scalar(
            select(Serum).where(Serum.code == CODE, Serum.status == SerumStatus.APPROVED)
        )
        serum_id, serum_name, version = serum.id, serum.name, serum.version
        first_day = clinic_today()
    today = day_text(first_day)
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)

    # The pharmacist compounds 5 doses from the stock board's Compounding page.
    sign_in(page, "pharmacist-maker")
    expect(page).to_have_url(re.compile(r"/stock$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compounding").click()
    form = page.locator("#batch-form")
    form.get_by_label("Serum").select_option(label=f"{serum_name} ({CODE} v{version})")
    form.get_by_label("Doses").fill("5")
    form.get_by_label("Storage").select_option("refrigerated")
    form.get_by_role("button", name="Compound").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Compounded 5 doses of {serum_name}")
    expect(page.locator("#check-status")).to_contain_text("In quarantine")
    expect(page.locator("#second-pharmacist-needed")).to_contain_text(
        "a second pharmacist must check it"
    )
    expect(page.get_by_role("button", name="Verify and release")).to_have_count(0)
    expect(page.locator("#prepared")).to_contain_text("by pharmacist-maker")
    lot_number = page.locator("h1").inner_text().rsplit(" ", 1)[-1]
    assert re.fullmatch(r"HAIR-VIT-AA-\d{6}-1", lot_number) and len(lot_number) <= 20

    # Its label, printed before the check, says so.
    page.get_by_role("link", name="Print label").click()
    label = page.locator("article.lot-label")
    expect(label.locator(".label-lot")).to_have_text(lot_number)
    expect(label).to_contain_text("by pharmacist-maker")
    expect(label.locator(".label-checked")).to_have_text("Not yet checked: do not use")
    page.get_by_role("button", name="Sign out").click()

    # A second pharmacist opens the batch from the compounding page and verifies it.
    sign_in(page, "pharmacist-checker")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compounding").click()
    page.get_by_role("link", name=lot_number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(lot_number)
    expect(page.get_by_role("button", name="Reject")).to_be_visible()
    page.get_by_role("button", name="Verify and release").click()
    expect(page.locator(".flash-success")).to_contain_text(
        f"Verified batch {lot_number} of {serum_name}: its lot is released"
    )
    expect(page.locator("#check-status")).to_contain_text(
        f"Verified by pharmacist-checker on {today}"
    )
    expect(page.locator("#lot-status")).to_have_text("Available")
    expect(page.get_by_role("button", name="Verify and release")).to_have_count(0)
    screenshot(page, "compounding-batch")
    page.get_by_role("link", name="Print label").click()
    expect(page.locator("article.lot-label .label-checked")).to_contain_text(
        f"Checked by pharmacist-checker on {today}"
    )
    page.get_by_role("button", name="Sign out").click()

    # The doctor plans a course of the serum and completes its first session with the batch.
    sign_in(page, "doctor-compounding")
    expect(page).to_have_url(re.compile(r"/today$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Find a patient by name or record number").fill("Duarte")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Inês Duarte").click()
    plan = page.locator("#plan-form")
    plan.get_by_label("Serum").select_option(str(serum_id))
    plan.get_by_label("First session").fill(first_day.isoformat())
    plan.get_by_role("button", name="Plan the course").click()
    expect(page.locator(".flash-success")).to_contain_text("planned: 4 sessions from")

    summary = page.get_by_text(f"Complete or cancel the session of {today}")
    summary.focus()
    page.keyboard.press("Enter")
    session = page.locator("details", has=summary)
    lots = session.get_by_label("Lot")
    batch_lot = lots.locator("option", has_text=lot_number)
    expect(batch_lot).to_have_count(1)
    lots.select_option(batch_lot.get_attribute("value"))
    session.get_by_label("Needle length (mm)").fill("4")
    session.get_by_label("Technique").select_option("manual")
    session.get_by_label("Injection points").fill("100")
    session.get_by_role("button", name="Complete the session").click()
    expect(page.locator(".flash-success")).to_contain_text(
        f"Session of {today} completed: 1 dose from lot {lot_number}"
    )
    expect(page.locator("tr.session-completed")).to_contain_text(lot_number)
    assert questions == []

    with live_app.app_context():
        batch = db.session.scalar(select(Batch).where(Batch.serum_id == serum_id))
        assert batch.lot.status == LotStatus.AVAILABLE
        assert (batch.prepared_by, batch.verified_by_name) == (
            "pharmacist-maker",
            "pharmacist-checker",
        )
        assert batch.lot.quantity_on_hand == 4


@pytest.mark.parametrize("who", ["pharmacist-preparer", "pharmacist-second"])
def test_the_batch_page_fits_a_phone_and_passes_axe(live_app, browser, live_server, who):
    with live_app.app_context():
        preparer = create_user("pharmacist-preparer", "pharmacist", password=PASSWORD)
        create_user("pharmacist-second", "pharmacist", password=PASSWORD)
        biotin = factories.make_substance("biotin-phone")
        serum = factories.make_approved_serum(
            components=[(biotin, 10, "mg")], code="HAIR-BIOTIN-PHONE", name="Biotin serum"
        )
        factories.make_serum_product(serum, name="Biotin serum 2 mL")
        powder = factories.make_product(
            "component", substance_id=biotin.id, unit="mg", name="Biotin powder"
        )
        factories.make_lot(
            powder, quantity="1000", expiry_date=clinic_today() + timedelta(days=365)
        )
        batch = compound(serum, Decimal(5), user=preparer, now=utcnow(), storage="refrigerated")
        db.session.commit()
        lot_number = batch.lot.lot_number
    assert lot_number.startswith("HAIR-BIOTIN-") and len(lot_number) == 20  # the code cut
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    sign_in(page, who)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compounding").click()
    page.get_by_role("link", name=lot_number).click()
    if who == "pharmacist-second":
        expect(page.get_by_role("button", name="Verify and release")).to_be_visible()
    else:
        expect(page.locator("#second-pharmacist-needed")).to_be_visible()
    problems = problems_of(page, "the batch page")
    context.close()
    assert problems == []
