"""A transfer between two sites in a real headless Chromium against a real gunicorn server,
each person from their own home and only through links, buttons and forms: a pharmacist in
Paris sends vials of a serum to Lyon (the lot scanned, the shipment asked first); a pharmacist
in Lyon, on a 390 px phone, checks the lot by its barcode as it is unpacked and receives it;
the doctor in Lyon then uses it in today's session. The phone pages pass axe-core."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from clinic.models import TreatmentSession
from core.clock import clinic_today, day_text
from core.database import db
from inventory.models import Lot
from tests import factories
from tests.test_browser import GTIN, PASSWORD, gs1, screenshot, sign_in
from tests.test_browser_pages import PHONE, problems_of

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def two_sites(live_app):
    """Paris holds a lot of a serum; Lyon has none, and a patient whose session is today."""
    with live_app.app_context():
        paris = factories.clinic_site()
        lyon = factories.make_site(code="LYON", name="Lyon Bellecour")
        factories.make_user(
            role="pharmacist", username="pharmacist-paris", sites=[paris], password=PASSWORD
        )
        factories.make_user(
            role="pharmacist", username="pharmacist-lyon", sites=[lyon], password=PASSWORD
        )
        doctor = factories.make_user(
            role="doctor", username="doctor-lyon", sites=[lyon], password=PASSWORD
        )
        serum = factories.make_approved_serum(name="Revitalising serum")
        product = factories.make_serum_product(serum, name="Revitalising serum 2 mL", gtin=GTIN)
        expiry = clinic_today() + timedelta(days=200)
        factories.make_lot(product, quantity="10", expiry_date=expiry, lot_number="RS-2207",
                           site_id=paris.id, now=factories.STOCK_NOW)  # fmt: skip
        patient = factories.make_safe_patient(name="Lea Martin")
        course = factories.make_course(patient=patient, serum=serum, start_date=clinic_today(),
                                       doctor=doctor, site_id=lyon.id)  # fmt: skip
        return {"barcode": gs1(GTIN, expiry, "RS-2207"), "session_id": course.sessions[0].id,
                "lyon": lyon.id, "day": day_text(clinic_today())}  # fmt: skip


def test_paris_ships_lyon_receives_by_barcode_and_its_doctor_uses_the_lot(
    live_app, browser, live_server, page, two_sites
):
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    sign_in(page, "pharmacist-paris")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Transfers").click()
    page.get_by_role("link", name="Send stock to another site").click()
    page.get_by_label("Send to").select_option(label="Lyon Bellecour")
    page.get_by_role("button", name="Start the transfer").click()
    page.get_by_label("Lot", exact=True).fill(two_sites["barcode"])
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Add to the transfer").click()
    expect(page.locator(".flash-success")).to_contain_text("Added 3 dose of")
    page.get_by_role("button", name="Ship to Lyon Bellecour").click()
    expect(page.locator(".flash-success")).to_contain_text("Shipped to Lyon Bellecour")
    assert questions == ["Ship 1 lot to Lyon Bellecour? The stock leaves Main site now."]

    phone = browser.new_context(base_url=live_server.base_url, viewport=PHONE, bypass_csp=True)
    lyon = phone.new_page()
    sign_in(lyon, "pharmacist-lyon")
    lyon.get_by_role("navigation", name="Main").get_by_role("link", name="Transfers").click()
    lyon.get_by_role("link", name=re.compile(r"^Transfer \d+$")).click()
    expect(lyon.locator("#transfer-lines")).to_contain_text("Not yet")
    assert problems_of(lyon, "a transfer to receive") == []
    lyon.get_by_label("Scan a lot as you unpack it").fill(two_sites["barcode"])
    lyon.get_by_role("button", name="Check the lot").click()
    expect(lyon.locator(".flash-success")).to_contain_text("Lot RS-2207 checked: 1 of 1 lots.")
    lyon.get_by_role("button", name="Receive at Lyon Bellecour").click()
    expect(lyon.locator(".flash-success")).to_contain_text("Received at Lyon Bellecour")
    screenshot(lyon, "pharmacist-transfer-received")
    assert problems_of(lyon, "a received transfer") == []
    phone.close()

    doctor = browser.new_context(base_url=live_server.base_url)
    today = doctor.new_page()
    sign_in(today, "doctor-lyon")
    today.get_by_role("link", name="Lea Martin").first.click()
    day = two_sites["day"]
    summary = today.get_by_text(f"Complete or cancel the session of {day}")
    summary.click()
    session = today.locator("details", has=summary)
    session.get_by_label("Needle length (mm)").fill("4")
    session.get_by_label("Technique").select_option("manual")
    session.get_by_label("Injection points").fill("100")
    session.get_by_role("button", name="Complete the session").click()
    expect(today.locator(".flash-success")).to_contain_text(f"Session of {day} completed")
    expect(today.locator("tr.session-completed")).to_contain_text("RS-2207")
    doctor.close()

    with live_app.app_context():
        used = db.session.get(TreatmentSession, two_sites["session_id"]).lot_id
        lot = db.session.scalar(select(Lot).where(Lot.id == used))
        assert (lot.site_id, lot.lot_number) == (two_sites["lyon"], "RS-2207")
        assert lot.quantity_on_hand == 2  # 3 arrived, 1 dose used
