"""Products: kinds and their references, GTINs, days after opening (SPEC 3.4, 4.1)."""

import pytest

from core.database import db
from formulary.models import Category, Substance
from inventory.models import Product
from tests import factories


def substance():
    return factories.save(Substance(name="Biotin", name_key="biotin", category=Category.VITAMIN))


def test_a_component_product_names_its_substance(client, login_as):
    body = {
        "kind": "component",
        "name": "Biotin powder",
        "unit": "mg",
        "substance_id": substance().id,
    }
    response = client.post("/api/products", headers=login_as("pharmacist"), json=body)
    assert response.status_code == 201, response.get_json()
    product = response.get_json()
    assert set(product) >= {
        "id", "kind", "name", "unit", "substance_id", "serum_id", "gtin",
        "reorder_point", "days_after_opening",
    }  # fmt: skip
    assert product["days_after_opening"] == 28


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "component"}, "substance_id"),
        ({"kind": "serum"}, "serum_id"),
        ({"kind": "consumable", "substance_id": 1}, "substance_id"),
        ({"kind": "component", "substance_id": 999999}, "substance_id"),
    ],
)
def test_each_kind_names_what_it_refers_to_and_nothing_else(client, login_as, body, field):
    response = client.post(
        "/api/products", headers=login_as("admin"), json={"name": "x", "unit": "vial", **body}
    )
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_a_consumable_has_no_days_after_opening_by_default(client, login_as):
    body = {"kind": "consumable", "name": "Needle 4 mm 32G", "unit": "piece"}
    response = client.post("/api/products", headers=login_as("pharmacist"), json=body)
    assert response.get_json()["days_after_opening"] is None


def test_a_serum_product_keeps_28_days_after_opening_unless_told(client, login_as):
    product = factories.make_product(kind="serum")
    assert product.days_after_opening == 28
    other = factories.make_product(kind="serum", days_after_opening=14)
    assert other.days_after_opening == 14


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("4006381333931", "04006381333931"),
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("09501101530003", "09501101530003"),
    ],
)
def test_a_gtin_is_stored_as_14_digits(client, login_as, given, stored):
    body = {"kind": "consumable", "name": "Syringe", "unit": "piece", "gtin": given}
    response = client.post("/api/products", headers=login_as("pharmacist"), json=body)
    assert response.get_json()["gtin"] == stored


@pytest.mark.parametrize("gtin", ["4006381333932", "12345", "40063813339a1"])
def test_a_gtin_with_a_wrong_check_digit_or_length_is_refused(client, login_as, gtin):
    body = {"kind": "consumable", "name": "Syringe", "unit": "piece", "gtin": gtin}
    response = client.post("/api/products", headers=login_as("pharmacist"), json=body)
    assert response.status_code == 422 and "gtin" in response.get_json()["errors"]


def test_a_gtin_belongs_to_one_product(client, login_as):
    factories.make_product(kind="consumable", gtin="4006381333931")
    body = {"kind": "consumable", "name": "Other", "unit": "piece", "gtin": "04006381333931"}
    response = client.post("/api/products", headers=login_as("pharmacist"), json=body)
    assert response.status_code == 409 and "gtin" in response.get_json()["errors"]


def test_the_unit_of_a_product_with_lots_cannot_change(client, login_as):
    product = factories.make_product()
    factories.make_lot(product)
    response = client.patch(
        f"/api/products/{product.id}", headers=login_as("pharmacist"), json={"unit": "mL"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "consumable", "substance_id": None}, "kind"),
        ("other substance", "substance_id"),
        ({"strength": {"value": 500, "unit": "mg/mL"}}, "strength"),
    ],
)
def test_what_a_product_with_lots_holds_cannot_change(client, login_as, change, field):
    product = factories.make_product(
        kind="component", unit="mL", strength={"value": 250, "unit": "mg/mL"}
    )
    factories.make_lot(product)
    if change == "other substance":
        change = {"substance_id": factories.make_substance("lidocaine-h2").id}
    response = client.patch(
        f"/api/products/{product.id}", headers=login_as("pharmacist"), json=change
    )
    assert response.status_code == 409
    assert field in response.get_json()["errors"]
    db.session.expire_all()
    unchanged = db.session.get(Product, product.id)
    assert (unchanged.kind.value, unchanged.strength_value) == ("component", 250)


def test_a_product_without_lots_can_be_pointed_at_another_substance(client, login_as):
    product = factories.make_product(kind="component", unit="mg")
    other = factories.make_substance("lidocaine-h2b")
    response = client.patch(
        f"/api/products/{product.id}",
        headers=login_as("pharmacist"),
        json={"substance_id": other.id},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(("role", "status"), [("doctor", 403), ("admin", 201)])
def test_products_are_written_by_pharmacists_and_admins(client, login_as, role, status):
    body = {"kind": "consumable", "name": "Gauze", "unit": "piece"}
    assert client.post("/api/products", headers=login_as(role), json=body).status_code == status


def test_every_role_reads_products(client, login_as):
    product = factories.make_product()
    response = client.get(f"/api/products/{product.id}", headers=login_as("doctor"))
    assert response.status_code == 200 and response.get_json()["id"] == product.id
    listed = client.get("/api/products?kind=serum", headers=login_as("doctor")).get_json()
    assert product.id in {found["id"] for found in listed}
