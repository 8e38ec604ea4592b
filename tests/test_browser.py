"""The web interface in a real headless Chromium against a real gunicorn server (production
configuration: CSRF on, CSP without inline script, Secure cookies): a pharmacist sees the open
alerts, receives a lot by scanning its barcode and dispenses it; a doctor records an allergy by
a synonym, sees a serum turn contraindicated, plans a course of a safe one and completes its
first session; an administrator runs the alert scan, acknowledges an alert, manages users,
reads the audit log and adds a condition rule. Each test saves full-page screenshots of its
role's pages to docs/screenshots/.

Playwright drives Debian's Chromium (/usr/bin/chromium): `make test` installs it when missing.
"""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from clinic.conditions import seed_condition_rules
from clinic.patients import create_patient
from core.accounts import create_user
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from formulary.models import Serum
from formulary.seed import seed_catalogue, seed_demo_serums
from inventory.demo import seed_demo_stock
from inventory.lots import Expiry, receive
from inventory.products import create_product
from ops.jobs import run_scan_job

pytestmark = [pytest.mark.browser, pytest.mark.server]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "browser test password"
GTIN = "09501101530003"


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Signed in as {username}")


def screenshot(page: Page, role: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{role}.png"), full_page=True)


def gs1(gtin: str, expiry, lot: str) -> str:
    """The element string a scanner types: GTIN (01), expiry (17, YYMMDD), lot (10) last."""
    return f"01{gtin}17{expiry.strftime('%y%m%d')}10{lot}"


def test_a_pharmacist_receives_a_lot_by_barcode_and_dispenses_it(live_app, page):
    with live_app.app_context():
        today = clinic_today()
        pharmacist = create_user("pharmacist-browser", "pharmacist", password=PASSWORD)
        now = utcnow()
        vials = create_product(
            kind="consumable", name="Hyaluronic acid base 2 mL", unit="vial", gtin=GTIN,
            reorder_point=Decimal(20),
        )  # fmt: skip
        receive(
            product_id=vials.id,
            lot_number="HA-EARLY",
            expiry=Expiry(today + timedelta(days=5)),
            quantity=Decimal(3),
            user_id=pharmacist.id,
            now=now,
        )
        needles = create_product(kind="consumable", name="Needle 30G 4 mm", unit="piece")
        for days, lot, quantity in ((24, "N-24", 100), (58, "N-58", 200), (85, "N-85", 50)):
            receive(
                product_id=needles.id,
                lot_number=lot,
                expiry=Expiry(today + timedelta(days=days)),
                quantity=Decimal(quantity),
                user_id=pharmacist.id,
                now=now,
            )
        db.session.commit()
        vials_id = vials.id
        run_scan_job(as_of=today)
    expiry = today + timedelta(days=60)

    sign_in(page, "pharmacist-browser")
    expect(page).to_have_url(re.compile(r"/stock$"))
    expect(page.get_by_role("heading", name="Stock board")).to_be_visible()
    expect(page.locator("p.notice")).to_have_text(
        "Alert inbox: 5 open alerts (4 expiring, 1 low stock)."
    )
    expect(page.locator("svg .week-cell.urgent title")).to_contain_text(
        "Hyaluronic acid base 2 mL: 3 vial in 1 lot"
    )

    barcode = page.get_by_label("Barcode")
    expect(barcode).to_be_focused()
    page.keyboard.type(gs1(GTIN, expiry, "HA-2207"))
    page.keyboard.press("Enter")
    expect(page.locator("#barcode-status")).to_contain_text("lot HA-2207")
    expect(page.locator("#product_id")).to_have_value(str(vials_id))
    expect(page.locator("#lot_number")).to_have_value("HA-2207")
    expect(page.locator("#expiry_date")).to_have_value(expiry.isoformat())
    expect(page.locator("#quantity")).to_be_focused()
    page.keyboard.type("12")
    page.get_by_role("button", name="Receive").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Received new lot HA-2207 of Hyaluronic acid base 2 mL: 12 vial on hand"
    )

    page.locator("#dispense-product_id").select_option(str(vials_id))
    page.locator("#dispense-quantity").fill("5")
    page.get_by_role("button", name="Dispense").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Dispensed 5 vial of Hyaluronic acid base 2 mL: 3 from lot HA-EARLY, 2 from lot HA-2207."
    )
    low = page.locator("section", has=page.get_by_role("heading", name="Low stock"))
    expect(low).to_contain_text("Hyaluronic acid base 2 mL")
    screenshot(page, "pharmacist")

    page.get_by_role("link", name="HA-2207", exact=True).click()
    expect(page.get_by_role("heading", name="Ledger")).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("receive")
    expect(rows.nth(1)).to_contain_text("dispense")
    expect(rows.nth(1)).to_contain_text("-2")


def test_a_doctor_records_an_allergy_by_synonym_and_sees_the_serum_turn_contraindicated(
    live_app, page
):
    with live_app.app_context():
        today = clinic_today()
        seed_catalogue()
        seed_condition_rules()
        author = create_user("pharmacist-author", "pharmacist", password=PASSWORD)
        approver = create_user("admin-approver", "admin", password=PASSWORD)
        seed_demo_serums(author, approver)
        seed_demo_stock(utcnow())
        create_user("doctor-browser", "doctor", password=PASSWORD)
        create_patient({"mrn": "MRN-4410", "name": "Marta Sousa", "sex": "female",
                        "alopecia_scale": "ludwig", "alopecia_stage": 2})  # fmt: skip
        create_patient({"mrn": "MRN-4411", "name": "Jorge Almeida", "sex": "male"})
        db.session.commit()
        hair_pn = db.session.scalar(select(Serum.id).where(Serum.code == "HAIR-PN"))

    sign_in(page, "doctor-browser")
    expect(page).to_have_url(re.compile(r"/today$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()
    screenshot(page, "doctor")
    page.get_by_label("Find a patient by name or record number").fill("sousa")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Marta Sousa").click()

    serum = page.locator('li.serum[data-serum="HAIR-VIT-AA"]')
    expect(serum.locator(".badge")).to_have_text("Caution")
    page.get_by_label("Substance").fill("B12")
    page.get_by_label("Criticality").select_option("high")
    page.get_by_role("button", name="Record allergy").click()

    expect(page.locator(".flash-success")).to_contain_text("Allergy to cyanocobalamin")
    expect(serum.locator(".badge")).to_have_text("Contraindicated")
    expect(serum.locator(".reasons")).to_contain_text(
        "Allergy to cyanocobalamin: the serum contains cyanocobalamin."
    )
    expect(page.locator('li.serum[data-serum="HAIR-PN"] .badge')).to_have_text("Safe")
    expect(page.locator("#allergy-status")).to_have_text("recorded")

    # A course of the safe serum from today, then its first session completed from the page.
    plan = page.locator("#plan-form")
    expect(plan.get_by_label("Serum").locator("option", has_text="HAIR-VIT-AA")).to_have_count(0)
    plan.get_by_label("Serum").select_option(str(hair_pn))
    plan.get_by_label("First session").fill(today.isoformat())
    plan.get_by_role("button", name="Plan the course").click()
    expect(page.locator(".flash-success")).to_contain_text("planned: 4 sessions from")
    course = page.locator("article.course")
    expect(course.locator(".badge")).to_have_text("Safe")

    summary = page.get_by_text(f"Complete or cancel the session of {day_text(today)}")
    summary.focus()
    page.keyboard.press("Enter")
    session = page.locator("details", has=summary)
    session.get_by_label("Needle length (mm)").fill("4")
    session.get_by_label("Technique").select_option("manual")
    session.get_by_label("Injection points").fill("120")
    session.get_by_role("button", name="Complete the session").click()
    expect(page.locator(".flash-success")).to_contain_text(
        f"Session of {day_text(today)} completed: 1 dose from lot"
    )
    done = page.locator("tr.session-completed")
    expect(done).to_have_count(1)
    expect(done).to_contain_text("4 mm")
    expect(done.get_by_role("link", name=re.compile("Sheet"))).to_have_attribute(
        "href", re.compile(r"/sessions/\d+/aftercare$")
    )
    screenshot(page, "doctor-patient")


def test_an_administrator_scans_acknowledges_an_alert_manages_users_and_adds_a_rule(live_app, page):
    with live_app.app_context():
        today = clinic_today()
        seed_condition_rules()
        admin = create_user("admin-browser", "admin", password=PASSWORD)
        create_user("pharmacist-lena", "pharmacist", password=PASSWORD, email="lena@clinic.example")
        now = utcnow()
        base = create_product(
            kind="consumable", name="Hyaluronic acid base 2 mL", unit="vial",
            reorder_point=Decimal(20),
        )  # fmt: skip
        receive(
            product_id=base.id,
            lot_number="HA-0605",
            expiry=Expiry(today + timedelta(days=5)),
            quantity=Decimal(6),
            user_id=admin.id,
            now=now,
        )
        needles = create_product(kind="consumable", name="Needle 30G 4 mm", unit="piece")
        receive(
            product_id=needles.id,
            lot_number="N-25",
            expiry=Expiry(today + timedelta(days=25)),
            quantity=Decimal(100),
            user_id=admin.id,
            now=now,
        )
        db.session.commit()

    sign_in(page, "admin-browser")
    expect(page.get_by_role("heading", name="Administration", exact=True)).to_be_visible()
    health = page.locator("section", has=page.get_by_role("heading", name="Health"))
    expect(health).to_contain_text("degraded")
    page.get_by_role("button", name="Run the scan now").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"The scan of {day_text(today)} created 3 alert(s): 2 expiring, 1 low stock."
    )
    expect(health.locator(".badge")).to_have_text("ok")
    history = page.locator("table.scans tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("succeeded")
    screenshot(page, "admin")

    page.get_by_role("link", name="Open the alert inbox").click()
    expect(page.get_by_role("heading", name="Alert inbox")).to_be_visible()
    expect(page.locator("tr.alert-row")).to_have_count(3)
    screenshot(page, "admin-alerts")
    page.get_by_role(
        "button", name="Acknowledge the expiring alert for Hyaluronic acid base 2 mL lot HA-0605"
    ).click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Acknowledged: Lot HA-0605 of Hyaluronic acid base 2 mL reaches its last day of use"
    )
    expect(page.locator("tr.alert-row")).to_have_count(2)
    page.get_by_label("Status").select_option("acknowledged")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/alerts\?status=acknowledged"))
    acknowledged = page.locator("tr.alert-row")
    expect(acknowledged).to_have_count(1)
    expect(acknowledged).to_contain_text("HA-0605")
    expect(acknowledged).to_contain_text("Acknowledged by admin-browser")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("dr-rui")
    page.get_by_label("Role").select_option("doctor")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator(".flash-success")).to_have_text("User dr-rui (doctor) created.")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Deactivate pharmacist-lena").click()
    expect(page.locator(".flash-success")).to_have_text("pharmacist-lena can no longer sign in.")
    assert questions == ["Deactivate pharmacist-lena? They are signed out everywhere now."]

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.get_by_label("User").fill("admin-browser")
    page.get_by_label("Kind of record").select_option(label="Users")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("ol.audit-writes")).to_contain_text("Created user dr-rui")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Condition rules").click()
    page.get_by_label("Code").fill("isotretinoin_use")
    page.get_by_label("Label").fill("Isotretinoin treatment")
    page.get_by_label("Message for the doctor").fill("Isotretinoin slows healing: wait.")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("table")).to_contain_text("Isotretinoin slows healing: wait.")
