"""The doctor's day in a real headless Chromium against a real gunicorn server, from the
doctor's home (Today) using only links, buttons and forms: the sessions planned today and this
week across patients; an allergy corrected to entered in error and the verdict changing; a
side effect recorded and withdrawn (with the confirmation dialog); the patient page on a
390 px phone never wider than the screen. Screenshots of Today and of the patient page go to
docs/screenshots/ (doctor-today.png, doctor-patient-corrections.png).
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from clinic.allergies import record_allergy, resolve_substance
from clinic.conditions import seed_condition_rules
from clinic.courses import plan_course
from clinic.models import AllergyStatus
from clinic.patients import create_patient
from clinic.sessions import complete_session
from core.accounts import create_user
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from formulary.models import Serum
from formulary.seed import seed_catalogue, seed_demo_serums
from inventory.demo import seed_demo_stock
from inventory.models import Lot
from tests.test_browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.server]

PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 120}


def _serum(code: str) -> Serum:
    return db.session.scalar(db.select(Serum).where(Serum.code == code))


@pytest.fixture
def clinic_week(live_app):
    """Marta, allergic to B12 (so HAIR-VIT-AA is contraindicated), on a weekly course of
    HAIR-PN whose first session was a week ago and whose second is today; Jorge's course of
    HAIR-PN starts in two days."""
    with live_app.app_context():
        today = clinic_today()
        seed_catalogue()
        seed_condition_rules()
        author = create_user("pharmacist-author", "pharmacist", password=PASSWORD)
        approver = create_user("admin-approver", "admin", password=PASSWORD)
        seed_demo_serums(author, approver)
        seed_demo_stock(utcnow())
        # On the shelf for a month: last week's session could use it (a session never uses
        # a lot received after its day).
        db.session.execute(update(Lot).values(received_at=utcnow() - timedelta(days=30)))
        doctor = create_user("doctor-today", "doctor", password=PASSWORD)
        marta = create_patient(
            {"mrn": "MRN-5510", "name": "Marta Sousa", "sex": "female",
             "alopecia_scale": "ludwig", "alopecia_stage": 2}
        )  # fmt: skip
        record_allergy(marta, resolve_substance(name="B12"), fields={"criticality": "high"})
        jorge = create_patient(
            {"mrn": "MRN-5511", "name": "Jorge Almeida", "sex": "male",
             "alopecia_scale": "norwood", "alopecia_stage": 3}
        )  # fmt: skip
        jorge.allergy_status = AllergyStatus.NO_KNOWN_ALLERGIES
        hair_pn = _serum("HAIR-PN")
        course = plan_course(
            marta,
            hair_pn.id,
            start_date=today - timedelta(days=7),
            induction_sessions=4,
            maintenance_months=0,
            doctor=doctor,
        )
        complete_session(course.sessions[0], doctor=doctor, fields=dict(PROCEDURE), now=utcnow())
        plan_course(
            jorge,
            hair_pn.id,
            start_date=today + timedelta(days=2),
            induction_sessions=4,
            maintenance_months=0,
            doctor=doctor,
        )
        db.session.commit()
    return today


def test_a_doctor_starts_from_today_corrects_an_allergy_and_withdraws_a_side_effect(
    clinic_week, page
):
    today = clinic_week
    last_week = day_text(today - timedelta(days=7))

    sign_in(page, "doctor-today")
    expect(page).to_have_url(re.compile(r"/today$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Today"))).to_be_visible()
    planned_today = page.locator("#today")
    expect(planned_today.locator("tr.agenda-entry")).to_have_count(1)
    expect(planned_today).to_contain_text("Marta Sousa")
    expect(planned_today).to_contain_text("HAIR-PN")
    expect(planned_today.locator(".badge")).to_have_text("Safe")
    week = page.locator("#week")
    expect(week.locator("tr.agenda-entry")).to_have_count(1)
    expect(week).to_contain_text("Jorge Almeida")
    expect(week).to_contain_text(day_text(today + timedelta(days=2)))
    screenshot(page, "doctor-today")

    planned_today.get_by_role("link", name="Marta Sousa").click()
    expect(page.get_by_role("heading", name=re.compile("Marta Sousa"))).to_be_visible()
    vit = page.locator('li.serum[data-serum="HAIR-VIT-AA"]')
    expect(vit.locator(".badge")).to_have_text("Contraindicated")

    # The B12 allergy was recorded by mistake: entered in error, the serum no longer blocked.
    page.get_by_role("link", name="Correct the allergy to cyanocobalamin").click()
    page.get_by_label("Verification").select_option("entered-in-error")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Allergy to cyanocobalamin corrected: entered in error, active; it no longer weighs"
    )
    expect(vit.locator(".badge")).to_have_text("Caution")
    expect(vit.locator(".reasons")).to_contain_text("Allergy history not taken")
    expect(page.locator("#allergy-status")).to_have_text("unknown")

    # A side effect of last week's session, then withdrawn as recorded by mistake.
    page.get_by_text(f"Record a side effect of the session of {last_week}").click()
    effect_form = page.locator("form.side-effect-form")
    effect_form.get_by_label("Side effect").select_option("hematoma")
    effect_form.get_by_label("Severity").select_option("mild")
    effect_form.get_by_role("button", name="Record side effect").click()
    expect(page.locator(".flash-success")).to_have_text("Side effect recorded: hematoma (mild).")
    done = page.locator("tr.session-completed")
    expect(done).to_contain_text("hematoma (mild)")

    page.get_by_text(f"Side effects of the session of {last_week}: record or withdraw").click()
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.get_by_role("button", name="Entered in error: hematoma (mild)").click()
    expect(page.locator(".flash-success")).to_contain_text(
        f"Side effect “hematoma (mild)” of the session of {last_week} marked entered in error"
    )
    assert questions and questions[0].startswith("Mark the side effect “hematoma (mild)”")
    expect(done).not_to_contain_text("hematoma")
    screenshot(page, "doctor-patient-corrections")

    # At the chair, on a phone: the session table stacks, the page never pans sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the patient page is {width} px wide on a 390 px phone"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"Today is {width} px wide on a 390 px phone"
