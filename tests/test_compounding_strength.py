"""The strength of a component product (250 mg/mL, 1000 IU/mL, 5 mg/vial), in the API and the
product form, and compounding that measures a formula's amount out through it (issue 14)."""

import html as markup
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.database import db
from core.errors import Conflict, Invalid
from formulary.models import Serum, SerumStatus
from formulary.seed import load_catalogue, seed_catalogue, seed_demo_serums
from inventory.compounding import compound
from inventory.demo import seed_demo_stock
from inventory.ledger import ledger_mismatches
from inventory.models import Batch, Lot, Movement, MovementKind, Product
from inventory.products import create_product, update_product
from tests import factories

NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    return markup.unescape(found.group(1)) if found else ""


@pytest.fixture
def pharmacist_page(sign_in_page):
    return sign_in_page("pharmacist")


def pharmacist():
    return factories.make_user(role="pharmacist")


def consumed(lot) -> Decimal:
    total = db.session.scalar(
        select(func.sum(Movement.quantity)).where(
            Movement.lot_id == lot.id, Movement.kind == MovementKind.CONSUME
        )
    )
    return -(total or 0)


def serum_of(*components, code="STR"):
    """An approved compounded serum of (substance, value, unit) components, stocked per dose."""
    serum = factories.make_approved_serum(components=list(components), code=code)
    factories.make_serum_product(serum)
    return serum


def solution(substance, strength: str, *, unit="mL", name=None):
    value, strength_unit = strength.split()
    return factories.make_product(
        "component",
        substance_id=substance.id,
        unit=unit,
        name=name or f"{substance.name} {strength}",
        strength={"value": value, "unit": strength_unit},
    )


# --- Strength on products -------------------------------------------------------------------


def test_a_component_products_strength_round_trips_through_the_api(client, login_as):
    dexpanthenol = factories.make_substance("dexpanthenol-s")
    body = {"kind": "component", "name": "Dexpanthenol solution 250 mg/mL", "unit": "mL",
            "substance_id": dexpanthenol.id,
            "strength": {"value": 250, "unit": "mg/ml"}}  # fmt: skip
    mg_ml = {"value": 250, "unit": "mg/mL"}
    headers = login_as("pharmacist")
    created = client.post("/api/products", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["strength"] == {"value": 250, "unit": "mg/mL"}
    url = f"/api/products/{created.get_json()['id']}"
    assert client.get(url, headers=headers).get_json()["strength"] == mg_ml
    iu_ml = {"value": 1000, "unit": "IU/mL"}
    patched = client.patch(url, headers=headers, json={"strength": iu_ml})
    assert patched.get_json()["strength"] == {"value": 1000, "unit": "IU/mL"}
    cleared = client.patch(url, headers=headers, json={"strength": None})
    assert cleared.get_json()["strength"] is None


def test_a_product_without_a_strength_answers_null(client, login_as):
    product = factories.make_product("consumable", unit="piece")
    response = client.get(f"/api/products/{product.id}", headers=login_as("pharmacist"))
    assert response.get_json()["strength"] is None


@pytest.mark.parametrize(
    ("kind", "unit", "strength"),
    [
        ("component", "mL", {"value": 250, "unit": "mg"}),  # not per anything
        ("component", "mL", {"value": 250, "unit": "mg/vial"}),  # counted in mL, not vials
        ("component", "mL", {"value": 250, "unit": "mg/g"}),  # a mass is not a volume
        ("component", "mL", {"value": 250, "unit": "tablets/mL"}),
        ("component", "mL", {"value": 0, "unit": "mg/mL"}),
        ("component", "mL", {"value": -5, "unit": "mg/mL"}),
        ("component", "mL", {"value": "lots", "unit": "mg/mL"}),
        ("component", "mL", {"unit": "mg/mL"}),
        ("component", "mL", "250 mg/mL"),
        ("consumable", "piece", {"value": 5, "unit": "mg/piece"}),
    ],
)
def test_a_bad_strength_is_a_422_naming_strength(client, login_as, kind, unit, strength):
    body = {"kind": kind, "name": "Something", "unit": unit, "strength": strength}
    if kind == "component":
        body["substance_id"] = factories.make_substance().id
    response = client.post("/api/products", headers=login_as("pharmacist"), json=body)
    assert response.status_code == 422, response.get_json()
    assert any(field.startswith("strength") for field in response.get_json()["errors"])
    assert db.session.scalar(select(Product.id).where(Product.name == "Something")) is None


def test_a_strength_is_per_the_products_own_count_unit_or_a_unit_it_converts_to():
    substance = factories.make_substance()
    vial = create_product(
        "component", "Glutathione 600 mg", unit="vial", substance_id=substance.id,
        strength={"value": 600, "unit": "mg/Vial"},
    )  # fmt: skip
    assert vial.strength == {"value": 600, "unit": "mg/vial"}
    powder = create_product("component", "Trituration", unit="g", substance_id=substance.id,
                            strength={"value": "0.5", "unit": "mcg/mg"})  # fmt: skip
    assert powder.strength == {"value": 0.5, "unit": "ug/mg"}


def test_a_strength_must_fit_a_new_unit_and_goes_with_the_component_kind():
    product = factories.make_product(
        "component", unit="mL", strength={"value": 250, "unit": "mg/mL"}
    )
    with pytest.raises(Invalid) as refused:
        update_product(product, {"unit": "vial"})
    assert "strength" in refused.value.errors
    db.session.rollback()
    product = db.session.get(Product, product.id)
    updated = update_product(product, {"unit": "vial", "strength": {"value": 5, "unit": "mg/vial"}})
    assert updated.strength_text == "5 mg/vial"


def test_the_product_form_takes_a_strength_as_typed_and_shows_it(client, pharmacist_page):
    factories.make_substance("dexpanthenol-w")
    response = client.post(
        "/formulary/products/new",
        data={"kind": "component", "name": "Dexpanthenol solution", "unit": "mL",
              "substance": "dexpanthenol-w", "strength": "250 mg/ml", "serum_id": "",
              "reorder_point": "0", "storage": "room"},
    )  # fmt: skip
    assert response.status_code == 302, html(response)
    product = db.session.scalar(select(Product).where(Product.name == "Dexpanthenol solution"))
    assert product.strength == {"value": 250, "unit": "mg/mL"}
    listed = html(client.get("/formulary/products?q=Dexpanthenol"))
    assert "<td>250 mg/mL</td>" in listed
    form = html(client.get(f"/formulary/products/{product.id}/edit"))
    assert 'value="250 mg/mL"' in form


def test_a_lot_page_shows_its_products_strength(client, pharmacist_page):
    product = factories.make_product(
        "component", unit="vial", strength={"value": 600, "unit": "mg/vial"}
    )
    page = html(client.get(f"/stock/lots/{factories.make_lot(product).id}"))
    assert "<dt>Strength</dt><dd>600 mg/vial</dd>" in page


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("strong", "Write an amount per unit of the product, such as 250 mg/mL."),
        ("250 mg", "Write the unit as an amount per mL, such as mg/mL."),
        ("250 mg/vial", "The product is counted in mL: give the amount per mL."),
        ("0 mg/mL", "A strength is more than 0."),
    ],
)
def test_a_bad_strength_on_the_product_form_is_shown_beside_it(
    client, pharmacist_page, typed, error
):
    factories.make_substance("dexpanthenol-x")
    response = client.post(
        "/formulary/products/new",
        data={"kind": "component", "name": "Dexpanthenol solution", "unit": "mL",
              "substance": "dexpanthenol-x", "strength": typed, "serum_id": "",
              "reorder_point": "0", "storage": "room"},
    )  # fmt: skip
    assert response.status_code == 422
    assert field_error(html(response), "strength") == error
    assert not db.session.scalar(select(Product.id).where(Product.name == "Dexpanthenol solution"))


# --- Compounding through strength -----------------------------------------------------------


def test_milligrams_of_a_formula_are_measured_out_of_a_mg_per_ml_solution():
    dexpanthenol = factories.make_substance("dexpanthenol-c")
    serum = serum_of((dexpanthenol, 40, "mg"))
    product = solution(dexpanthenol, "250 mg/mL", name="Dexpanthenol solution 250 mg/mL")
    lot = factories.make_lot(product, quantity="10")
    batch = compound(serum, Decimal(1), user=pharmacist(), now=NOW)
    assert consumed(lot) == Decimal("0.16")  # 40 mg / 250 mg/mL
    assert [(c.lot_id, c.quantity, c.unit) for c in batch.consumptions] == [
        (lot.id, Decimal("0.16"), "mL")
    ]
    assert ledger_mismatches() == []


def test_international_units_are_measured_out_of_an_iu_per_ml_solution():
    enzyme = factories.make_substance("hyaluronidase-s", "enzyme")
    serum = serum_of((enzyme, 150, "IU"))
    lot = factories.make_lot(solution(enzyme, "1500 IU/mL"), quantity="1")
    compound(serum, Decimal(4), user=pharmacist(), now=NOW)
    assert consumed(lot) == Decimal("0.4")


def test_a_strength_per_vial_measures_out_a_part_of_a_vial():
    glutathione = factories.make_substance("glutathione-s")
    serum = serum_of((glutathione, 40, "mg"))
    lot = factories.make_lot(solution(glutathione, "600 mg/vial", unit="vial"), quantity="3")
    compound(serum, Decimal(15), user=pharmacist(), now=NOW)
    assert consumed(lot) == 1  # 600 mg


def test_a_strength_in_another_amount_unit_converts_through_pint():
    cyanocobalamin = factories.make_substance("cyanocobalamin-s")
    serum = serum_of((cyanocobalamin, 100, "ug"))
    lot = factories.make_lot(solution(cyanocobalamin, "1 mg/mL"), quantity="5")
    compound(serum, Decimal(3), user=pharmacist(), now=NOW)
    assert consumed(lot) == Decimal("0.3")


def test_two_strengths_of_one_substance_are_drawn_first_expiring_first_in_one_batch():
    dexpanthenol = factories.make_substance("dexpanthenol-f")
    serum = serum_of((dexpanthenol, 40, "mg"))
    strong = solution(dexpanthenol, "250 mg/mL")
    weak = solution(dexpanthenol, "100 mg/mL")
    strong_early = factories.make_lot(strong, quantity="0.1", expiry_date=date(2025, 6, 1))
    weak_middle = factories.make_lot(weak, quantity="10", expiry_date=date(2025, 9, 1))
    strong_late = factories.make_lot(strong, quantity="10", expiry_date=date(2026, 1, 1))
    compound(serum, Decimal(1), user=pharmacist(), now=NOW)
    # 25 mg from the 0.1 mL at 250 mg/mL, the other 15 mg as 0.15 mL at 100 mg/mL.
    assert (consumed(strong_early), consumed(weak_middle), consumed(strong_late)) == (
        Decimal("0.1"),
        Decimal("0.15"),
        0,
    )


def test_a_solution_and_a_powder_of_one_substance_are_drawn_in_each_ones_unit():
    biotin = factories.make_substance("biotin-s")
    serum = serum_of((biotin, 50, "mg"))
    liquid = factories.make_lot(
        solution(biotin, "10 mg/mL"), quantity="2", expiry_date=date(2025, 5, 1)
    )
    powder = factories.make_product("component", substance_id=biotin.id, unit="g")
    powder_lot = factories.make_lot(powder, quantity="1", expiry_date=date(2025, 8, 1))
    compound(serum, Decimal(1), user=pharmacist(), now=NOW)
    assert (consumed(liquid), consumed(powder_lot)) == (2, Decimal("0.03"))


def test_a_short_batch_says_what_is_missing_in_the_pharmacists_words_and_consumes_nothing(
    client, login_as
):
    dexpanthenol = factories.make_substance("dexpanthenol")
    glutathione = factories.make_substance("glutathione")
    serum = serum_of((dexpanthenol, 40, "mg"), (glutathione, 40, "mg"), code="SHORT")
    lot = factories.make_lot(
        solution(dexpanthenol, "250 mg/mL", name="Dexpanthenol solution 250 mg/mL"),
        quantity="0.04",
    )
    factories.make_product(
        "component", substance_id=glutathione.id, unit="g", name="Glutathione powder"
    )
    lots_before = db.session.scalar(select(func.count()).select_from(Lot))
    response = client.post(
        "/api/batches", json={"serum_id": serum.id, "doses": 1}, headers=login_as("pharmacist")
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["errors"]["components"] == [
        "0.12 mL short of Dexpanthenol solution 250 mg/mL.",
        "No glutathione in stock.",
    ]
    assert body["message"] == (
        f"1 dose of {serum.name} cannot be compounded: 0.12 mL short of Dexpanthenol "
        "solution 250 mg/mL. No glutathione in stock."
    )
    assert body["short_components"] == ["dexpanthenol", "glutathione"]
    db.session.expire_all()
    assert (consumed(lot), db.session.get(Lot, lot.id).quantity_on_hand) == (0, Decimal("0.04"))
    assert db.session.scalar(select(func.count()).select_from(Lot)) == lots_before
    assert db.session.scalar(select(func.count()).select_from(Batch)) == 0


def test_a_product_with_neither_a_compatible_unit_nor_a_strength_is_a_409_naming_it():
    dexpanthenol = factories.make_substance("dexpanthenol-n")
    serum = serum_of((dexpanthenol, 40, "mg"))
    good = factories.make_lot(solution(dexpanthenol, "250 mg/mL"), quantity="10")
    factories.make_product(
        "component", substance_id=dexpanthenol.id, unit="ampoule", name="Dexpanthenol ampoule"
    )
    with pytest.raises(Conflict) as refused:
        compound(serum, Decimal(1), user=pharmacist(), now=NOW)
    assert refused.value.status == 409
    assert refused.value.details["product"] == "Dexpanthenol ampoule"
    assert refused.value.message == (
        "Dexpanthenol ampoule is counted in ampoule, which does not say how much dexpanthenol-n "
        "in mg it holds: give it a strength in mg/ampoule."
    )
    assert consumed(good) == 0


def test_a_strength_of_another_kind_of_amount_does_not_measure_the_formula():
    enzyme = factories.make_substance("hyaluronidase-k", "enzyme")
    serum = serum_of((enzyme, 150, "IU"))
    solution(enzyme, "2 mg/mL", name="Hyaluronidase 2 mg/mL")
    with pytest.raises(Conflict) as refused:
        compound(serum, Decimal(1), user=pharmacist(), now=NOW)
    assert refused.value.message.startswith("Hyaluronidase 2 mg/mL is counted in mL at 2 mg/mL,")


# --- The demo compounds ---------------------------------------------------------------------

COMPOUNDED_DEMO_SERUMS = [
    entry["code"] for entry in load_catalogue()["demo_serums"] if entry["source"] == "compounded"
]


@pytest.fixture
def demo():
    """What `make run` seeds: the catalogue, the demo serums (written by one pharmacist,
    approved by another person) and the demo stock, received at NOW."""
    seed_catalogue()
    author = factories.make_user(role="pharmacist")
    seed_demo_serums(author, factories.make_user(role="admin"))
    seed_demo_stock(NOW)
    db.session.commit()


def test_every_compounded_demo_serum_is_approved():
    assert {"HAIR-VIT-AA", "HAIR-LIDO", "HAIR-AOX"} <= set(COMPOUNDED_DEMO_SERUMS)


@pytest.mark.parametrize("code", COMPOUNDED_DEMO_SERUMS)
def test_each_compounded_demo_serum_compounds_from_the_demo_stock_several_times(demo, code):
    serum = db.session.scalar(
        select(Serum).where(Serum.code == code, Serum.status == SerumStatus.APPROVED)
    )
    user = pharmacist()
    for batch_number in range(1, 4):
        batch = compound(serum, Decimal(5), user=user, now=NOW)
        assert batch.lot.quantity_on_hand == 5
        assert batch.lot.lot_number == f"{code}-250301-{batch_number}"
        drawn = {c.lot.product.substance_id for c in batch.consumptions}
        assert drawn == {c.substance_id for c in serum.components}
        kinds = db.session.scalars(
            select(Movement.kind).where(Movement.reason == f"compounding batch {batch.id}")
        ).all()
        assert kinds.count(MovementKind.PRODUCE) == 1
        assert kinds.count(MovementKind.CONSUME) == len(batch.consumptions)
    assert ledger_mismatches() == []


def test_the_demo_dexpanthenol_solution_is_250_mg_per_ml(demo):
    product = db.session.scalar(
        select(Product).where(Product.name == "Dexpanthenol solution 250 mg/mL")
    )
    assert product.strength == {"value": 250, "unit": "mg/mL"}


def test_a_demo_seeded_before_strengths_gets_them_and_compounds(demo):
    product = db.session.scalar(
        select(Product).where(Product.name == "Dexpanthenol solution 250 mg/mL")
    )
    product.strength_value = product.strength_unit = None  # as a database of before strengths
    db.session.flush()
    assert seed_demo_stock(NOW) == 0
    assert product.strength == {"value": 250, "unit": "mg/mL"}
