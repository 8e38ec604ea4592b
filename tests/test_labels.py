"""A lot's label: the GS1 element string its symbol carries, and the printable label page with
a GS1 DataMatrix that decodes back to the same lot."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import zxingcpp
from sqlalchemy import func, select

from core.clock import day_text, moment_text
from core.database import db
from inventory.barcodes import element_string, lot_symbol, read_barcode
from inventory.compounding import compound
from inventory.labels import datamatrix
from inventory.models import Lot
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


# --- the label page ---------------------------------------------------------------------------

PREPARED = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ARTICLE = re.compile(r'<article class="lot-label".*?</article>', re.DOTALL)
SVG = re.compile(r"<svg .*?</svg>", re.DOTALL)
MODULE = re.compile(r"M(\d+) (\d+)h(\d+)v(\d+)h-\d+Z")


def html(response) -> str:
    return response.get_data(as_text=True)


def rendered(svg: str, scale: int = 4) -> memoryview:
    """The label's SVG drawn as a grey-scale bitmap, black modules on white: zxing-cpp's SVG is
    one path of rectangles (`M x y h w v h h -w Z`) in a viewBox of the symbol's size."""
    width, height = map(int, re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    pixels = bytearray([255]) * (width * scale * height * scale)
    row_length = width * scale
    for x, y, dx, dy in (map(int, found) for found in MODULE.findall(svg)):
        for row in range(y * scale, (y + dy) * scale):
            start = row * row_length + x * scale
            pixels[start : start + dx * scale] = bytes(dx * scale)
    return memoryview(bytes(pixels)).cast("B", (height * scale, row_length))


def scanned(symbol_image) -> str:
    """What a scanner types reading the image: the symbology identifier, then the data."""
    [found] = zxingcpp.read_barcodes(symbol_image, formats=zxingcpp.BarcodeFormat.DataMatrix)
    assert found.symbology_identifier == "]d2"  # GS1 DataMatrix: FNC1 first
    return found.symbology_identifier + found.bytes.decode("ascii")


@pytest.fixture
def pharmacist(sign_in_page):
    return sign_in_page("pharmacist")


@pytest.fixture
def boxed_lot(boxed_product):
    return factories.make_lot(
        boxed_product, lot_number="AB-123", expiry_date=date(2030, 3, 31), storage="refrigerated"
    )


def test_the_lot_page_links_to_its_label(client, pharmacist, boxed_lot):
    page = html(client.get(f"/stock/lots/{boxed_lot.id}"))
    assert f'<a href="/stock/lots/{boxed_lot.id}/label">Print label</a>' in page


def test_a_label_says_product_lot_expiry_and_storage(client, pharmacist, boxed_lot):
    response = client.get(f"/stock/lots/{boxed_lot.id}/label")
    assert response.status_code == 200
    label = ARTICLE.search(html(response)).group(0)
    assert boxed_lot.product.name in label
    assert '<dt>Lot</dt><dd class="label-lot">AB-123</dd>' in label
    assert '<dt>Expiry</dt><dd class="label-date">31 Mar 2030</dd>' in label
    assert "Store refrigerated (2-8 °C). Do not freeze." in label
    assert f"(01){GTIN}(17)300331(10)AB-123" in label
    assert 'role="img" aria-label="GS1 DataMatrix: (01)' in label


def test_the_printed_datamatrix_decodes_to_the_same_lot_and_expiry(client, pharmacist, boxed_lot):
    svg = SVG.search(html(client.get(f"/stock/lots/{boxed_lot.id}/label"))).group(0)
    text = scanned(rendered(svg))
    assert text == f"]d201{GTIN}" + "17300331" + "10AB-123"
    box = read_barcode(text)
    assert (box.gtin, box.lot_number, box.expiry_date) == (GTIN, "AB-123", date(2030, 3, 31))


def test_the_symbol_zxing_draws_as_an_image_decodes_to_the_element_string(boxed_lot):
    barcode = datamatrix(lot_symbol(boxed_lot))
    assert scanned(barcode.to_image(scale=3)) == "]d2" + element_string(boxed_lot)


def test_receiving_the_decoded_label_adds_to_the_same_lot(client, login_as, boxed_lot):
    barcode = datamatrix(lot_symbol(boxed_lot))
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json={"barcode": scanned(barcode.to_image(scale=3)), "quantity": 5},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == boxed_lot.id
    assert response.get_json()["quantity_on_hand"] == 15
    assert db.session.scalar(select(func.count()).select_from(Lot)) == 1


def test_a_month_only_expiry_prints_as_the_month(client, pharmacist, boxed_product):
    lot = factories.make_lot(boxed_product, lot_number="M1", expiry_date=date(2030, 2, 28))
    lot.expiry_month_only = True
    db.session.commit()
    label = ARTICLE.search(html(client.get(f"/stock/lots/{lot.id}/label"))).group(0)
    assert '<dd class="label-date">Feb 2030</dd>' in label
    assert "(17)300200" in label


def test_a_lot_number_gs1_cannot_carry_prints_without_a_symbol(client, pharmacist, boxed_product):
    lot = factories.make_lot(boxed_product, lot_number="AB 123")
    page = html(client.get(f"/stock/lots/{lot.id}/label"))
    assert "<svg" not in page
    assert "No symbol: Lot number AB 123 cannot be carried by a GS1 symbol" in page


@pytest.fixture
def biotin_serum():
    """A compounded serum of 10 mg biotin a dose, its dose product (with a GTIN) and stock."""
    biotin = factories.make_substance("biotin-label")
    serum = factories.make_approved_serum(
        components=[(biotin, 10, "mg")], code="BIO-L", name="Biotin serum"
    )
    factories.make_serum_product(serum, name="Biotin serum dose", gtin="04006381333931")
    component = factories.make_product("component", substance_id=biotin.id, unit="mg",
                                       name="Biotin powder")  # fmt: skip
    factories.make_lot(component, lot_number="BIOTIN-1", quantity="1000")
    return serum


def test_a_batch_label_says_beyond_use_date_and_who_compounded_it(client, pharmacist, biotin_serum):
    batch = compound(
        biotin_serum, Decimal(5), user=pharmacist, now=PREPARED, storage="refrigerated"
    )
    db.session.commit()
    batch_page = html(client.get(f"/stock/batches/{batch.id}"))
    assert f'<a href="/stock/lots/{batch.lot.id}/label">Print label</a>' in batch_page

    page = html(client.get(f"/stock/lots/{batch.lot.id}/label"))
    label = ARTICLE.search(page).group(0)
    assert "Biotin serum dose" in label and batch.lot.lot_number in label
    bud = day_text(batch.beyond_use_date)
    assert f'<dt>Beyond-use date</dt><dd class="label-date">{bud}</dd>' in label
    assert f"Compounded on {moment_text(PREPARED)} by {pharmacist.username}" in label
    assert "Store refrigerated" in label
    assert f'href="/stock/batches/{batch.id}">Batch record</a>' in page
    box = read_barcode(scanned(rendered(SVG.search(label).group(0))))
    assert (box.gtin, box.lot_number, box.expiry_date) == (
        "04006381333931",
        batch.lot.lot_number,
        batch.beyond_use_date,
    )


def test_the_label_page_is_for_the_pharmacy(client, sign_in_page, boxed_lot):
    sign_in_page("doctor")
    assert client.get(f"/stock/lots/{boxed_lot.id}/label").status_code == 403


# --- the label in the API ---------------------------------------------------------------------


def test_the_api_answers_the_same_label_page(client, login_as, boxed_lot):
    response = client.get(f"/api/lots/{boxed_lot.id}/label", headers=login_as("pharmacist"))
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    api_label = ARTICLE.search(html(response)).group(0)
    login_as_page = factories.make_user(role="pharmacist")
    client.post(
        "/login",
        data={"username": login_as_page.username, "password": factories.DEFAULT_PASSWORD},
    )
    web_label = ARTICLE.search(html(client.get(f"/stock/lots/{boxed_lot.id}/label"))).group(0)
    assert api_label == web_label


def test_the_api_label_refuses_the_doctor_and_an_unknown_lot(client, login_as, boxed_lot):
    doctor = client.get(f"/api/lots/{boxed_lot.id}/label", headers=login_as("doctor"))
    assert doctor.status_code == 403
    missing = client.get("/api/lots/999999/label", headers=login_as("pharmacist"))
    assert missing.status_code == 404 and missing.is_json


def test_the_openapi_document_says_the_label_is_an_html_page(client):
    spec = client.get("/api/openapi.json").get_json()
    answer = spec["paths"]["/api/lots/{lot_id}/label"]["get"]["responses"]["200"]
    assert answer["content"] == {"text/html": {"schema": {"type": "string"}}}
    lot = spec["components"]["schemas"]["Lot"]["properties"]["gs1_element_string"]
    assert lot["type"] == "string" and lot["nullable"] is True
