"""The strength of a component product (250 mg/mL, 1000 IU/mL, 5 mg/vial), in the API and the
product form, and compounding that measures a formula's amount out through it (issue 14)."""

import html as markup
import re

import pytest
from sqlalchemy import select

from core.database import db
from core.errors import Invalid
from inventory.models import Product
from inventory.products import create_product, update_product
from tests import factories


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    return markup.unescape(found.group(1)) if found else ""


@pytest.fixture
def pharmacist_page(sign_in_page):
    return sign_in_page("pharmacist")


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
