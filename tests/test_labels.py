"""A lot's label: the GS1 element string its symbol carries, and the printable label page with
a GS1 DataMatrix that decodes back to the same lot."""

from datetime import date

import pytest

from inventory.barcodes import element_string, lot_symbol, read_barcode
from tests import factories

GTIN = "09501101530003"


@pytest.fixture
def boxed_product():
    return factories.make_product(gtin=GTIN)


# --- the element string -----------------------------------------------------------------------


def test_the_element_string_carries_gtin_expiry_and_lot(boxed_product):
    lot = factories.make_lot(boxed_product, lot_number="AB-123", expiry_date=date(2030, 3, 31))
    assert element_string(lot) == f"01{GTIN}" + "17300331" + "10AB-123"
    assert lot_symbol(lot).human_readable == f"(01){GTIN}(17)300331(10)AB-123"
    label = read_barcode(element_string(lot))
    assert (label.gtin, label.lot_number, label.expiry_date) == (GTIN, "AB-123", date(2030, 3, 31))


def test_a_month_only_expiry_is_day_00(boxed_product):
    lot = factories.make_lot(boxed_product, lot_number="M1", expiry_date=date(2030, 2, 28))
    lot.expiry_month_only = True
    assert element_string(lot) == f"01{GTIN}" + "17300200" + "10M1"
    label = read_barcode(element_string(lot))
    assert (label.expiry_date, label.expiry_month_only) == (date(2030, 2, 28), True)


def test_without_a_gtin_the_element_string_has_expiry_and_lot_only():
    lot = factories.make_lot(lot_number="NOGTIN-1", expiry_date=date(2030, 3, 31))
    assert element_string(lot) == "17300331" + "10NOGTIN-1"


@pytest.mark.parametrize("lot_number", ["AB 123", "A" * 21, "LOT-é"])
def test_a_lot_number_gs1_cannot_carry_has_no_element_string(boxed_product, lot_number):
    lot = factories.make_lot(boxed_product, lot_number=lot_number)
    symbol = lot_symbol(lot)
    assert (symbol.element_string, symbol.human_readable) == (None, None)
    assert f"Lot number {lot_number} cannot be carried by a GS1 symbol" in symbol.problem


def test_the_api_answers_the_element_string_that_receiving_takes(client, login_as, boxed_product):
    lot = factories.make_lot(boxed_product, lot_number="AB-123", expiry_date=date(2030, 3, 31))
    pharmacist = login_as("pharmacist")
    answer = client.get(f"/api/lots/{lot.id}", headers=pharmacist).get_json()
    assert answer["gs1_element_string"] == f"01{GTIN}" + "17300331" + "10AB-123"
    again = client.post(
        "/api/lots",
        headers=pharmacist,
        json={"barcode": answer["gs1_element_string"], "quantity": 2},
    )
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == lot.id and again.get_json()["quantity_on_hand"] == 12


def test_the_lot_list_answers_each_element_string(client, login_as, boxed_product):
    factories.make_lot(boxed_product, lot_number="AB 1")
    factories.make_lot(boxed_product, lot_number="AB-2", expiry_date=date(2030, 3, 31))
    answer = client.get("/api/lots", headers=login_as("pharmacist")).get_json()
    assert sorted((lot["lot_number"], lot["gs1_element_string"]) for lot in answer) == [
        ("AB 1", None),
        ("AB-2", f"01{GTIN}" + "17300331" + "10AB-2"),
    ]
