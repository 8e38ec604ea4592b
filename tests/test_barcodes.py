"""GS1 barcodes (AIs 01, 10, 17) read with biip, and receiving lots by scanning them."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.database import db
from core.errors import Invalid
from inventory import lots
from inventory.barcodes import read_barcode
from inventory.models import Lot, Movement
from tests import factories

GTIN = "09501101530003"
GS = "\x1d"
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "scanned",
    [
        f"01{GTIN}17270715" + "10AB-123",
        f"]d201{GTIN}17270715" + "10AB-123",
        f"]C101{GTIN}17270715" + "10AB-123",
        f"01{GTIN}10AB-123{GS}17270715",
        f"(01){GTIN}(17)270715(10)AB-123",
        f"(01){GTIN}(10)AB-123(17)270715",
    ],
    ids=["raw", "datamatrix-prefix", "gs1-128-prefix", "gs-separator", "hri", "hri-reordered"],
)
def test_every_form_a_scanner_or_a_person_gives_reads_the_same(scanned):
    label = read_barcode(scanned)
    assert (label.gtin, label.lot_number, label.expiry_date) == (GTIN, "AB-123", date(2027, 7, 15))
    assert label.expiry_month_only is False


def test_an_expiry_day_00_means_the_last_day_of_the_month():
    label = read_barcode(f"01{GTIN}17280200" + "10X1")
    assert (label.expiry_date, label.expiry_month_only) == (date(2028, 2, 29), True)


def test_a_barcode_without_expiry_reads_with_no_expiry():
    assert read_barcode(f"01{GTIN}10X1").expiry_date is None


@pytest.mark.parametrize(
    ("scanned", "names"),
    [
        (f"01{GTIN}17271345" + "10X1", "17"),
        ("0109501101530004" + "10X1", "check digit"),
        ("01095011015300", "01"),
        (f"(01){GTIN}(17)27071(10)X", "17"),
        ("hello", "GS1"),
        ("", "empty"),
    ],
)
def test_a_malformed_barcode_says_which_part_is_wrong(scanned, names):
    with pytest.raises(Invalid) as refused:
        read_barcode(scanned)
    [message] = refused.value.errors["barcode"]
    assert names in message


@pytest.mark.parametrize(
    ("scanned", "missing"),
    [("10X1" + GS + "17270715", "GTIN (AI 01)"), (f"01{GTIN}17270715", "lot number (AI 10)")],
)
def test_a_barcode_needs_a_gtin_and_a_lot_number(scanned, missing):
    with pytest.raises(Invalid) as refused:
        read_barcode(scanned)
    assert missing in refused.value.errors["barcode"][0]


# --- receiving by barcode -------------------------------------------------------------------


@pytest.fixture
def boxed_product():
    return factories.make_product(gtin=GTIN)


def test_a_scanned_box_is_received_as_a_lot_of_the_product_with_that_gtin(
    client, login_as, boxed_product
):
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": f"]d201{GTIN}17700715" + "10AB-123", "quantity": 6},
    )
    assert response.status_code == 201, response.get_json()
    lot = response.get_json()
    assert (lot["product_id"], lot["lot_number"], lot["expiry_date"]) == (
        boxed_product.id,
        "AB-123",
        "2070-07-15",
    )
    assert lot["quantity_on_hand"] == 6


def test_a_barcode_with_an_unknown_gtin_is_refused(client, login_as):
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": "0104006381333931" + "10X1", "quantity": 1},
    )
    assert response.status_code == 422
    assert "No product has GTIN 04006381333931" in response.get_json()["errors"]["barcode"][0]


def test_a_malformed_barcode_is_a_422_on_the_barcode_field(client, login_as, boxed_product):
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": f"01{GTIN}17701399" + "10X1", "quantity": 1},
    )
    assert response.status_code == 422
    assert "17" in response.get_json()["errors"]["barcode"][0]


def test_a_barcode_receipt_still_needs_its_quantity(client, login_as, boxed_product):
    response = client.post(
        "/api/lots", headers=login_as("pharmacist"), json={"barcode": f"01{GTIN}10X1"}
    )
    assert response.status_code == 422 and "quantity" in response.get_json()["errors"]


def test_a_barcode_with_a_contradicting_lot_number_is_refused(client, login_as, boxed_product):
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": f"01{GTIN}10X1", "lot_number": "X2", "quantity": 1},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"lot_number": ["The barcode says lot X1."]}


def test_a_new_lot_from_a_barcode_without_expiry_is_refused(boxed_product):
    with pytest.raises(Invalid) as refused:
        lots.receive_scanned(f"01{GTIN}10NEW", quantity=Decimal(1), user_id=None, now=NOW)
    assert "expiry date is needed" in refused.value.errors["expiry_date"][0]


def test_a_barcode_without_expiry_never_blanks_the_stored_one(boxed_product):
    lot = factories.make_lot(boxed_product, lot_number="AB-123", expiry_date=date(2027, 7, 15))
    receipt = lots.receive_scanned(f"01{GTIN}10AB-123", quantity=Decimal(4), user_id=None, now=NOW)
    assert receipt.lot.id == lot.id and not receipt.created
    assert (lot.expiry_date, lot.quantity_on_hand) == (date(2027, 7, 15), 14)
    kinds = db.session.scalars(select(Movement.kind).where(Movement.lot_id == lot.id)).all()
    assert [kind.value for kind in kinds] == ["receive", "receive"]


def test_a_barcode_with_another_expiry_for_a_known_lot_is_a_conflict(
    client, login_as, boxed_product
):
    lot = factories.make_lot(boxed_product, lot_number="AB-123", expiry_date=date(2070, 7, 15))
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": f"01{GTIN}17700716" + "10AB-123", "quantity": 1},
    )
    assert response.status_code == 409
    assert db.session.get(Lot, lot.id).quantity_on_hand == 10


def test_a_scanned_box_already_expired_is_refused(boxed_product):
    with pytest.raises(Invalid) as refused:
        lots.receive_scanned(
            f"01{GTIN}17250228" + "10OLD", quantity=Decimal(1), user_id=None, now=NOW
        )
    assert "barcode" in refused.value.errors
