"""Compounding: pint conversion to each component product's unit, FEFO across lots, all or
nothing, and the beyond-use date of SPEC 3.5."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.database import db
from core.errors import Conflict, Invalid
from inventory import lots
from inventory.compounding import beyond_use_date, compound
from inventory.ledger import ledger_mismatches
from inventory.models import Batch, Lot, Movement, MovementKind
from tests import factories

NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def formula():
    """Biotin 50 mg and hyaluronic acid 2 mL a dose; a serum product stocked per dose."""
    biotin = factories.make_substance("biotin-c")
    hyaluronic = factories.make_substance("hyaluronic acid-c", "excipient")
    serum = factories.make_approved_serum(
        components=[(biotin, 50, "mg"), (hyaluronic, 2, "mL")], code="HAIR-C"
    )
    product = factories.make_serum_product(serum)
    biotin_g = factories.make_product("component", substance_id=biotin.id, unit="g")
    hyaluronic_ml = factories.make_product("component", substance_id=hyaluronic.id, unit="mL")
    return {"serum": serum, "product": product, "biotin_g": biotin_g, "ha_ml": hyaluronic_ml}


def pharmacist():
    return factories.make_user(role="pharmacist")


def consumed(lot) -> Decimal:
    total = db.session.scalar(
        select(func.sum(Movement.quantity)).where(
            Movement.lot_id == lot.id, Movement.kind == MovementKind.CONSUME
        )
    )
    return -(total or 0)


def test_compounding_converts_the_formulas_milligrams_to_a_product_counted_in_grams(formula):
    biotin = factories.make_lot(formula["biotin_g"], quantity="2")
    hyaluronic = factories.make_lot(formula["ha_ml"], quantity="100")
    batch = compound(formula["serum"], Decimal(10), user=pharmacist(), now=NOW)
    assert consumed(biotin) == Decimal("0.5")  # 10 x 50 mg = 500 mg = 0.5 g
    assert consumed(hyaluronic) == 20
    assert biotin.quantity_on_hand == Decimal("1.5")
    assert {(c.lot_id, c.quantity, c.unit) for c in batch.consumptions} == {
        (biotin.id, Decimal("0.5"), "g"),
        (hyaluronic.id, Decimal(20), "mL"),
    }


def test_compounding_produces_a_serum_lot_of_the_doses_through_a_produce_movement(formula):
    factories.make_lot(formula["biotin_g"], quantity="2")
    factories.make_lot(formula["ha_ml"], quantity="100")
    batch = compound(formula["serum"], Decimal(10), user=pharmacist(), now=NOW)
    lot = batch.lot
    assert (lot.product_id, lot.quantity_on_hand, lot.status.value) == (
        formula["product"].id,
        10,
        "quarantine",  # until a second pharmacist checks it (tests/test_compounding_check.py)
    )
    kinds = db.session.scalars(select(Movement.kind).where(Movement.lot_id == lot.id)).all()
    assert kinds == [MovementKind.PRODUCE]
    assert lot.lot_number == "HAIR-C-250301-1"
    assert ledger_mismatches() == []


def test_compounding_takes_each_component_first_expiring_first_across_lots_and_products(formula):
    biotin = formula["serum"].components[0].substance
    biotin_mg = factories.make_product("component", substance_id=biotin.id, unit="mg")
    late_g = factories.make_lot(formula["biotin_g"], quantity="1", expiry_date=date(2026, 1, 1))
    early_mg = factories.make_lot(biotin_mg, quantity="300", expiry_date=date(2025, 6, 1))
    factories.make_lot(formula["ha_ml"], quantity="100")
    compound(formula["serum"], Decimal(10), user=pharmacist(), now=NOW)
    assert (consumed(early_mg), consumed(late_g)) == (300, Decimal("0.2"))


def test_compounding_never_takes_a_recalled_or_expired_component_lot(formula):
    expired = factories.make_lot(formula["biotin_g"], quantity="5", expiry_date=date(2025, 2, 28))
    recalled = factories.make_lot(formula["biotin_g"], quantity="5", expiry_date=date(2025, 4, 1))
    lots.recall(recalled.id, "supplier notice")
    good = factories.make_lot(formula["biotin_g"], quantity="5", expiry_date=date(2025, 9, 1))
    factories.make_lot(formula["ha_ml"], quantity="100")
    compound(formula["serum"], Decimal(2), user=pharmacist(), now=NOW)
    assert (consumed(expired), consumed(recalled), consumed(good)) == (0, 0, Decimal("0.1"))


def test_a_compounding_short_of_one_component_is_a_409_naming_it_and_consumes_nothing(
    client, login_as, formula
):
    biotin = factories.make_lot(formula["biotin_g"], quantity="2")
    hyaluronic = factories.make_lot(formula["ha_ml"], quantity="15")  # 20 mL needed
    lots_before = db.session.scalar(select(func.count()).select_from(Lot))
    response = client.post(
        "/api/batches",
        json={"serum_id": formula["serum"].id, "doses": 10},
        headers=login_as("pharmacist"),
    )
    assert response.status_code == 409
    assert "hyaluronic acid-c" in response.json["message"]
    assert response.json["short_components"] == ["hyaluronic acid-c"]
    db.session.expire_all()
    assert (consumed(biotin), consumed(hyaluronic)) == (0, 0)
    assert (biotin.quantity_on_hand, hyaluronic.quantity_on_hand) == (2, 15)
    assert db.session.scalar(select(func.count()).select_from(Lot)) == lots_before
    assert db.session.scalar(select(func.count()).select_from(Batch)) == 0


def test_a_component_with_no_stock_at_all_is_named_as_short(formula):
    factories.make_lot(formula["ha_ml"], quantity="100")
    with pytest.raises(Conflict) as refused:
        compound(formula["serum"], Decimal(1), user=pharmacist(), now=NOW)
    assert refused.value.details["short_components"] == ["biotin-c"]


def test_the_beyond_use_date_is_the_earliest_consumed_lots_effective_expiry(formula):
    factories.make_lot(formula["biotin_g"], quantity="2", expiry_date=date(2025, 3, 2))
    factories.make_lot(formula["ha_ml"], quantity="100", expiry_date=date(2025, 12, 31))
    batch = compound(
        formula["serum"], Decimal(1), user=pharmacist(), now=NOW, storage="refrigerated"
    )
    # Refrigerated: 4 days would reach 4 March; the biotin lot ends on 2 March.
    assert batch.lot.expiry_date == date(2025, 3, 2) == batch.beyond_use_date
    assert batch.lot.effective_expiry == date(2025, 3, 2)


def test_the_beyond_use_date_follows_an_opened_component_vials_effective_expiry(formula):
    vial = factories.make_lot(formula["ha_ml"], quantity="100", expiry_date=date(2026, 1, 1))
    lots.open_lot(vial.id, now=NOW, opened_at=datetime(2025, 2, 2, 9, 0, tzinfo=UTC))
    factories.make_lot(formula["biotin_g"], quantity="2")
    batch = compound(
        formula["serum"], Decimal(1), user=pharmacist(), now=NOW, storage="refrigerated"
    )
    assert batch.beyond_use_date == date(2025, 3, 1)  # opened 2 Feb, 28 days: last day 1 March


@pytest.mark.parametrize(
    ("storage", "last_day"),
    [("room", date(2025, 3, 1)), ("refrigerated", date(2025, 3, 4)), ("frozen", date(2025, 3, 4))],
)
def test_the_beyond_use_date_is_preparation_time_plus_the_storage_days(formula, storage, last_day):
    factories.make_lot(formula["biotin_g"], quantity="2")
    factories.make_lot(formula["ha_ml"], quantity="100")
    batch = compound(formula["serum"], Decimal(1), user=pharmacist(), now=NOW, storage=storage)
    assert batch.beyond_use_date == last_day
    assert batch.lot.storage.value == storage


def test_a_beyond_use_day_never_outlasts_the_beyond_use_time():
    # Made at 10:00 with one day: usable through 1 March, never on 2 March at 11:00.
    assert beyond_use_date(NOW, 1) == date(2025, 3, 1)
    midnight = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
    assert beyond_use_date(midnight, 1) == date(2025, 3, 1)


def test_a_component_product_counted_in_vials_without_a_strength_is_a_409_naming_it(formula):
    hyaluronic = formula["serum"].components[1].substance
    factories.make_product(
        "component", substance_id=hyaluronic.id, unit="vial", name="Hyaluronic acid vial"
    )
    factories.make_lot(formula["biotin_g"], quantity="2")
    with pytest.raises(Conflict) as refused:
        compound(formula["serum"], Decimal(1), user=pharmacist(), now=NOW)
    assert refused.value.details["product"] == "Hyaluronic acid vial"
    assert "Hyaluronic acid vial" in refused.value.errors["components"][0]


def test_an_iu_component_cannot_be_taken_from_stock_counted_in_milligrams(client, login_as):
    enzyme = factories.make_substance("hyaluronidase-c", "enzyme")
    serum = factories.make_approved_serum(components=[(enzyme, 150, "IU")])
    factories.make_serum_product(serum)
    product = factories.make_product(
        "component", substance_id=enzyme.id, unit="mg", name="Hyaluronidase powder"
    )
    factories.make_lot(product, quantity="100")
    response = client.post(
        "/api/batches", json={"serum_id": serum.id, "doses": 1}, headers=login_as("pharmacist")
    )
    assert response.status_code == 409
    assert response.json["message"] == (
        "Hyaluronidase powder is counted in mg, which does not say how much hyaluronidase-c in "
        "IU it holds: give it a strength in IU/mg."
    )


def test_only_an_approved_compounded_serum_is_compounded(formula):
    draft = factories.make_serum(components=[(factories.make_substance(), 1, "mg")])
    with pytest.raises(Conflict, match="approved"):
        compound(draft, Decimal(1), user=pharmacist(), now=NOW)
    bought = factories.make_approved_serum(source="manufactured", manufacturer="Serum Labs")
    with pytest.raises(Conflict, match="manufactured"):
        compound(bought, Decimal(1), user=pharmacist(), now=NOW)


def test_a_serum_without_a_serum_product_cannot_be_compounded():
    serum = factories.make_approved_serum()
    with pytest.raises(Conflict, match="create a serum product"):
        compound(serum, Decimal(1), user=pharmacist(), now=NOW)


def test_with_several_serum_products_the_pharmacist_names_one(formula):
    second = factories.make_serum_product(formula["serum"], unit="mL")
    factories.make_lot(formula["biotin_g"], quantity="2")
    factories.make_lot(formula["ha_ml"], quantity="100")
    with pytest.raises(Invalid) as refused:
        compound(formula["serum"], Decimal(1), user=pharmacist(), now=NOW)
    assert "product_id" in refused.value.errors
    batch = compound(formula["serum"], Decimal(2), user=pharmacist(), now=NOW, product_id=second.id)
    # Stocked in mL: two doses of 2 mL.
    assert (batch.lot.product_id, batch.lot.quantity_on_hand) == (second.id, 4)


def test_a_batch_answers_its_lot_and_the_lots_it_consumed(client, login_as, formula):
    biotin = factories.make_lot(formula["biotin_g"], quantity="2")
    factories.make_lot(formula["ha_ml"], quantity="100")
    response = client.post(
        "/api/batches",
        json={"serum_id": formula["serum"].id, "doses": 4, "storage": "refrigerated"},
        headers=login_as("pharmacist"),
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["lot"]["quantity_on_hand"] == 4
    assert body["lot"]["product_id"] == formula["product"].id
    assert body["consumed"][0] == {
        "lot_id": biotin.id,
        "lot_number": biotin.lot_number,
        "quantity": 0.2,
        "unit": "g",
    }
    assert {"effective_expiry", "expiry_date", "status"} <= set(body["lot"])


@pytest.mark.parametrize("role", ["doctor", "admin"])
def test_only_a_pharmacist_compounds(client, login_as, formula, role):
    response = client.post(
        "/api/batches", json={"serum_id": formula["serum"].id, "doses": 1}, headers=login_as(role)
    )
    assert response.status_code == 403


def test_compounding_an_unknown_serum_is_a_422_naming_serum_id(client, login_as):
    response = client.post(
        "/api/batches", json={"serum_id": 999999, "doses": 1}, headers=login_as("pharmacist")
    )
    assert response.status_code == 422
    assert "serum_id" in response.json["errors"]
