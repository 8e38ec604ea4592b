"""Allergens outside the catalogue on the doctor's pages (issue 20): recorded as named after
the name suggestions, a caution on every serum until the doctor links the allergy to a
catalogue substance or marks it reviewed as not relevant; and the pharmacist's standard codes
on the substance pages."""

import re

import pytest
from sqlalchemy import func, select

from clinic.models import Allergy
from core.database import db
from formulary.codes import RXNORM, UNII
from formulary.models import SubstanceCode
from tests import factories


def html(response) -> str:
    return response.get_data(as_text=True)


def serum_badge(page: str, code: str) -> str:
    start = page.index(f'data-serum="{code}"')
    return re.search(r'class="badge badge-(\w+)"', page[start:]).group(1)


def field_error(page: str, name: str) -> str:
    return re.search(rf'id="{name}-error">([^<]*)<', page).group(1)


@pytest.fixture
def doctor(sign_in_page):
    return sign_in_page("doctor")


@pytest.fixture
def patient():
    """A patient the screen clears, a biotin serum, and lidocaine with a lidocaine serum."""
    biotin = factories.make_substance("biotin-o", category="vitamin")
    factories.make_approved_serum(components=[(biotin, 1, "mg")], code="BIOTIN-O")
    lidocaine = factories.make_substance("lidocaine-o", category="anaesthetic")
    factories.make_approved_serum(components=[(lidocaine, 20, "mg")], code="LIDO-O")
    return factories.make_safe_patient(name="Rui Costa")


def record(client, patient, **fields):
    form = {"criticality": "high", "verification_status": "confirmed",
            "clinical_status": "active", **fields}  # fmt: skip
    return client.post(f"/patients/{patient.id}/allergies", data=form)


def the_allergy() -> Allergy:
    db.session.expire_all()
    return db.session.scalar(select(Allergy))


def test_a_name_outside_the_catalogue_is_refused_first_then_recorded_as_named(
    client, doctor, patient
):
    refused = record(client, patient, substance="penicillin")
    assert refused.status_code == 422
    assert "not in the catalogue" in field_error(html(refused), "substance")
    assert db.session.scalar(select(func.count()).select_from(Allergy)) == 0

    recorded = record(client, patient, substance="penicillin", outside_catalogue="y")
    assert recorded.status_code == 302
    page = html(client.get(recorded.headers["Location"]))
    assert "every serum is a caution for this patient until you review it" in page
    assert "Not in the catalogue: not checked" in page
    assert serum_badge(page, "BIOTIN-O") == "caution"
    assert the_allergy().text == "penicillin" and the_allergy().substance_id is None


def test_reviewing_it_as_not_relevant_lifts_the_caution_and_says_who(client, doctor, patient):
    record(client, patient, substance="cashew nuts", outside_catalogue="y")
    allergy = the_allergy()
    page = html(client.get(f"/patients/{patient.id}/allergies/{allergy.id}"))
    assert "Reviewed: not relevant to serum components" in page
    reviewed = client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}/review", data={"reviewed": "yes"}
    )
    assert reviewed.status_code == 302
    assert serum_badge(html(client.get(f"/patients/{patient.id}")), "BIOTIN-O") == "safe"
    again = html(client.get(f"/patients/{patient.id}/allergies/{allergy.id}"))
    assert "Reviewed as not relevant to serum components by doctor" in again
    assert the_allergy().reviewed_by.username.startswith("doctor")


def test_linking_it_to_a_catalogue_substance_screens_every_serum_against_it(
    client, doctor, patient
):
    record(client, patient, substance="Xylo-O brand", outside_catalogue="y")
    allergy = the_allergy()
    unknown = client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}/link", data={"link-substance": "xylo"}
    )
    assert unknown.status_code == 422
    assert "not in the catalogue" in field_error(html(unknown), "link-substance")
    linked = client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}/link",
        data={"link-substance": "lidocaine-o"},
    )
    assert linked.status_code == 302
    page = html(client.get(f"/patients/{patient.id}"))
    assert serum_badge(page, "LIDO-O") == "contraindicated"
    assert serum_badge(page, "BIOTIN-O") == "safe"


def test_a_pharmacist_gives_a_substance_its_standard_codes(client, sign_in_page):
    sign_in_page("pharmacist")
    substance = factories.make_substance("lidocaine-p", category="anaesthetic")
    url = f"/formulary/substances/{substance.id}/edit"
    form = {"name": "lidocaine-p", "category": "anaesthetic", "max_unit": ""}
    bad = client.post(url, data={**form, "codes": "RxNorm 6387\nATC N01BB02"})
    assert bad.status_code == 422
    assert "start with SNOMED CT, RxNorm or UNII" in field_error(html(bad), "codes")
    assert db.session.scalar(select(func.count()).select_from(SubstanceCode)) == 0
    saved = client.post(url, data={**form, "codes": "RxNorm 6387\nunii 98pi200987"})
    assert saved.status_code == 302, html(saved)
    db.session.expire_all()
    assert {(c.system, c.code) for c in db.session.scalars(select(SubstanceCode))} == {
        (RXNORM, "6387"),
        (UNII, "98PI200987"),
    }
    page = html(client.get(f"/formulary/substances/{substance.id}"))
    assert "RxNorm 6387" in page and "UNII 98PI200987" in page
