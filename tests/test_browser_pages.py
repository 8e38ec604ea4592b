"""Every page of every role, on a phone and for assistive technology: signed in as each demo
role, the test follows every link from the role's home (one page per address pattern, so
/stock/lots/1 stands for every lot) and, with every folded section opened, asserts that

- at 390 x 844 (a phone held upright) the document is no wider than the screen, and
- axe-core (vendored in tests/vendor/axe-core with its licence) finds no serious or critical
  violation.

A new page is covered as soon as a link leads to it. The demo clinic's first course has its
results (a baseline and a review, with a photo each; every course has, whichever patient the
crawl reaches first), so that the patient page shows the
photos side by side, the charts and the review's decision, and links to the assessment form.
"""

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Page
from sqlalchemy import select

from clinic.assessments import add_photo, first_session_day, record_assessment
from clinic.courses import plan_course
from clinic.models import Course, Patient
from core.accounts import User
from core.clock import clinic_today, utcnow
from core.database import db
from core.errors import DomainError
from formulary.models import Serum, SerumStatus
from ops.jobs import run_scan_job

pytestmark = [pytest.mark.browser, pytest.mark.server]

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
DEMO_LOGINS = {
    "pharmacist": "pharmacist-demo-pass",
    "doctor": "doctor-demo-pass",
    "admin": "admin-demo-pass1",
}
MOST_PAGES = 60
NOT_PAGES = re.compile(r"^/(api|static)/|\.(csv|pdf|png|svg)$|/label$")
SERIOUS = {"serious", "critical"}


@pytest.fixture
def photo_folder(live_app, tmp_path, monkeypatch):
    """One photo folder for the fixture's writes and the server's reads (set before it
    starts)."""
    folder = str(tmp_path / "photos")
    monkeypatch.setenv("PHOTO_FOLDER", folder)
    monkeypatch.setitem(live_app.config, "PHOTO_FOLDER", folder)
    return folder


@pytest.fixture
def demo_clinic(live_app, photo_folder):
    """The demo data of `make run`, a planned course with its results and a scan's alerts."""
    with live_app.app_context():
        result = live_app.test_cli_runner().invoke(args=["seed", "--demo"])
        assert result.exit_code == 0, result.output
        _plan_courses()
        _assess_the_courses()
        db.session.commit()
        run_scan_job(as_of=clinic_today())
    return live_app


def _plan_courses() -> None:
    """Each demo patient gets a course of the first serum their screen allows."""
    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    serums = db.session.scalars(select(Serum).where(Serum.status == SerumStatus.APPROVED)).all()
    for patient in db.session.scalars(select(Patient)):
        for serum in serums:
            try:
                with db.session.begin_nested():
                    plan_course(
                        patient,
                        serum.id,
                        start_date=clinic_today(utcnow()),
                        induction_sessions=4,
                        maintenance_months=2,
                        doctor=doctor,
                    )
                break
            except DomainError:
                continue


def _assess_the_courses() -> None:
    """A baseline (on the first session's day, or today if that is later) and, once the first
    session is due, a review (today) of each course, with a vertex photo each: the results as
    the patient page shows them, the decision still open."""
    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    now = utcnow()
    today = clinic_today(now)
    scores = {"hair_loss": 3, "scalp_health": 5, "itching": 6, "hair_quality": 4}
    for course in db.session.scalars(select(Course).order_by(Course.id)):
        first = first_session_day(course)
        visits = [("baseline", {"date": min(first, today)}, 120)]
        if first <= today:
            visits.append(("review", {"date": today, "global_assessment": 1}, 90))
        for kind, extra, shade in visits:
            assessment = record_assessment(
                course, fields={"kind": kind, "patient_scores": scores, **extra},
                doctor=doctor, now=now,
            )  # fmt: skip
            photo = io.BytesIO()
            Image.new("RGB", (640, 480), (shade, 100, 80)).save(photo, "JPEG")
            photo.seek(0)
            add_photo(assessment, photo, view="vertex", doctor=doctor, now=now)


def _sign_in(page: Page, role: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(role)
    page.get_by_label("Password").fill(DEMO_LOGINS[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _pattern(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/N", path)


def _links(page: Page, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all(
        "a[href]", "links => links.map(a => new URL(a.getAttribute('href'), document.baseURI).href)"
    )
    paths = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or NOT_PAGES.search(parts.path):
            continue
        paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def problems_of(page: Page, path: str) -> list[str]:
    """What is wrong with the open page on a phone and for assistive technology: wider than
    the screen, or a serious or critical axe-core violation (with every folded section open)."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{path}: {width} px wide on a {PHONE['width']} px phone")
    page.add_script_tag(content=AXE)
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    for violation in violations:
        if violation["impact"] in SERIOUS:
            targets = [node["target"] for node in violation["nodes"]][:3]
            problems.append(f"{path}: {violation['impact']} {violation['id']} at {targets}")
    return problems


@pytest.mark.parametrize("role", ["pharmacist", "doctor", "admin"])
def test_every_page_fits_a_phone_and_has_no_serious_accessibility_violation(
    role, browser, demo_clinic, live_server
):
    # The axe script is injected, so this context lets it past the Content-Security-Policy.
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    _sign_in(page, role)
    origin = live_server.base_url.rstrip("/")
    home = urlsplit(page.url).path
    queue, seen, problems, visited = [home], {_pattern(home), "/"}, [], []
    while queue and len(visited) < MOST_PAGES:
        path = queue.pop(0)
        response = page.goto(path)
        assert response.status < 400, f"{path} answered {response.status}"
        visited.append(path)
        problems += problems_of(page, path)
        for link in _links(page, origin):
            pattern = _pattern(urlsplit(link).path)
            if pattern not in seen:
                seen.add(pattern)
                queue.append(link)
    context.close()
    assert len(visited) >= 3, visited
    assert problems == [], "\n".join(problems)
    print(f"{role}: {len(visited)} pages", *visited)
