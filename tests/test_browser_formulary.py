"""The formulary in a real headless Chromium against a real gunicorn server (production
configuration): from the stock board, a pharmacist writes a draft formula with its components
and cannot approve it; an administrator approves it from the approval queue, accepting the
browser's confirmation. Only links, buttons and forms, never a typed URL past the login page.
Saves screenshots of the formula page and the approval queue to docs/screenshots/."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.accounts import create_user
from core.database import db
from formulary.models import Serum, SerumStatus
from formulary.seed import seed_catalogue
from tests.test_browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_a_pharmacist_writes_a_draft_formula_and_an_administrator_approves_it(live_app, page):
    with live_app.app_context():
        seed_catalogue()
        create_user("pharmacist-formulary", "pharmacist", password=PASSWORD)
        create_user("admin-approver", "admin", password=PASSWORD)
        db.session.commit()

    # The pharmacist, from the stock board, writes the draft.
    sign_in(page, "pharmacist-formulary")
    expect(page).to_have_url(re.compile(r"/stock$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Formulary").click()
    expect(page.get_by_role("heading", name="Formulary", exact=True)).to_be_visible()
    page.get_by_role("link", name="Write a new formula").click()
    page.get_by_label("Code").fill("HAIR-BRW")
    page.get_by_label("Name", exact=True).fill("Biotin and B12 booster")
    page.get_by_label("Dose volume (mL)").fill("2")
    page.get_by_label("Substance, row 1").fill("B12")
    page.get_by_label("Amount per dose, row 1").fill("0.5")
    page.get_by_label("Substance, row 2").fill("biotin")
    page.get_by_label("Amount per dose, row 2").fill("500")
    page.get_by_label("Unit, row 2").select_option("ug")
    page.get_by_role("button", name="Add more rows").click()
    expect(page.get_by_label("Substance, row 8")).to_be_visible()
    expect(page.get_by_label("Substance, row 1")).to_have_value("B12")
    page.get_by_label("Substance, row 3").fill("dexpanthenol")
    page.get_by_label("Amount per dose, row 3").fill("20")
    page.get_by_role("button", name="Save the draft").click()

    expect(page.locator(".flash-success")).to_contain_text("Draft HAIR-BRW version 1 saved")
    expect(page.get_by_role("heading", name="HAIR-BRW version 1")).to_contain_text("draft")
    rows = page.locator("table.components tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("cyanocobalamin")
    expect(rows.nth(0)).to_contain_text("0.25 mg")  # per mL of a 2 mL dose
    expect(rows.nth(1)).to_contain_text("500 ug")
    screenshot(page, "formulary-serum")

    # The drafter cannot approve their own draft.
    page.get_by_role("link", name="The approval queue").click()
    draft = page.locator('section.draft[data-serum="HAIR-BRW"]')
    expect(draft).to_contain_text("You wrote this draft: another person approves it.")
    expect(draft.get_by_role("button")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    # An administrator approves it from the queue, saying yes to the browser's question.
    sign_in(page, "admin-approver")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    draft = page.locator('section.draft[data-serum="HAIR-BRW"]')
    expect(draft).to_contain_text("A new serum: every component is new")
    expect(draft.locator("tr.change-added")).to_have_count(3)
    screenshot(page, "formulary-approvals")
    questions = []

    def accept(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    draft.get_by_role("button", name="Approve HAIR-BRW version 1").click()

    expect(page.locator(".flash-success")).to_contain_text(
        "HAIR-BRW version 1 (Biotin and B12 booster) is approved: doctors can choose it now."
    )
    assert questions == ["Approve HAIR-BRW version 1 (Biotin and B12 booster)?"]
    expect(page.locator('section.draft[data-serum="HAIR-BRW"]')).to_have_count(0)
    with live_app.app_context():
        serum = db.session.scalar(select(Serum).where(Serum.code == "HAIR-BRW"))
        assert (serum.status, serum.author.username, serum.approved_by.username) == (
            SerumStatus.APPROVED,
            "pharmacist-formulary",
            "admin-approver",
        )
