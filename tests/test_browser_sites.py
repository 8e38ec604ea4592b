"""A clinic chain's own views in a real headless Chromium against a real gunicorn server, on a
390 px phone and for assistive technology (as tests/test_browser_pages.py checks every page):
the inbox naming each alert's site, a doctor's Today with each session's site and the course
form asking for the site, and a product's reorder point at each site."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic.courses import plan_course
from clinic.models import AllergyStatus
from clinic.patients import create_patient
from core.accounts import create_user
from core.clock import clinic_today, utcnow
from core.database import db
from core.sites import Site, create_site
from formulary.models import Serum
from formulary.seed import seed_catalogue, seed_demo_serums
from inventory.alerts import scan
from inventory.demo import seed_demo_stock
from inventory.models import Product
from inventory.products import set_site_reorder_point
from tests.test_browser import PASSWORD, sign_in
from tests.test_browser_pages import PHONE, problems_of

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def chain(live_app):
    """The clinic's first site and Lyon; a doctor and a pharmacist at both; a course at each
    site starting today; the demo stock at the first site, scanned; a reorder point at Lyon."""
    with live_app.app_context():
        today = clinic_today()
        seed_catalogue()
        author = create_user("pharmacist-chain", "pharmacist", password=PASSWORD)
        approver = create_user("admin-chain", "admin", password=PASSWORD)
        seed_demo_serums(author, approver)
        seed_demo_stock(utcnow())
        main_site = db.session.scalar(select(Site).order_by(Site.id).limit(1))
        lyon = create_site(code="LYON", name="Lyon", timezone="Europe/Paris")
        both = [main_site.id, lyon.id]
        doctor = create_user("doctor-chain", "doctor", password=PASSWORD, site_ids=both)
        create_user("pharmacist-both", "pharmacist", password=PASSWORD, site_ids=both)
        serum = db.session.scalar(select(Serum).where(Serum.code == "HAIR-PN"))
        for n, site in enumerate((main_site, lyon)):
            patient = create_patient(
                {"mrn": f"MRN-CH{n}", "name": f"Chain Patient {n}", "sex": "female",
                 "alopecia_scale": "ludwig", "alopecia_stage": 2}
            )  # fmt: skip
            patient.allergy_status = AllergyStatus.NO_KNOWN_ALLERGIES
            plan_course(patient, serum.id, start_date=today, induction_sessions=4,
                        maintenance_months=0, doctor=doctor, site_id=site.id)  # fmt: skip
        product = db.session.scalar(select(Product).order_by(Product.id).limit(1))
        set_site_reorder_point(product, lyon.id, reorder_point=5)
        scan(today + timedelta(days=1))
        db.session.commit()
        return {"patient": patient.id, "product": product.id}


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        ("pharmacist-both", ["/alerts?status=all", "/formulary/products/{product}/reorder-points"]),
        ("doctor-chain", ["/today", "/patients/{patient}"]),
    ],
)
def test_a_chains_pages_fit_a_phone_and_have_no_serious_accessibility_violation(
    username, paths, browser, chain, live_server
):
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    sign_in(page, username)
    problems = []
    for path in paths:
        url = path.format(**chain)
        response = page.goto(url)
        assert response.status < 400, f"{url} answered {response.status}"
        problems += problems_of(page, url)
    if username == "doctor-chain":
        assert (
            page.get_by_label("Site of the course").locator("option").first.inner_text()
            == "Choose the site"
        )
    context.close()
    assert problems == [], "\n".join(problems)
