"""A course's results in a real headless Chromium against a real gunicorn server, from the
patient page using only links, buttons and forms: the doctor records the baseline with two
scalp photos, completes the four weekly sessions, records the review with new photos, sees
the photos side by side and the chart of the scores, and chooses to continue with monthly
maintenance; the page never wider than a 390 px phone. A screenshot of the course's results
goes to docs/screenshots/doctor-results.png.
"""

import re
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select, update

from clinic.conditions import seed_condition_rules
from clinic.courses import plan_course
from clinic.models import AllergyStatus, SessionStatus, TreatmentSession
from clinic.patients import create_patient
from core.accounts import create_user
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from formulary.models import Serum
from formulary.seed import seed_catalogue, seed_demo_serums
from inventory.demo import seed_demo_stock
from inventory.models import Lot
from tests.test_browser import PASSWORD, SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(autouse=True)
def photo_folder(tmp_path, monkeypatch):
    """The server stores the photos in a folder of the test's own (set before it starts)."""
    folder = tmp_path / "photos"
    monkeypatch.setenv("PHOTO_FOLDER", str(folder))
    return folder


@pytest.fixture
def scalp_photos(tmp_path):
    """Four JPEGs that look a little like scalp photos: baseline and review, vertex and
    frontal, the review's with more 'hair' drawn."""
    paths = {}
    for when, strands in (("baseline", 40), ("review", 90)):
        for view in ("vertex", "frontal"):
            image = Image.new("RGB", (1200, 900), (214, 176, 150))
            draw = ImageDraw.Draw(image)
            for n in range(strands):
                x = 40 + (n * 53) % 1120
                draw.line([(x, 60 + n % 7 * 9), (x + 25, 840)], fill=(60, 42, 30), width=6)
            path = tmp_path / f"{when}-{view}.jpg"
            image.save(path, "JPEG", quality=85)
            paths[when, view] = str(path)
    return paths


@pytest.fixture
def course_under_way(live_app):
    """Marta (Ludwig II, no known allergies) on a course of HAIR-PN whose first session was
    eleven weeks ago: four weekly sessions, then two monthly (the first of them past, the
    second still to come)."""
    with live_app.app_context():
        today = clinic_today()
        seed_catalogue()
        seed_condition_rules()
        author = create_user("pharmacist-author", "pharmacist", password=PASSWORD)
        approver = create_user("admin-approver", "admin", password=PASSWORD)
        seed_demo_serums(author, approver)
        seed_demo_stock(utcnow())
        db.session.execute(update(Lot).values(received_at=utcnow() - timedelta(days=120)))
        doctor = create_user("doctor-results", "doctor", password=PASSWORD)
        marta = create_patient(
            {"mrn": "MRN-7710", "name": "Marta Sousa", "sex": "female",
             "alopecia_scale": "ludwig", "alopecia_stage": 2}
        )  # fmt: skip
        marta.allergy_status = AllergyStatus.NO_KNOWN_ALLERGIES
        hair_pn = db.session.scalar(select(Serum).where(Serum.code == "HAIR-PN"))
        start = today - timedelta(weeks=11)
        course = plan_course(
            marta, hair_pn.id, start_date=start, induction_sessions=4, maintenance_months=2,
            doctor=doctor,
        )  # fmt: skip
        db.session.commit()
        return {
            "today": today,
            "start": start,
            "course_id": course.id,
            "review": course.review_date,
        }


def test_the_doctor_records_the_results_compares_them_and_continues_with_maintenance(
    course_under_way, scalp_photos, page, live_app
):
    start, today = course_under_way["start"], course_under_way["today"]
    course_id = course_under_way["course_id"]
    sign_in(page, "doctor-results")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Marta Sousa").click()
    results = page.locator(f"#course-{course_id}-results")
    expect(results).to_contain_text(f"Review due {day_text(course_under_way['review'])}")

    # The baseline, dated the day of the first session, with two photos.
    results.get_by_role("link", name=re.compile("^Record the baseline")).click()
    expect(page.get_by_role("heading", name=re.compile("Record the baseline"))).to_be_visible()
    expect(page.get_by_label("Global photographic assessment")).to_have_count(0)
    page.get_by_label("Date of the visit").fill(start.isoformat())
    for label, value in (("Less hair loss", "2"), ("Healthier scalp", "4"),
                         ("Less itching", "6"), ("Better hair quality", "3")):  # fmt: skip
        page.get_by_label(re.compile(f"^{label}")).fill(value)
    page.get_by_label("Hair-pull test: hairs that came out").fill("14")
    page.get_by_label("Photo: vertex").set_input_files(scalp_photos["baseline", "vertex"])
    page.get_by_label("Photo: frontal").set_input_files(scalp_photos["baseline", "frontal"])
    page.get_by_role("button", name="Record the baseline").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"Baseline of {day_text(start)} recorded with 2 photos."
    )

    # The four weekly sessions, each completed on its day.
    for week in range(4):
        day = day_text(start + timedelta(weeks=week))
        summary = page.get_by_text(f"Complete or cancel the session of {day}")
        summary.click()
        session = page.locator("details", has=summary)
        session.get_by_label("Needle length (mm)").fill("4")
        session.get_by_label("Technique").select_option("manual")
        session.get_by_label("Injection points").fill("120")
        session.get_by_role("button", name="Complete the session").click()
        expect(page.locator(".flash-success")).to_contain_text(f"Session of {day} completed")
    expect(page.locator("tr.session-completed")).to_have_count(4)

    # The review, today, with new photos of the same views; the decision after seeing them.
    results.get_by_role("link", name=re.compile("^Record the review")).click()
    page.get_by_label("Global photographic assessment").select_option("2")
    for label, value in (("Less hair loss", "7"), ("Healthier scalp", "7"),
                         ("Less itching", "8"), ("Better hair quality", "6")):  # fmt: skip
        page.get_by_label(re.compile(f"^{label}")).fill(value)
    page.get_by_label("Hair-pull test: hairs that came out").fill("5")
    page.get_by_label("Photo: vertex").set_input_files(scalp_photos["review", "vertex"])
    page.get_by_label("Photo: frontal").set_input_files(scalp_photos["review", "frontal"])
    expect(page.get_by_label("Decision")).to_have_value("")
    page.get_by_role("button", name="Record the review").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"Review of {day_text(today)} recorded with 2 photos."
    )
    expect(results).to_contain_text(f"Reviewed on {day_text(today)}: no decision yet.")

    # The comparison: per view, the baseline beside the review, each photo really served.
    for view in ("vertex", "frontal"):
        pair = results.locator(f'.photo-pair[data-view="{view}"]')
        images = pair.locator("img")
        expect(images).to_have_count(2)
        expect(images.nth(0)).to_have_attribute(
            "alt", re.compile(f"at the baseline of {day_text(start)}")
        )
        expect(images.nth(1)).to_have_attribute(
            "alt", re.compile(f"at the review of {day_text(today)}")
        )
        for n in range(2):
            images.nth(n).scroll_into_view_if_needed()
            loaded = images.nth(n).evaluate("img => img.complete && img.naturalWidth")
            assert loaded == 1200, f"the {view} photo did not load ({loaded})"

    # The chart of the scores over time, named for assistive technology, with its table.
    chart = results.get_by_role("img", name="The patient's scores over time")
    expect(chart).to_be_visible()
    expect(chart.locator("[data-series='hair_loss'] path")).to_have_count(1)
    expect(chart.locator("[data-series='hair_loss'] g")).to_have_count(2)
    expect(
        results.get_by_role("img", name="Global photographic assessment over time")
    ).to_be_visible()
    rows = results.locator("table.scores tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("+2 better")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    results.screenshot(path=str(SCREENSHOTS / "doctor-results.png"))

    # Maintenance goes on: nothing is cancelled, the monthly session still to come stays.
    results.get_by_role("button", name="Continue with monthly maintenance").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Review decision: continue with monthly maintenance. The planned maintenance sessions stay."
    )
    expect(results).to_contain_text("continue with monthly maintenance")
    expect(results.get_by_role("button", name="Stop the treatment")).to_have_count(0)
    with live_app.app_context():
        planned = db.session.scalars(
            select(TreatmentSession.scheduled_date).where(
                TreatmentSession.course_id == course_id,
                TreatmentSession.status == SessionStatus.PLANNED,
            )
        ).all()
        cancelled = db.session.scalars(
            select(TreatmentSession.id).where(TreatmentSession.status == SessionStatus.CANCELLED)
        ).all()
    assert len(planned) == 2 and max(planned) > today and cancelled == []

    # On a phone: the photos and the chart shrink, the table stacks, nothing pans sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the patient page is {width} px wide on a 390 px phone"
