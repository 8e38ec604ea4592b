"""The pharmacist's pages: the stock board (expiry timeline, low stock), receiving by barcode or
by fields, FEFO dispense, a lot's ledger and its recall."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic.sessions import complete_session
from core.audit import AuditEntry
from core.clock import clinic_today
from core.database import db
from inventory import lots
from inventory.compounding import compound
from inventory.models import Batch, Lot, LotStatus, Movement, MovementKind
from inventory.stock import expired_on_shelf, expiring_lots, low_stock
from tests import factories

GTIN = "09501101530003"
# GTIN 09501101530003, expiry (17) July 2027 month-only, lot (10) 12345.
BARCODE = "0109501101530003172707001012345"
FAR = date(2099, 12, 31)
# A recall said yes to (the confirm page's or the dialog's answer).
RECALL = {"confirmed": "yes"}


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def pharmacist(sign_in_page):
    return sign_in_page("pharmacist")


def lot_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Lot))


# --- who sees the board ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "home"), [("pharmacist", "/stock"), ("doctor", "/today"), ("admin", "/admin")]
)
def test_home_sends_each_role_to_its_own_page(client, sign_in_page, role, home):
    sign_in_page(role)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == home
    assert client.get(home).status_code == 200


def test_the_stock_board_answers_another_role_with_a_403_page(client, sign_in_page):
    sign_in_page("doctor")
    response = client.get("/stock")
    assert response.status_code == 403
    assert response.mimetype == "text/html" and "This page is for pharmacists." in html(response)
    assert client.post("/stock/dispense", data={}).status_code == 403


def test_the_stock_board_sends_a_visitor_to_sign_in(client):
    response = client.get("/stock")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- the board ---------------------------------------------------------------------------------


def test_the_timeline_draws_what_expires_within_90_days_per_week_coloured_by_urgency(
    client, pharmacist
):
    as_of = date(2030, 1, 1)
    product = factories.make_product(
        kind="consumable", name="Mesotherapy needle 4 mm", unit="piece"
    )
    in_3 = factories.make_lot(product, lot_number="IN-3", expiry_date=as_of + timedelta(3))
    in_20 = factories.make_lot(product, lot_number="IN-20", expiry_date=as_of + timedelta(20))
    in_90 = factories.make_lot(product, lot_number="IN-90", expiry_date=as_of + timedelta(90))
    factories.make_lot(product, lot_number="IN-91", expiry_date=as_of + timedelta(91))
    factories.make_lot(
        product, lot_number="HELD", expiry_date=as_of + timedelta(5), quarantine=True
    )

    page = html(client.get(f"/stock?as_of={as_of.isoformat()}"))

    svg = page[page.index("<svg") : page.index("</svg>")]
    cells = re.findall(r'<g class="week-cell (\w+)">\s*<title>([^<]*)</title>', svg)
    assert [urgency for urgency, _ in cells] == ["urgent", "soon", "later"]
    assert cells[0][1] == (
        "Mesotherapy needle 4 mm: 10 piece in 1 lot reaching the last day of use "
        "from 1 Jan 2030 to 7 Jan 2030"
    )
    assert "from 26 Mar 2030 to 1 Apr 2030" in cells[2][1]  # the horizon's week, day 90 in it
    assert [lot.id for lot in expiring_lots(as_of, 90)] == [in_3.id, in_20.id, in_90.id]
    table = page[page.index("</svg>") : page.index('id="low-title"')]
    assert table.index("IN-3") < table.index("IN-20") < table.index("IN-90")
    assert "IN-91" not in table and "HELD" not in table
    scripts = re.findall(r"<script[^>]*>", page)
    assert all(re.fullmatch(r'<script src="/static/\w+\.js" defer>', tag) for tag in scripts)


def test_the_timeline_bands_follow_the_clinics_expiry_alert_days(
    app, monkeypatch, client, pharmacist
):
    monkeypatch.setitem(app.config, "EXPIRY_ALERT_DAYS", (120, 14))
    as_of = date(2030, 1, 1)
    product = factories.make_product(kind="consumable", name="Gauze", unit="piece")
    for days in (10, 15, 20, 110, 121):
        factories.make_lot(product, lot_number=f"IN-{days}", expiry_date=as_of + timedelta(days))

    page = html(client.get(f"/stock?as_of={as_of.isoformat()}"))

    svg = page[page.index("<svg") : page.index("</svg>")]
    cells = re.findall(r'<g class="week-cell (\w+)">\s*<title>[^<]*from ([^<]*)</title>', svg)
    # Day 14 ends the urgent band: its week (days 14 to 20) is cut in two there.
    assert cells == [
        ("urgent", "8 Jan 2030 to 14 Jan 2030"),
        ("soon", "16 Jan 2030 to 21 Jan 2030"),
        ("soon", "16 Apr 2030 to 22 Apr 2030"),
    ]
    assert "Expiring in the next 120 days" in page
    assert "14 days or less" in page and "30 days or less" not in page


def test_an_unreadable_as_of_is_a_422_page(client, pharmacist):
    assert client.get("/stock?as_of=tomorrow").status_code == 422


def test_low_stock_counts_only_what_is_usable_on_the_day(client, pharmacist):
    as_of = date(2030, 1, 1)
    short = factories.make_product(kind="consumable", name="Syringe 1 mL", reorder_point=10)
    factories.make_lot(short, quantity="6", expiry_date=FAR)
    factories.make_lot(short, quantity="50", expiry_date=FAR, quarantine=True)
    factories.make_lot(short, quantity="50", expiry_date=as_of - timedelta(days=1))
    recalled = factories.make_lot(short, quantity="50", expiry_date=FAR)
    lots.recall(recalled.id, "supplier notice")
    db.session.commit()
    stocked = factories.make_product(kind="consumable", name="Gauze", reorder_point=10)
    factories.make_lot(stocked, quantity="10", expiry_date=FAR)
    empty = factories.make_product(kind="consumable", name="Ampoule opener", reorder_point=1)

    levels = low_stock(as_of)

    assert [(level.product.id, level.usable) for level in levels] == [
        (empty.id, Decimal(0)),
        (short.id, Decimal(6)),
    ]
    assert levels[1].missing == 4
    page = html(client.get(f"/stock?as_of={as_of.isoformat()}"))
    low_section = page[page.index('id="low-title"') : page.index('id="expired-title"')]
    assert "Syringe 1 mL" in low_section and "Gauze" not in low_section


def test_expired_lots_still_on_the_shelf_are_listed_for_disposal(client, pharmacist):
    as_of = date(2030, 1, 1)
    product = factories.make_product(kind="consumable")
    old = factories.make_lot(product, lot_number="OLD-1", expiry_date=as_of - timedelta(days=1))
    factories.make_lot(product, lot_number="TODAY", expiry_date=as_of)
    assert [lot.id for lot in expired_on_shelf(as_of)] == [old.id]
    page = html(client.get(f"/stock?as_of={as_of.isoformat()}"))
    assert "OLD-1" in page[page.index('id="expired-title"') :]


def test_the_board_sends_the_same_number_of_queries_for_few_and_many_lots(
    client, pharmacist, queries_of_get
):
    as_of = date(2030, 1, 1)

    def measure():
        return queries_of_get(f"/stock?as_of={as_of.isoformat()}")[0]

    product = factories.make_product(kind="consumable", reorder_point=1000)
    factories.make_lot(product, expiry_date=as_of + timedelta(days=10))
    few = measure()
    for days in range(20):
        other = factories.make_product(kind="consumable", reorder_point=1000)
        factories.make_lot(other, expiry_date=as_of + timedelta(days=days))
        factories.make_lot(other, expiry_date=as_of - timedelta(days=days + 1))
    assert measure() == few


# --- receiving ---------------------------------------------------------------------------------


def test_the_barcode_field_has_focus_and_a_label(client, pharmacist):
    page = html(client.get("/stock"))
    field = re.search(r"<input[^>]*id=\"barcode\"[^>]*>", page).group(0)
    assert "autofocus" in field and 'data-lookup="/stock/barcode"' in field
    assert '<label for="barcode">Barcode</label>' in page


def test_the_barcode_lookup_says_product_lot_and_expiry(client, pharmacist):
    product = factories.make_product(kind="consumable", name="Hyaluronic base", gtin=GTIN)
    answer = client.get("/stock/barcode", query_string={"code": BARCODE})
    assert answer.status_code == 200
    assert answer.get_json() == {
        "product_id": product.id,
        "product_name": "Hyaluronic base",
        "unit": "vial",
        "gtin": GTIN,
        "lot_number": "12345",
        "expiry_date": "2027-07-31",
        "expiry_month_only": True,
        "expiry": "2027-07",
        "existing_lot": None,
    }


def test_the_barcode_lookup_says_which_part_of_a_bad_barcode_is_wrong(client, pharmacist):
    json = {"Accept": "application/json"}  # as static/barcode.js asks
    answer = client.get("/stock/barcode", query_string={"code": "0109501101530003"}, headers=json)
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == {"barcode": ["The barcode has no lot number (AI 10)."]}
    unknown = client.get("/stock/barcode", query_string={"code": BARCODE}, headers=json)
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"]["barcode"][0].startswith(f"No product has GTIN {GTIN}")


def test_a_scanned_barcode_alone_receives_the_lot_without_any_script(client, pharmacist):
    product = factories.make_product(kind="consumable", gtin=GTIN)
    response = client.post(
        "/stock/receive", data={"barcode": BARCODE, "quantity": "5", "storage": "refrigerated"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/stock"
    lot = db.session.scalar(select(Lot).where(Lot.product_id == product.id))
    assert (lot.lot_number, lot.expiry_date, lot.expiry_month_only) == (
        "12345",
        date(2027, 7, 31),
        True,
    )
    assert lot.quantity_on_hand == 5 and lot.storage.value == "refrigerated"
    movement = db.session.scalar(select(Movement).where(Movement.lot_id == lot.id))
    assert movement.kind == MovementKind.RECEIVE and movement.user_id == pharmacist.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "lots"))
    assert entry.username == pharmacist.username
    assert "Received new lot 12345" in html(client.get("/stock"))


def test_the_fields_the_scan_filled_in_are_received_with_the_barcode(client, pharmacist):
    product = factories.make_product(kind="consumable", gtin=GTIN)
    fields = {"product_id": product.id, "lot_number": "12345", "expiry_date": "2027-07"}
    response = client.post(
        "/stock/receive", data={"barcode": BARCODE, "quantity": "2", "storage": "room", **fields}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Lot.quantity_on_hand).where(Lot.product_id == product.id)) == 2


def test_typed_fields_that_contradict_the_barcode_receive_nothing(client, pharmacist):
    product = factories.make_product(kind="consumable", gtin=GTIN)
    response = client.post(
        "/stock/receive",
        data={"barcode": BARCODE, "lot_number": "99999", "quantity": "2", "storage": "room"},
    )
    assert response.status_code == 422
    assert "The barcode says lot 12345." in html(response)
    assert db.session.scalar(select(Lot.id).where(Lot.product_id == product.id)) is None


def test_receiving_by_fields_without_a_barcode(client, pharmacist):
    product = factories.make_product(kind="consumable")
    response = client.post(
        "/stock/receive",
        data={
            "product_id": product.id,
            "lot_number": "A-1",
            "expiry_date": "12/2099",
            "quantity": "3.5",
            "storage": "room",
            "supplier": "Pharma Wholesale",
            "quarantine": "y",
        },
    )
    assert response.status_code == 302
    lot = db.session.scalar(select(Lot).where(Lot.product_id == product.id))
    assert lot.expiry_date == date(2099, 12, 31) and lot.quantity_on_hand == Decimal("3.5")
    assert lot.status == LotStatus.QUARANTINE and lot.supplier == "Pharma Wholesale"


def test_an_expired_lot_is_refused_with_the_error_next_to_the_expiry_field(client, pharmacist):
    product = factories.make_product(kind="consumable")
    before = lot_count()
    yesterday = clinic_today() - timedelta(days=1)
    response = client.post(
        "/stock/receive",
        data={
            "product_id": product.id,
            "lot_number": "OLD",
            "expiry_date": yesterday.isoformat(),
            "quantity": "1",
            "storage": "room",
        },
    )
    assert response.status_code == 422
    page = html(response)
    field = re.search(r'<input[^>]*id="expiry_date"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and "expiry_date-error" in field
    assert re.search(r'id="expiry_date-error">Expired on ', page)
    assert lot_count() == before


def test_missing_fields_without_a_barcode_are_named(client, pharmacist):
    response = client.post("/stock/receive", data={"quantity": "1", "storage": "room"})
    assert response.status_code == 422
    assert html(response).count("Required (or scan the barcode).") == 3


def test_a_quantity_finer_than_the_ledger_counts_is_a_422_not_a_500(client, pharmacist):
    product = factories.make_product(kind="consumable")
    data = {"product_id": product.id, "lot_number": "F", "expiry_date": "2099-01-01"}
    response = client.post(
        "/stock/receive", data={**data, "quantity": "0.0000001", "storage": "room"}
    )
    assert response.status_code == 422 and "At most 6 decimal places." in html(response)


# --- dispensing --------------------------------------------------------------------------------


def test_dispensing_takes_first_expiring_first_and_says_which_lots(client, pharmacist):
    product = factories.make_product(kind="consumable", name="Syringe 3 mL", unit="piece")
    factories.make_lot(product, lot_number="LATE", quantity="10", expiry_date=FAR)
    factories.make_lot(product, lot_number="EARLY", quantity="4", expiry_date=date(2098, 1, 1))
    response = client.post(
        "/stock/dispense", data={"dispense-product_id": product.id, "dispense-quantity": "6"}
    )
    assert response.status_code == 302
    assert "Dispensed 6 piece of Syringe 3 mL: 4 from lot EARLY, 2 from lot LATE." in html(
        client.get("/stock")
    )
    remaining = dict(db.session.execute(select(Lot.lot_number, Lot.quantity_on_hand)).all())
    assert remaining == {"EARLY": 0, "LATE": 8}


def test_a_dispense_beyond_usable_stock_is_a_409_and_takes_nothing(client, pharmacist):
    product = factories.make_product(kind="consumable")
    lot = factories.make_lot(product, quantity="3", expiry_date=FAR)
    response = client.post(
        "/stock/dispense", data={"dispense-product_id": product.id, "dispense-quantity": "5"}
    )
    assert response.status_code == 409
    assert 'id="dispense-quantity-error">Only 3 usable.' in html(response)
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).quantity_on_hand == 3


# --- a lot's page ------------------------------------------------------------------------------


def test_the_lot_page_shows_its_ledger(client, pharmacist):
    lot = factories.make_lot(factories.make_product(kind="consumable"), quantity="10")
    lots.adjust(
        lot.id, Decimal(-2), reason="broken vial", user_id=pharmacist.id, now=factories.STOCK_NOW
    )
    db.session.commit()
    page = html(client.get(f"/stock/lots/{lot.id}"))
    rows = re.findall(r"<td>(receive|adjust)</td>\s*<td class=\"num\">([^<]+)</td>", page)
    assert rows == [("receive", "+10"), ("adjust", "-2")]
    assert "broken vial" in page and pharmacist.username in page
    assert client.get("/stock/lots/999999").status_code == 404


def test_a_recall_from_the_lot_page_makes_the_lot_unusable(client, pharmacist):
    product = factories.make_product(kind="consumable")
    lot = factories.make_lot(product, quantity="10", expiry_date=FAR)
    assert (
        client.post(f"/stock/lots/{lot.id}/recall", data={"recall-reason": ""}).status_code == 422
    )
    response = client.post(
        f"/stock/lots/{lot.id}/recall", data=RECALL | {"recall-reason": "supplier recall 7"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).status == LotStatus.RECALLED
    assert "is recalled" in html(client.get(f"/stock/lots/{lot.id}"))
    refused = client.post(
        "/stock/dispense", data={"dispense-product_id": product.id, "dispense-quantity": "1"}
    )
    assert refused.status_code == 409
    again = client.post(f"/stock/lots/{lot.id}/recall", data=RECALL | {"recall-reason": "twice"})
    assert again.status_code == 409 and "already recalled" in html(again)


# --- CSRF ----------------------------------------------------------------------------------------


def test_stock_forms_are_refused_without_their_csrf_token(csrf_client):
    username = factories.make_user(role="pharmacist").username
    product_id = factories.make_product(kind="consumable").id
    login = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    signed_in = csrf_client.post(
        "/login",
        data={"username": username, "password": factories.DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert signed_in.status_code == 302
    data = {"product_id": product_id, "lot_number": "C", "expiry_date": "2099-01-01"}
    refused = csrf_client.post("/stock/receive", data={**data, "quantity": 1, "storage": "room"})
    assert refused.status_code == 400
    board = csrf_client.get("/stock").get_data(as_text=True)
    assert 'name="csrf_token"' in board and 'name="dispense-csrf_token"' in board
    assert db.session.scalar(select(Lot.id).where(Lot.product_id == product_id)) is None


# --- recall trace and compounding ----------------------------------------------------------------

PREPARED = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
AFTER = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
DONE = {"needle_mm": Decimal(6), "technique": "manual", "injection_points": 60}


@pytest.fixture
def biotin_serum():
    """A compounded serum of 10 mg biotin a dose, its dose product and a 1000 mg biotin lot."""
    biotin = factories.make_substance("biotin-web")
    serum = factories.make_approved_serum(
        components=[(biotin, 10, "mg")], code="BIO-W", name="Biotin serum"
    )
    factories.make_serum_product(serum, name="Biotin serum dose")
    component = factories.make_product("component", substance_id=biotin.id, unit="mg",
                                       name="Biotin powder")  # fmt: skip
    biotin_lot = factories.make_lot(component, lot_number="BIOTIN-1", quantity="1000")
    return serum, biotin_lot


def treat_with(serum, mrn: str, name: str, start: date) -> None:
    """A patient whose first session of a course of the serum is completed."""
    patient = factories.make_safe_patient(mrn=mrn, name=name)
    course = factories.make_course(patient, serum, start_date=start)
    complete_session(
        course.sessions[0], factories.make_user(role="doctor"), fields=dict(DONE), now=AFTER
    )
    db.session.commit()


def test_after_a_recall_the_lot_page_traces_it_through_a_batch_to_the_patients(
    client, pharmacist, biotin_serum
):
    serum, biotin_lot = biotin_serum
    batch = compound(serum, Decimal(5), user=pharmacist, now=PREPARED, storage="refrigerated")
    factories.check_batch(batch)
    treat_with(serum, "MRN-CALL-1", "Rita Gomes", date(2025, 3, 3))
    treat_with(serum, "MRN-CALL-2", "Paulo Reis", date(2025, 3, 4))
    assert 'id="trace"' not in html(client.get(f"/stock/lots/{biotin_lot.id}"))

    response = client.post(
        f"/stock/lots/{biotin_lot.id}/recall", data=RECALL | {"recall-reason": "supplier"}
    )

    assert response.status_code == 302
    page = html(client.get(f"/stock/lots/{biotin_lot.id}"))
    trace = page[page.index('id="trace"') :]
    assert f'href="/stock/lots/{batch.lot_id}">{batch.lot.lot_number}</a>' in trace
    rows = re.findall(
        r'<tr><td><time datetime="([\d-]+)">[^<]*</time></td><td>([^<]+)</td>\s*'
        r"<td>([^<]+)</td>\s*<td>([^<]+)</td>",
        trace,
    )
    assert rows == [
        ("2025-03-03", "MRN-CALL-1", "Rita Gomes", batch.lot.lot_number),
        ("2025-03-04", "MRN-CALL-2", "Paulo Reis", batch.lot.lot_number),
    ]


def test_a_recalled_lot_nothing_was_made_from_says_so(client, pharmacist):
    lot = factories.make_lot(factories.make_product(kind="consumable"))
    lots.recall(lot.id, "damaged box")
    db.session.commit()
    page = html(client.get(f"/stock/lots/{lot.id}"))
    assert "No batch was made from this lot." in page
    assert "No session used this lot or a batch made from it." in page


def test_the_lot_page_sends_the_same_number_of_queries_for_few_and_many_treated_patients(
    client, pharmacist, biotin_serum, queries_of_get
):
    serum, biotin_lot = biotin_serum
    batch = compound(serum, Decimal(20), user=pharmacist, now=PREPARED, storage="refrigerated")
    factories.check_batch(batch)
    treat_with(serum, "MRN-Q-0", "First", date(2025, 3, 3))
    lots.recall(biotin_lot.id, "supplier")
    db.session.commit()

    def measure():
        return queries_of_get(f"/stock/lots/{biotin_lot.id}")[0]

    few = measure()
    for n in range(1, 9):
        treat_with(serum, f"MRN-Q-{n}", f"Patient {n}", date(2025, 3, 3 + n % 4))
    assert measure() == few


def test_compounding_from_its_page_answers_the_new_lot_and_the_lots_consumed(
    client, pharmacist, biotin_serum
):
    serum, biotin_lot = biotin_serum
    form = html(client.get("/stock/batches"))
    assert f'<option value="{serum.id}">Biotin serum (BIO-W v1)</option>' in form
    assert '<a href="/stock/batches">Compounding</a>' in form

    response = client.post(
        "/stock/batches", data={"serum_id": serum.id, "doses": "4", "storage": "refrigerated"}
    )

    batch = db.session.scalar(select(Batch).where(Batch.serum_id == serum.id))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/stock/batches/{batch.id}"
    page = html(client.get(response.headers["Location"]))
    assert f"Compounded 4 doses of Biotin serum: lot {batch.lot.lot_number}" in page
    consumed = page[page.index('id="consumed"') :]
    assert re.search(r"Biotin powder</td>\s*<td><a [^>]*>BIOTIN-1</a></td>\s*"
                     r'<td class="num">40 mg</td>', consumed)  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Lot, biotin_lot.id).quantity_on_hand == 960
    assert db.session.get(Lot, batch.lot_id).quantity_on_hand == 4


def test_a_short_component_is_a_409_named_next_to_the_doses_and_nothing_is_consumed(
    client, pharmacist, biotin_serum
):
    serum, biotin_lot = biotin_serum
    response = client.post(
        "/stock/batches", data={"serum_id": serum.id, "doses": "101", "storage": "room"}
    )
    assert response.status_code == 409
    error = re.search(r'id="doses-error">([^<]*)<', html(response)).group(1)
    assert error == "10 mg short of Biotin powder (biotin-web)."
    db.session.expire_all()
    assert db.session.get(Lot, biotin_lot.id).quantity_on_hand == 1000
    assert db.session.scalar(select(func.count()).select_from(Batch)) == 0


def test_a_serum_stocked_by_two_products_is_compounded_into_the_one_chosen(
    client, pharmacist, biotin_serum
):
    serum, _ = biotin_serum
    second = factories.make_serum_product(serum, name="Biotin serum, clinic B")
    data = {"serum_id": serum.id, "doses": "2", "storage": "room"}
    refused = client.post("/stock/batches", data=data)
    assert refused.status_code == 422
    assert 'id="product_id-error">2 products stock Biotin serum: say which one.' in html(refused)
    assert db.session.scalar(select(func.count()).select_from(Batch)) == 0

    made = client.post(
        "/stock/batches", data={**data, "product_id": second.id, "lot_number": "B-CUSTOM-1"}
    )
    assert made.status_code == 302
    batch = db.session.scalar(select(Batch).where(Batch.serum_id == serum.id))
    assert (batch.lot.product_id, batch.lot.lot_number) == (second.id, "B-CUSTOM-1")


def test_a_manufactured_serum_is_not_offered_for_compounding_and_is_refused(client, pharmacist):
    bought = factories.make_approved_serum(source="manufactured", manufacturer="Labs", code="MAN")
    assert f'value="{bought.id}"' not in html(client.get("/stock/batches"))
    response = client.post(
        "/stock/batches", data={"serum_id": bought.id, "doses": "1", "storage": "room"}
    )
    assert response.status_code == 409
    assert 'id="serum_id-error">Not a compounded serum.' in html(response)
    assert client.post("/stock/batches", data={"doses": "1", "storage": "room"}).status_code == 422


def test_compounding_is_for_pharmacists(client, sign_in_page):
    sign_in_page("doctor")
    assert client.get("/stock/batches").status_code == 403
    assert client.post("/stock/batches", data={}).status_code == 403


def test_a_refused_form_shows_every_error_at_once_and_focuses_the_first(client, pharmacist):
    response = client.post("/stock/receive", data={"quantity": "", "storage": "room"})
    assert response.status_code == 422
    page = html(response)
    invalid = re.findall(r"<(?:input|select)[^>]*aria-invalid=\"true\"[^>]*>", page)
    assert len(invalid) >= 2
    assert sum("autofocus" in tag for tag in invalid) == 1 and "autofocus" in invalid[0]
