"""Every page of every role, on a phone and for assistive technology: signed in as each demo
role, the test follows every link from the role's home (one page per address pattern, so
/stock/lots/1 stands for every lot) and, with every folded section opened, asserts that

- at 390 x 844 (a phone held upright) the document is no wider than the screen, and
- axe-core (vendored in tests/vendor/axe-core with its licence) finds no serious or critical
  violation.

A new page is covered as soon as a link leads to it.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from clinic.courses import plan_course
from clinic.models import Patient
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
def demo_clinic(live_app):
    """The demo data of `make run`, a planned course and a scan's alerts."""
    with live_app.app_context():
        result = live_app.test_cli_runner().invoke(args=["seed", "--demo"])
        assert result.exit_code == 0, result.output
        _plan_courses()
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
