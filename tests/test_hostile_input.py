"""Hostile input gets a 4xx naming what is wrong, never a 500, and changes nothing; a database
that cannot be reached is a 503, not a 500."""

import pytest
from sqlalchemy import func, select

from app import create_app
from core.database import db
from inventory.models import Lot
from tests import factories


def test_deeply_nested_json_is_a_400_even_before_signing_in(client):
    body = '{"username": ' + "[" * 2000 + "]" * 2000 + ', "password": "x"}'
    answer = client.post("/api/auth/token", data=body, content_type="application/json")
    assert answer.status_code == 400
    assert "levels deep" in answer.get_json()["errors"]["json"][0]


def test_nesting_within_the_limit_reaches_the_schema(client):
    body = '{"username": ' + "[" * 10 + "]" * 10 + ', "password": "x"}'
    answer = client.post("/api/auth/token", data=body, content_type="application/json")
    assert answer.status_code == 422
    assert "username" in answer.get_json()["errors"]


@pytest.mark.parametrize("text", ["lot\x00number", "lot \ud800 number"])
def test_a_nul_or_a_lone_surrogate_is_a_422_naming_the_field(client, login_as, text):
    product = factories.make_product(kind="consumable", unit="piece")
    answer = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={
            "product_id": product.id,
            "lot_number": text,
            "expiry_date": "2030-01-31",
            "quantity": 1,
        },
    )
    assert answer.status_code == 422
    assert list(answer.get_json()["errors"]) == ["lot_number"]
    assert db.session.scalar(select(func.count()).select_from(Lot)) == 0


@pytest.mark.own_database
def test_a_database_that_cannot_be_reached_is_a_503_with_the_json_error(tmp_path):
    unreachable = f"sqlite:///{tmp_path / 'no such folder' / 'formulary.sqlite3'}"
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": unreachable})
    answer = app.test_client().get("/api/lots", headers={"Authorization": "Bearer some-token"})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.get_json()["code"] == 503


# Found by the contract run (test_contract): values of the right JSON type but not what the
# field means, refused with a 422 naming the field rather than taken for something else.


def test_a_fraction_where_a_whole_number_is_expected_is_refused_not_cut(client, login_as):
    patient = factories.make_safe_patient()
    serum = factories.make_approved_serum()
    answer = client.post(
        f"/api/patients/{patient.id}/courses",
        headers=login_as("doctor"),
        json={"serum_id": serum.id, "start_date": "2027-01-04", "induction_sessions": 4.5},
    )
    assert answer.status_code == 422
    assert list(answer.get_json()["errors"]) == ["induction_sessions"]


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_a_json_boolean_is_true_or_false_and_nothing_else(client, login_as, value):
    answer = client.post(
        "/api/substances",
        headers=login_as("pharmacist"),
        json={"name": "Hostile boolean", "category": "vitamin", "is_class": value},
    )
    assert answer.status_code == 422
    assert list(answer.get_json()["errors"]) == ["is_class"]


def test_a_dose_volume_with_more_decimals_than_kept_is_refused_not_rounded(client, login_as):
    answer = client.post(
        "/api/serums",
        headers=login_as("pharmacist"),
        json={
            "code": "HOST-1",
            "name": "Hostile",
            "source": "compounded",
            "dose_volume_ml": 0.0004,
        },
    )
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["dose_volume_ml"] == ["At most 3 decimal places."]


def test_a_quantity_beyond_a_billion_units_is_refused_before_the_database(client, login_as):
    lot = factories.make_lot(quantity=5)
    answer = client.post(
        f"/api/lots/{lot.id}/adjust",
        headers=login_as("pharmacist"),
        json={"quantity": -3.66e26, "reason": "count"},
    )
    assert answer.status_code == 422
    assert list(answer.get_json()["errors"]) == ["quantity"]


def test_a_member_listed_twice_in_a_group_is_named(client, login_as):
    first, second = factories.make_substance(), factories.make_substance()
    answer = client.post(
        "/api/cross-reactivity",
        headers=login_as("pharmacist"),
        json={"name": "Twice", "members": [first.id, second.id, first.id]},
    )
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["members"] == [f"Listed twice: {first.id}."]


@pytest.mark.parametrize("record_id", [0, 2**31, 10**20])
def test_an_id_no_record_can_have_is_a_404_on_every_method_as_on_get(client, login_as, record_id):
    admin = login_as("admin")
    assert client.get(f"/api/serums/{record_id}", headers=admin).status_code == 404
    assert client.patch(f"/api/serums/{record_id}", json={}, headers=admin).status_code == 404
    doctor = login_as("doctor")
    path = f"/api/patients/1/allergies/{record_id}"
    assert client.patch(path, json={}, headers=doctor).status_code == 404
    assert client.delete(path, headers=doctor).status_code == 404
