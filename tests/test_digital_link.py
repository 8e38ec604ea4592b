"""GS1 Digital Link URIs (what a phone camera or a 2D scanner reads off a modern pack) received
wherever a GS1 barcode is: read with biip, with the same checks."""

from datetime import date

import pytest
from sqlalchemy import select

from core.database import db
from core.errors import Invalid
from inventory.barcodes import read_barcode
from inventory.models import Lot
from tests import factories

GTIN = "09501101530003"
LINK = f"https://id.gs1.org/01/{GTIN}/10/LOT42?17=300331"


@pytest.mark.parametrize(
    "scanned",
    [
        LINK,
        f"https://id.gs1.org/01/{GTIN}?10=LOT42&17=300331",
        f"https://pharma.example.com/products/01/{GTIN}/10/LOT42?17=300331&utm=box",
        f"http://example.org/01/{GTIN[1:]}/10/LOT42?17=300331",
        f"HTTPS://ID.GS1.ORG/01/{GTIN}/10/LOT42?17=300331",
        f"]Q1{LINK}",
    ],
    ids=["path", "query", "other-domain", "gtin-13", "upper-case", "symbology-prefix"],
)
def test_a_digital_link_in_every_form_reads_as_the_barcode_does(scanned):
    label = read_barcode(scanned)
    assert (label.gtin, label.lot_number, label.expiry_date) == (GTIN, "LOT42", date(2030, 3, 31))
    assert label.expiry_month_only is False


def test_a_digital_link_expiry_day_00_means_the_month():
    label = read_barcode(f"https://id.gs1.org/01/{GTIN}/10/X?17=300200")
    assert (label.expiry_date, label.expiry_month_only) == (date(2030, 2, 28), True)


@pytest.mark.parametrize(
    ("scanned", "names"),
    [
        ("https://id.gs1.org/about", "Not a GS1 Digital Link"),
        (f"https://id.gs1.org/01/{GTIN}/10", "Not a GS1 Digital Link"),
        ("https://id.gs1.org/01/09501101530004/10/X", "check digit"),
        (f"https://id.gs1.org/01/{GTIN}/10/X?17=301399", "17"),
        (f"https://id.gs1.org/01/{GTIN}?17=300331", "lot number (AI 10)"),
        (f"https://id.gs1.org/01/{GTIN}/10/X?10=Y", "two different lot numbers"),
    ],
    ids=["no-identifier", "half-pair", "check-digit", "bad-date", "no-lot", "two-lots"],
)
def test_a_bad_digital_link_says_what_is_wrong(scanned, names):
    with pytest.raises(Invalid) as refused:
        read_barcode(scanned)
    [message] = refused.value.errors["barcode"]
    assert names in message


# --- receiving ------------------------------------------------------------------------------


@pytest.fixture
def boxed_product():
    return factories.make_product(gtin=GTIN)


def test_the_api_receives_a_lot_from_a_digital_link(client, login_as, boxed_product):
    pharmacist = login_as("pharmacist")
    response = client.post("/api/lots", headers=pharmacist, json={"barcode": LINK, "quantity": 6})
    assert response.status_code == 201, response.get_json()
    lot = response.get_json()
    assert (lot["product_id"], lot["lot_number"], lot["expiry_date"]) == (
        boxed_product.id,
        "LOT42",
        "2030-03-31",
    )
    query_form = f"https://example.com/01/{GTIN}?17=300331&10=LOT42"
    again = client.post(
        "/api/lots", headers=pharmacist, json={"barcode": query_form, "quantity": 4}
    )
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == lot["id"] and again.get_json()["quantity_on_hand"] == 10


def test_a_bad_digital_link_is_a_422_on_the_barcode_field(client, login_as, boxed_product):
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": "https://id.gs1.org/01/09501101530004/10/X?17=300331", "quantity": 1},
    )
    assert response.status_code == 422
    assert "check digit" in response.get_json()["errors"]["barcode"][0]


def test_a_digital_link_for_an_unknown_gtin_is_refused(client, login_as):
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": "https://id.gs1.org/01/04006381333931/10/X?17=300331", "quantity": 1},
    )
    assert response.status_code == 422
    assert "No product has GTIN 04006381333931" in response.get_json()["errors"]["barcode"][0]


def test_the_receive_form_takes_a_digital_link(client, sign_in_page, boxed_product):
    sign_in_page("pharmacist")
    response = client.post(
        "/stock/receive", data={"barcode": LINK, "quantity": "5", "storage": "refrigerated"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/stock"
    lot = db.session.scalar(select(Lot).where(Lot.product_id == boxed_product.id))
    assert (lot.lot_number, lot.expiry_date, lot.quantity_on_hand) == (
        "LOT42",
        date(2030, 3, 31),
        5,
    )


def test_the_scanner_lookup_reads_a_digital_link(client, sign_in_page, boxed_product):
    sign_in_page("pharmacist")
    answer = client.get("/stock/barcode", query_string={"code": LINK})
    assert answer.status_code == 200
    assert (answer.get_json()["product_id"], answer.get_json()["lot_number"]) == (
        boxed_product.id,
        "LOT42",
    )


def test_a_bad_digital_link_on_the_receive_form_says_so(client, sign_in_page, boxed_product):
    sign_in_page("pharmacist")
    response = client.post(
        "/stock/receive",
        data={"barcode": "https://id.gs1.org/about", "quantity": "5", "storage": "room"},
    )
    assert response.status_code == 422
    assert "Not a GS1 Digital Link" in response.get_data(as_text=True)
    assert db.session.scalar(select(Lot.id).where(Lot.product_id == boxed_product.id)) is None
