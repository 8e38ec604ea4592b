"""The second check of a compounded batch (USP 795/797 practice): its lot starts in
quarantine; a second pharmacist, never the preparer, verifies it (the lot is released) or
rejects it with a reason (the lot is disposed of); a quarantined batch is never used in a
session; and a generated batch lot number fits a GS1 lot (20 characters)."""

import html as html_lib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinic.sessions import complete_session
from core.audit import AuditEntry
from core.database import db
from core.errors import Conflict, Invalid
from inventory.compounding import GS1_LOT_LENGTH, compound, reject_batch, verify_batch
from inventory.lots import release
from inventory.models import LotStatus
from inventory.second_check import PREPARER_CANNOT_CHECK
from tests import factories

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CHECKED = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 80}


def updated(entry: AuditEntry, field: str):
    """The new value an update audit entry records for the field (None when it has none)."""
    change = entry.changes.get(field)
    return change.get("new") if entry.action == "update" and isinstance(change, dict) else None


@pytest.fixture
def made():
    """A batch of 5 doses of a biotin serum, prepared by one pharmacist; a second one."""
    biotin = factories.make_substance("biotin-check")
    serum = factories.make_approved_serum(components=[(biotin, 10, "mg")], code="CHECK")
    product = factories.make_serum_product(serum)
    component = factories.make_product("component", substance_id=biotin.id, unit="mg")
    factories.make_lot(component, quantity="1000")
    preparer = factories.make_user(role="pharmacist")
    checker = factories.make_user(role="pharmacist")
    batch = compound(serum, Decimal(5), user=preparer, now=NOW, storage="refrigerated")
    db.session.commit()
    return {
        "batch": batch,
        "serum": serum,
        "product": product,
        "preparer": preparer,
        "checker": checker,
    }


def test_a_compounded_batch_lot_starts_in_quarantine(made):
    assert made["batch"].lot.status == LotStatus.QUARANTINE
    assert made["batch"].prepared_by == made["preparer"].username
    assert made["batch"].verified_by_id is None


def test_the_api_answers_the_batch_in_quarantine_with_who_prepared_it(client, login_as, made):
    formula = made["serum"]
    response = client.post(
        "/api/batches",
        json={"serum_id": formula.id, "doses": 2},
        headers=login_as(made["preparer"]),
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["lot"]["status"] == "quarantine"
    assert body["prepared_by"] == made["preparer"].username
    assert (body["verified_by"], body["verified_at"]) == (None, None)
    assert (body["serum_code"], body["serum_version"]) == ("CHECK", formula.version)
    assert body["consumed"][0]["quantity"] == 20


def test_the_preparer_cannot_verify_their_own_batch(made):
    with pytest.raises(Conflict) as refused:
        verify_batch(made["batch"].id, pharmacist=made["preparer"], now=CHECKED)
    assert refused.value.message == PREPARER_CANNOT_CHECK
    with pytest.raises(Conflict):
        release(made["batch"].lot_id, user=made["preparer"], now=CHECKED)
    with pytest.raises(Conflict):
        reject_batch(made["batch"].id, pharmacist=made["preparer"], reason="x", now=CHECKED)
    db.session.expire_all()
    assert made["batch"].lot.status == LotStatus.QUARANTINE


@pytest.mark.parametrize("action", ["verify", "release", "reject"])
def test_the_preparer_is_refused_by_the_api_with_a_409(client, login_as, made, action):
    batch = made["batch"]
    url = {
        "verify": f"/api/batches/{batch.id}/verify",
        "release": f"/api/lots/{batch.lot_id}/release",
        "reject": f"/api/batches/{batch.id}/reject",
    }[action]
    response = client.post(url, json={"reason": "cloudy"}, headers=login_as(made["preparer"]))
    assert response.status_code == 409
    assert response.json["message"] == PREPARER_CANNOT_CHECK
    db.session.expire_all()
    assert batch.lot.status == LotStatus.QUARANTINE


def test_a_second_pharmacist_verifies_it_and_the_lot_is_released_and_audited(
    client, login_as, made
):
    batch, checker = made["batch"], made["checker"]
    response = client.post(f"/api/batches/{batch.id}/verify", headers=login_as(checker))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["lot"]["status"] == "available"
    assert body["verified_by"] == checker.username
    assert body["verified_at"] is not None
    assert body["prepared_by"] == made["preparer"].username
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "batches", AuditEntry.entity_id == str(batch.id)
        )
    ).all()
    verified = [e for e in entries if updated(e, "verified_by_id") == checker.id]
    assert [e.username for e in verified] == [checker.username]
    lot_entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "lots", AuditEntry.entity_id == str(batch.lot_id)
        )
    ).all()
    assert any(updated(e, "status") == "available" for e in lot_entries)
    # Checked once: a second verification is refused.
    again = client.post(f"/api/batches/{batch.id}/verify", headers=login_as("pharmacist"))
    assert again.status_code == 409
    answer = client.get(f"/api/batches/{batch.id}", headers=login_as("pharmacist"))
    assert answer.json["verified_by"] == checker.username


def test_releasing_a_batch_lot_by_a_second_pharmacist_verifies_the_batch(client, login_as, made):
    batch, checker = made["batch"], made["checker"]
    response = client.post(f"/api/lots/{batch.lot_id}/release", headers=login_as(checker))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "available"
    db.session.expire_all()
    assert (batch.verified_by_id, batch.verified_at is not None) == (checker.id, True)


def test_a_doctor_cannot_check_a_batch(client, login_as, made):
    batch = made["batch"]
    response = client.post(f"/api/batches/{batch.id}/verify", headers=login_as("doctor"))
    assert response.status_code == 403
    with pytest.raises(Conflict):
        verify_batch(batch.id, pharmacist=factories.make_user(role="doctor"), now=CHECKED)


def test_a_second_pharmacist_rejects_it_with_a_reason_and_the_whole_lot_is_disposed_of(
    client, login_as, made
):
    batch, checker = made["batch"], made["checker"]
    response = client.post(
        f"/api/batches/{batch.id}/reject",
        json={"reason": "cloudy after mixing"},
        headers=login_as(checker),
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["lot"]["status"] == "disposed"
    assert body["lot"]["quantity_on_hand"] == 0
    assert "cloudy after mixing" in body["lot"]["status_reason"]
    assert (body["rejected_by"], body["rejection_reason"]) == (
        checker.username,
        "cloudy after mixing",
    )
    assert body["verified_by"] is None
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "batches", AuditEntry.entity_id == str(batch.id)
        )
    ).all()
    assert any(updated(e, "rejection_reason") == "cloudy after mixing" for e in entries)


def test_a_rejection_needs_a_reason(client, login_as, made):
    batch = made["batch"]
    response = client.post(
        f"/api/batches/{batch.id}/reject", json={}, headers=login_as(made["checker"])
    )
    assert response.status_code == 422
    assert "reason" in str(response.json)
    with pytest.raises(Invalid):
        reject_batch(batch.id, pharmacist=made["checker"], reason="  ", now=CHECKED)


def test_a_quarantined_batch_cannot_be_used_in_a_session_until_it_is_verified(
    client, login_as, made
):
    patient = factories.make_safe_patient()
    course = factories.make_course(patient, made["serum"], start_date=date(2025, 3, 3))
    session = course.sessions[0]
    doctor = factories.make_user(role="doctor")
    with pytest.raises(Conflict) as refused:
        complete_session(session, doctor, fields=dict(PROCEDURE), now=NOW)
    assert "No lot" in refused.value.message
    # Nor by naming the lot.
    response = client.post(
        f"/api/sessions/{session.id}/complete",
        json={**PROCEDURE, "lot_id": made["batch"].lot_id, "performed_on": "2025-03-03"},
        headers=login_as(doctor),
    )
    assert response.status_code == 409
    assert "quarantine" in response.json["message"]
    verify_batch(made["batch"].id, pharmacist=made["checker"], now=CHECKED)
    db.session.commit()
    response = client.post(
        f"/api/sessions/{session.id}/complete",
        json={**PROCEDURE, "performed_on": "2025-03-03"},
        headers=login_as(doctor),
    )
    assert response.status_code == 200, response.json
    assert response.json["lot_id"] == made["batch"].lot_id


# --- the batch lot number fits GS1 ---------------------------------------------------------


def _serum_with_code(code: str):
    biotin = factories.make_substance()
    serum = factories.make_approved_serum(components=[(biotin, 1, "mg")], code=code)
    factories.make_serum_product(serum)
    component = factories.make_product("component", substance_id=biotin.id, unit="mg")
    factories.make_lot(component, quantity="1000")
    return serum


def test_a_batch_lot_number_is_code_day_and_number_of_the_day():
    serum = _serum_with_code("HAIR-C")
    pharmacist = factories.make_user(role="pharmacist")
    first = compound(serum, Decimal(1), user=pharmacist, now=NOW)
    second = compound(serum, Decimal(1), user=pharmacist, now=NOW)
    assert (first.lot.lot_number, second.lot.lot_number) == ("HAIR-C-250303-1", "HAIR-C-250303-2")


def test_a_long_code_is_cut_so_that_the_lot_number_fits_twenty_characters_and_stays_unique():
    pharmacist = factories.make_user(role="pharmacist")
    long_one = _serum_with_code("HAIR-VITAMIN-COCKTAIL")
    longer = _serum_with_code("HAIR-VITAMIN-COCKTAIL-STRONG")
    numbers = [
        compound(serum, Decimal(1), user=pharmacist, now=NOW).lot.lot_number
        for serum in (long_one, longer, long_one)
    ]
    assert numbers == ["HAIR-VITAMI-250303-1", "HAIR-VITAMI-250303-2", "HAIR-VITAMI-250303-3"]
    assert all(len(number) <= GS1_LOT_LENGTH for number in numbers)
    # The cut never leaves a dash hanging before the day.
    dashed = _serum_with_code("HAIR-VITAM-XL")  # cut to 11 characters it ends in "-"
    assert compound(dashed, Decimal(1), user=pharmacist, now=NOW).lot.lot_number == (
        "HAIR-VITAM-250303-1"
    )


def test_a_lot_number_typed_in_the_way_is_skipped():
    serum = _serum_with_code("SKIP")
    pharmacist = factories.make_user(role="pharmacist")
    compound(serum, Decimal(1), user=pharmacist, now=NOW, lot_number="SKIP-250303-1")
    assert compound(serum, Decimal(1), user=pharmacist, now=NOW).lot.lot_number == ("SKIP-250303-2")


def test_a_double_digit_number_shortens_the_code_further():
    serum = _serum_with_code("ABCDEFGHIJKLMNOP")
    pharmacist = factories.make_user(role="pharmacist")
    numbers = [
        compound(serum, Decimal(1), user=pharmacist, now=NOW).lot.lot_number for _ in range(10)
    ]
    assert numbers[0] == "ABCDEFGHIJK-250303-1"
    assert numbers[9] == "ABCDEFGHIJ-250303-10"
    assert len(set(numbers)) == 10
    assert max(len(n) for n in numbers) == GS1_LOT_LENGTH


# --- the batch page ------------------------------------------------------------------------

YES = {"confirmed": "yes"}


def page_text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def test_the_batch_page_shows_the_compounding_record_and_tells_the_preparer_to_ask_a_second(
    client, sign_in_page, made
):
    sign_in_page(made["preparer"])
    page = page_text(client.get(f"/stock/batches/{made['batch'].id}"))
    assert "CHECK version 1" in page
    assert f"by {made['preparer'].username}" in page
    assert "In quarantine" in page
    assert "a second pharmacist must check it" in page
    assert "Verify and release" not in page
    assert 'action="/stock/batches/' not in page
    response = client.post(f"/stock/batches/{made['batch'].id}/verify")
    assert response.status_code == 409
    assert PREPARER_CANNOT_CHECK in page_text(response)
    db.session.expire_all()
    assert made["batch"].lot.status == LotStatus.QUARANTINE


def test_a_second_pharmacist_verifies_the_batch_from_its_page(client, sign_in_page, made):
    batch, checker = made["batch"], made["checker"]
    sign_in_page(checker)
    page = page_text(client.get(f"/stock/batches/{batch.id}"))
    assert "Verify and release" in page and "Reject" in page
    assert 'data-confirm="Reject batch' in page
    response = client.post(f"/stock/batches/{batch.id}/verify", follow_redirects=True)
    page = page_text(response)
    assert f"Verified batch {batch.lot.lot_number}" in page
    assert f"Verified by {checker.username} on" in page
    assert "Verify and release" not in page
    label = page_text(client.get(f"/stock/lots/{batch.lot_id}/label"))
    assert f"Checked by {checker.username} on" in label
    db.session.expire_all()
    assert (batch.lot.status, batch.verified_by_id) == (LotStatus.AVAILABLE, checker.id)


def test_a_quarantined_batch_label_says_it_is_not_checked_yet(client, sign_in_page, made):
    sign_in_page(made["checker"])
    label = page_text(client.get(f"/stock/lots/{made['batch'].lot_id}/label"))
    assert "Not yet checked: do not use" in label
    assert "Checked by" not in label


def test_rejecting_from_the_page_asks_first_then_disposes_of_the_lot(client, sign_in_page, made):
    batch = made["batch"]
    sign_in_page(made["checker"])
    data = {"reject-reason": "wrong colour"}
    asked = page_text(client.post(f"/stock/batches/{batch.id}/reject", data=data))
    assert f"Reject batch {batch.lot.lot_number} of" in asked
    assert "<li>Reason: wrong colour</li>" in asked
    db.session.expire_all()
    assert batch.lot.status == LotStatus.QUARANTINE
    page = page_text(
        client.post(f"/stock/batches/{batch.id}/reject", data=data | YES, follow_redirects=True)
    )
    assert "Rejected batch" in page and "wrong colour" in page
    db.session.expire_all()
    assert (batch.lot.status, batch.lot.quantity_on_hand) == (LotStatus.DISPOSED, 0)
    assert batch.rejection_reason == "wrong colour"


def test_a_rejection_without_a_reason_is_refused_next_to_the_field(client, sign_in_page, made):
    sign_in_page(made["checker"])
    response = client.post(f"/stock/batches/{made['batch'].id}/reject", data={"reject-reason": ""})
    assert response.status_code == 422
    assert "Say what the check found wrong." in page_text(response)


def test_the_lot_page_offers_the_release_to_the_second_pharmacist_only(client, sign_in_page, made):
    batch = made["batch"]
    sign_in_page(made["preparer"])
    page = page_text(client.get(f"/stock/lots/{batch.lot_id}"))
    assert "a second pharmacist must check it" in page
    assert f'action="/stock/lots/{batch.lot_id}/release"' not in page
    assert f'href="/stock/batches/{batch.id}">Batch record</a>' in page
    client.post("/logout")
    sign_in_page(made["checker"])
    page = page_text(client.get(f"/stock/lots/{batch.lot_id}"))
    assert f'action="/stock/lots/{batch.lot_id}/release"' in page
    page = page_text(client.post(f"/stock/lots/{batch.lot_id}/release", follow_redirects=True))
    assert f"Verified batch {batch.lot.lot_number} and released it from quarantine." in page
    db.session.expire_all()
    assert batch.verified_by_id == made["checker"].id


def test_the_database_refuses_a_batch_checked_by_its_preparer(made):
    batch = made["batch"]
    batch.verified_by_id = made["preparer"].id
    batch.verified_at = CHECKED
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
