"""Stock never goes below zero, also when requests race, on SQLite and on PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from clinic.courses import plan_course
from clinic.models import AllergyStatus
from clinic.patients import create_patient
from core.accounts import create_user
from core.clock import clinic_today, utcnow
from core.database import db
from core.errors import Conflict
from formulary.serums import approve, create_serum
from formulary.substances import create_substance
from inventory.ledger import post_movement
from inventory.lots import Expiry, receive
from inventory.models import Lot, Movement, MovementKind
from inventory.products import create_product
from tests import factories

PARALLEL_REQUESTS = 40
LOT_SIZE = 20


@pytest.mark.server
def test_forty_parallel_one_unit_dispenses_against_a_lot_of_twenty_give_exactly_twenty(
    live_app, live_server
):
    with live_app.app_context():
        pharmacist = create_user("racing-pharmacist", "pharmacist", password="a long test password")
        product = create_product(kind="consumable", name="Syringe 1 mL", unit="piece")
        expiry = Expiry(clinic_today() + timedelta(days=365))
        lot = receive(
            product_id=product.id,
            lot_number="RACE-1",
            expiry=expiry,
            quantity=Decimal(LOT_SIZE),
            user_id=pharmacist.id,
            now=utcnow(),
        ).lot
        db.session.commit()
        product_id, lot_id = product.id, lot.id
    token = live_server.token("racing-pharmacist", "a long test password")

    def dispense_one(_):
        return live_server.request(
            "POST", f"/api/products/{product_id}/dispense", {"quantity": 1}, token=token
        )

    with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
        answers = list(pool.map(dispense_one, range(PARALLEL_REQUESTS)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * LOT_SIZE + [409] * (PARALLEL_REQUESTS - LOT_SIZE), answers
    assert all(
        body["picks"] == [{"lot_id": lot_id, "lot_number": "RACE-1", "quantity": 1}]
        for status, body in answers
        if status == 200
    )
    with live_app.app_context():
        assert db.session.get(Lot, lot_id).quantity_on_hand == 0
        ledger = select(func.sum(Movement.quantity)).where(Movement.lot_id == lot_id)
        assert db.session.scalar(ledger) == 0
        dispensed = select(func.count()).where(
            Movement.lot_id == lot_id, Movement.kind == MovementKind.DISPENSE
        )
        assert db.session.scalar(dispensed) == LOT_SIZE


def test_the_database_refuses_a_negative_quantity_on_hand():
    lot = factories.make_lot(quantity="1")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(update(Lot).where(Lot.id == lot.id).values(quantity_on_hand=-1))


def test_a_posting_that_finds_the_stock_already_taken_changes_nothing():
    # The loaded lot still says 5; another transaction has since taken all of it.
    lot = factories.make_lot(quantity="5", expiry_date=date(2030, 1, 1))
    db.session.execute(update(Lot.__table__).where(Lot.id == lot.id).values(quantity_on_hand=0))
    movements = select(func.count()).select_from(Movement).where(Movement.lot_id == lot.id)
    before = db.session.scalar(movements)
    with pytest.raises(Conflict):
        post_movement(
            lot,
            MovementKind.DISPENSE,
            quantity=Decimal(-1),
            reason=None,
            user_id=None,
            now=factories.STOCK_NOW,
            usable_on=date(2025, 1, 1),
        )
    assert db.session.scalar(movements) == before


def test_a_posting_on_a_lot_past_its_effective_expiry_is_refused_by_the_update_itself():
    lot = factories.make_lot(quantity="5", expiry_date=date(2025, 1, 31))
    with pytest.raises(Conflict):
        post_movement(
            lot,
            MovementKind.DISPENSE,
            quantity=Decimal(-1),
            reason=None,
            user_id=None,
            now=factories.STOCK_NOW,
            usable_on=date(2025, 2, 1),
        )
    assert db.session.get(Lot, lot.id).quantity_on_hand == 5


@pytest.mark.server
def test_parallel_completions_of_one_session_complete_it_once_and_consume_its_dose_once(
    live_app, live_server
):
    with live_app.app_context():
        doctor = create_user("racing-doctor", "doctor", password="a long test password")
        author = create_user("racing-author", "pharmacist", password="a long test password")
        approver = create_user("racing-approver", "admin", password="a long test password")
        biotin = create_substance("biotin", "vitamin")
        serum = create_serum(
            author,
            code="RACE-SERUM",
            name="Race serum",
            source="manufactured",
            manufacturer="Serum Labs",
            dose_volume_ml=Decimal(2),
            components=[{"substance_id": biotin.id, "amount_per_dose": {"value": 1, "unit": "mg"}}],
        )
        approve(serum, approver)
        product = create_product(
            kind="serum", name="Race serum vial", unit="dose", serum_id=serum.id
        )
        expiry = Expiry(clinic_today() + timedelta(days=365))
        lot = receive(
            product_id=product.id,
            lot_number="RACE-S",
            expiry=expiry,
            quantity=Decimal(5),
            user_id=author.id,
            now=utcnow(),
        ).lot
        patient = create_patient(
            {"mrn": "RACE-1", "name": "Racing Patient", "sex": "male",
             "alopecia_scale": "norwood", "alopecia_stage": 3}
        )  # fmt: skip
        patient.allergy_status = AllergyStatus.NO_KNOWN_ALLERGIES
        course = plan_course(
            patient,
            serum.id,
            start_date=clinic_today(),
            induction_sessions=4,
            maintenance_months=0,
            doctor=doctor,
        )
        db.session.commit()
        session_id, lot_id = course.sessions[0].id, lot.id
    token = live_server.token("racing-doctor", "a long test password")
    body = {"needle_mm": 6, "technique": "manual", "injection_points": 40}

    def complete(_):
        return live_server.request(
            "POST", f"/api/sessions/{session_id}/complete", body, token=token
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(complete, range(10)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 9, answers
    with live_app.app_context():
        assert db.session.get(Lot, lot_id).quantity_on_hand == 4
        consumed = select(func.count()).where(
            Movement.lot_id == lot_id, Movement.kind == MovementKind.CONSUME
        )
        assert db.session.scalar(consumed) == 1


@pytest.mark.server
def test_ten_simultaneous_first_receipts_of_a_new_lot_all_land_in_one_lot(live_app, live_server):
    with live_app.app_context():
        create_user("receiving-pharmacist", "pharmacist", password="a long test password")
        product = create_product(kind="consumable", name="Gauze swab", unit="piece")
        db.session.commit()
        product_id = product.id
        expiry = (clinic_today() + timedelta(days=365)).isoformat()
    token = live_server.token("receiving-pharmacist", "a long test password")
    body = {"product_id": product_id, "lot_number": "FIRST-BOX", "expiry_date": expiry,
            "quantity": 1}  # fmt: skip

    def receive_one(_):
        return live_server.request("POST", "/api/lots", body, token=token)[0]

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(receive_one, range(10)))

    assert statuses == [200] * 9 + [201], statuses
    with live_app.app_context():
        lot = db.session.scalar(select(Lot).where(Lot.product_id == product_id))
        assert lot.quantity_on_hand == 10
