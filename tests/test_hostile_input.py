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
