"""The stock lists: every lot, found by its number (from the header too), filtered by product,
status, storage and last day of use, sorted, a page at a time, each marked when usable today;
every product with what it has on hand, what of that is usable and whether it is low. The JSON
API answers the same filters from the same domain queries."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from core.database import PAGE_SIZE, db
from inventory import lots
from tests import factories

TODAY = date(2030, 3, 1)
NOW = datetime(2030, 3, 1, 10, 0, tzinfo=UTC)
FAR = date(2099, 12, 31)
PAST = date(2029, 12, 31)  # received on factories.STOCK_NOW, past its last day by TODAY


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(NOW, tick=False):
        yield TODAY


@pytest.fixture
def pharmacist(sign_in_page):
    return sign_in_page("pharmacist")


def listed(client, **query) -> list[tuple[str, str]]:
    """(lot number, state) of each row of the lot list, in order."""
    response = client.get("/stock/lots", query_string=query)
    assert response.status_code == 200, html(response)[:400]
    return [
        (number, state)
        for state, number in re.findall(
            r'<tr class="lot-row state-(\w+)">\s*<td><a href="/stock/lots/\d+">([^<]+)</a>',
            html(response),
        )
    ]


def numbers(client, **query) -> list[str]:
    return [number for number, _ in listed(client, **query)]


@pytest.fixture
def shelf():
    """A lot of each state, of two products, in two storages."""
    serum = factories.make_product(kind="consumable", name="Hyaluronic base 2 mL", unit="vial")
    needles = factories.make_product(kind="consumable", name="Needle 30G 4 mm", unit="piece")
    made = {
        "available": factories.make_lot(
            serum, lot_number="HA-100", expiry_date=date(2030, 6, 30), storage="refrigerated"
        ),
        "quarantine": factories.make_lot(
            serum, lot_number="HA-200", expiry_date=date(2030, 9, 30), quarantine=True
        ),
        "empty": factories.make_lot(needles, lot_number="N-300", expiry_date=date(2030, 4, 30)),
        "recalled": factories.make_lot(needles, lot_number="N-400", expiry_date=FAR),
        "disposed": factories.make_lot(needles, lot_number="N-500", expiry_date=date(2031, 1, 1)),
        "expired": factories.make_lot(needles, lot_number="N-600", expiry_date=PAST),
    }
    lots.adjust(made["empty"].id, quantity=Decimal(-10), reason="used up", user_id=None, now=NOW)
    lots.recall(made["recalled"].id, reason="supplier notice", now=NOW)
    lots.dispose(made["disposed"].id, reason="broken", user_id=None, now=NOW)
    db.session.commit()
    return {"serum": serum, "needles": needles, **made}


# --- who reads the lists -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["pharmacist", "admin"])
def test_pharmacists_and_administrators_read_both_lists_and_find_a_lot_from_the_header(
    client, sign_in_page, role
):
    sign_in_page(role)
    for url in ("/stock/lots", "/stock/products"):
        assert client.get(url).status_code == 200
    page = html(client.get("/stock/products"))
    search = page[page.index('<form method="get" action="/stock/lots" class="lot-search"') :]
    search = search[: search.index("</form>")]
    assert '<label for="header-lot-number" class="visually-hidden">Find a lot by its number' in (
        search
    )
    assert 'name="lot_number"' in search
    assert '<a href="/stock/lots">Lots</a>' in page
    assert '<a href="/stock/products">Product stock</a>' in page


def test_a_doctor_has_no_stock_lists_and_no_lot_search(client, sign_in_page):
    sign_in_page("doctor")
    assert client.get("/stock/lots").status_code == 403
    assert client.get("/stock/products").status_code == 403
    assert "lot-search" not in html(client.get("/patients"))


def test_the_stock_lists_send_a_visitor_to_sign_in(client):
    response = client.get("/stock/lots")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- the lot list ------------------------------------------------------------------------------


def test_every_lot_is_listed_whatever_its_status_or_date_earliest_last_day_first(
    client, pharmacist, shelf
):
    assert listed(client) == [
        ("N-600", "available"),
        ("N-300", "empty"),
        ("HA-100", "available"),
        ("HA-200", "quarantine"),
        ("N-500", "disposed"),
        ("N-400", "recalled"),
    ]
    assert '<h2 id="lots-title">6 lots</h2>' in html(client.get("/stock/lots"))


def test_a_lot_is_found_by_any_part_of_its_number_whatever_the_case(client, pharmacist, shelf):
    assert numbers(client, lot_number="ha-1") == ["HA-100"]
    assert numbers(client, lot_number=" 00 ") == ["N-600", "N-300", "HA-100", "HA-200", "N-500",
                                                   "N-400"]  # fmt: skip
    assert numbers(client, lot_number="%") == []  # a wildcard is a character like the others
    page = html(client.get("/stock/lots", query_string={"lot_number": "zz-9"}))
    assert '<h2 id="lots-title">0 lots found</h2>' in page
    assert "No lot matches these filters." in page


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("available", ["N-600", "HA-100"]),
        ("quarantine", ["HA-200"]),
        ("empty", ["N-300"]),
        ("recalled", ["N-400"]),
        ("disposed", ["N-500"]),
    ],
)
def test_the_status_filter_keeps_the_lots_of_that_status(
    client, pharmacist, shelf, state, expected
):
    assert numbers(client, state=state) == expected


def test_lots_are_filtered_by_product_storage_and_last_day_of_use_both_days_included(
    client, pharmacist, shelf
):
    assert numbers(client, product_id=shelf["serum"].id) == ["HA-100", "HA-200"]
    assert numbers(client, storage="refrigerated") == ["HA-100"]
    assert numbers(client, expires_from="2030-04-30", expires_to="2030-09-30") == [
        "N-300", "HA-100", "HA-200"
    ]  # fmt: skip
    assert numbers(client, expires_from="2030-05-01") == ["HA-100", "HA-200", "N-500", "N-400"]
    assert numbers(client, product_id=shelf["needles"].id, state="available") == ["N-600"]


def test_an_inverted_expiry_range_is_an_error_next_to_its_end_not_an_empty_list(
    client, pharmacist, shelf
):
    response = client.get(
        "/stock/lots", query_string={"expires_from": "2030-06-01", "expires_to": "2030-05-01"}
    )
    assert response.status_code == 422
    page = html(response)
    assert 'id="expires_to-error">Before the start of the range (1 Jun 2030).' in page
    assert 'class="lot-row' not in page


def test_unreadable_filters_are_each_named_next_to_their_field(client, pharmacist, shelf):
    response = client.get(
        "/stock/lots",
        query_string={"expires_from": "someday", "state": "lost", "product_id": "99999999999"},
    )
    assert response.status_code == 422
    page = html(response)
    assert 'id="expires_from-error">Not a valid date value.' in page
    assert 'id="state-error">Not a valid choice.' in page
    assert 'id="product_id-error">' in page


def test_the_lots_are_sorted_by_the_column_chosen_and_its_header_turns_the_order(
    client, pharmacist, shelf
):
    assert numbers(client, sort="lot_number") == ["HA-100", "HA-200", "N-300", "N-400", "N-500",
                                                  "N-600"]  # fmt: skip
    assert numbers(client, sort="lot_number", order="desc")[0] == "N-600"
    page = html(client.get("/stock/lots", query_string={"sort": "lot_number", "state": "empty"}))
    header = re.search(r'<th scope="col" aria-sort="ascending">\s*<a href="([^"]+)"', page)
    assert header is not None
    assert header[1] == "/stock/lots?sort=lot_number&amp;state=empty&amp;order=desc"


def test_on_hand_sorts_by_quantity(client, pharmacist):
    product = factories.make_product(kind="consumable")
    for number, quantity in (("Q-1", "5"), ("Q-2", "50"), ("Q-3", "0.5")):
        factories.make_lot(product, lot_number=number, quantity=quantity, expiry_date=FAR)
    assert numbers(client, sort="on_hand") == ["Q-3", "Q-1", "Q-2"]
    assert numbers(client, sort="on_hand", order="desc") == ["Q-2", "Q-1", "Q-3"]


def test_a_lot_is_marked_usable_today_only_when_released_with_stock_and_not_past_its_last_day(
    client, pharmacist, shelf
):
    page = html(client.get("/stock/lots"))
    rows = dict(re.findall(r'">([^<]+)</a></td>.*?<td class="usable-today">(.*?)</td>', page, re.S))
    assert '<span class="mark mark-usable">Usable</span>' in rows["HA-100"]
    for number in ("N-600", "N-300", "HA-200", "N-400", "N-500"):
        assert "Usable" not in rows[number], number


def test_the_lot_list_comes_a_page_at_a_time(client, pharmacist):
    product = factories.make_product(kind="consumable")
    for n in range(PAGE_SIZE + 1):
        factories.make_lot(product, lot_number=f"P-{n:03}", expiry_date=FAR, quantity="1")
    first = html(client.get("/stock/lots", query_string={"sort": "lot_number"}))
    assert f"Page 1 of 2 ({PAGE_SIZE + 1})" in first
    assert '<a href="/stock/lots?sort=lot_number&amp;page=2" rel="next">Next</a>' in first
    assert numbers(client, sort="lot_number", page=2) == [f"P-{PAGE_SIZE:03}"]


def test_lot_dates_read_as_people_write_them(client, pharmacist, shelf):
    page = html(client.get("/stock/lots", query_string={"lot_number": "HA-100"}))
    assert '<time datetime="2030-06-30">30 Jun 2030</time>' in page
    assert "1 Jan 2025, 09:00" in page  # received, on the clinic's clock


def test_the_lot_list_sends_the_same_number_of_queries_for_few_and_many_lots(
    client, pharmacist, queries_of_get
):
    products = [factories.make_product(kind="consumable") for _ in range(2)]
    factories.make_lot(products[0], expiry_date=FAR)
    few = queries_of_get("/stock/lots")[0]
    for n in range(12):
        factories.make_lot(products[n % 2], expiry_date=FAR)
    products.append(factories.make_product(kind="consumable"))
    factories.make_lot(products[2], expiry_date=FAR)
    assert queries_of_get("/stock/lots")[0] == few


# --- the product list --------------------------------------------------------------------------


def product_rows(client, **query) -> dict[str, list[str]]:
    """Product name: its cells after the name (kind, on hand, usable, reorder point, stock)."""
    response = client.get("/stock/products", query_string=query)
    assert response.status_code == 200
    rows = {}
    for row in re.findall(r'<tr class="product-row[^"]*">(.*?)</tr>', html(response), re.S):
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        rows[cells[0]] = cells[1:]
    return rows


def test_each_product_shows_on_hand_usable_reorder_point_and_a_low_mark(client, pharmacist, shelf):
    lots.adjust(shelf["recalled"].id, quantity=Decimal(5), reason="found", user_id=None, now=NOW)
    shelf["serum"].reorder_point = Decimal(15)
    db.session.commit()
    rows = product_rows(client)
    # Hyaluronic base: 10 usable (HA-100) and 10 in quarantine (HA-200).
    assert rows["Hyaluronic base 2 mL"] == ["consumable", "20 vial", "10 vial", "15 vial", "Low"]
    # Needles: 10 past their last day (N-600) on hand, none usable; the recalled 15 are not stock.
    assert rows["Needle 30G 4 mm"] == ["consumable", "10 piece", "0 piece", "0 piece",
                                       "No reorder point"]  # fmt: skip


def test_a_product_with_no_lot_has_nothing_on_hand_and_is_low_below_its_reorder_point(
    client, pharmacist
):
    factories.make_product(kind="consumable", name="Syringe 3 mL", unit="piece",
                           reorder_point=Decimal(5))  # fmt: skip
    assert product_rows(client)["Syringe 3 mL"] == ["consumable", "0 piece", "0 piece", "5 piece",
                                                    "Low"]  # fmt: skip


def test_products_are_found_by_name_by_kind_and_low_stock_only(client, pharmacist, shelf):
    factories.make_product(kind="consumable", name="Syringe 3 mL", reorder_point=Decimal(5))
    assert list(product_rows(client, name="NEEDLE")) == ["Needle 30G 4 mm"]
    assert list(product_rows(client, low="y")) == ["Syringe 3 mL"]
    assert list(product_rows(client, kind="serum")) == []
    assert "No product matches these filters." in html(
        client.get("/stock/products", query_string={"kind": "serum"})
    )
    assert client.get("/stock/products", query_string={"kind": "potion"}).status_code == 422


def test_a_products_name_leads_to_its_lots(client, pharmacist, shelf):
    page = html(client.get("/stock/products"))
    link = f'<a href="/stock/lots?product_id={shelf["serum"].id}"'
    assert link in page
    assert numbers(client, product_id=shelf["serum"].id) == ["HA-100", "HA-200"]


def test_the_product_list_sends_the_same_number_of_queries_for_few_and_many_products(
    client, pharmacist, queries_of_get
):
    product = factories.make_product(kind="consumable")
    factories.make_lot(product, expiry_date=FAR)
    few = queries_of_get("/stock/products")[0]
    for _ in range(8):
        more = factories.make_product(kind="consumable", reorder_point=Decimal(3))
        factories.make_lot(more, expiry_date=FAR)
        factories.make_lot(more, expiry_date=FAR, quarantine=True)
    assert queries_of_get("/stock/products")[0] == few


# --- the JSON API's twins ----------------------------------------------------------------------


def api_numbers(client, headers, **query) -> list[str]:
    response = client.get("/api/lots", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return [lot["lot_number"] for lot in response.get_json()]


def test_the_api_lists_lots_with_the_same_filters_and_sorts(client, login_as, shelf):
    headers = login_as("pharmacist")
    assert api_numbers(client, headers, lot_number="ha-") == ["HA-100", "HA-200"]
    assert api_numbers(client, headers, state="empty") == ["N-300"]
    assert api_numbers(client, headers, state="available") == ["N-600", "HA-100"]
    assert api_numbers(client, headers, status="available") == ["N-600", "N-300", "HA-100"]
    assert api_numbers(client, headers, storage="refrigerated") == ["HA-100"]
    assert api_numbers(client, headers, expires_from="2030-04-30", expires_to="2030-06-30") == [
        "N-300", "HA-100"
    ]  # fmt: skip
    assert api_numbers(client, headers, sort="lot_number", descending="true")[:2] == [
        "N-600", "N-500"
    ]  # fmt: skip
    assert api_numbers(client, headers, expiring_within_days=60, as_of="2030-04-01") == ["N-300"]


def test_the_api_refuses_an_inverted_expiry_range_naming_its_end(client, login_as, shelf):
    response = client.get(
        "/api/lots",
        headers=login_as("pharmacist"),
        query_string={"expires_from": "2030-06-01", "expires_to": "2030-05-01"},
    )
    assert response.status_code == 422
    assert "expires_to" in str(response.get_json())


def test_the_api_lists_products_by_name_and_low_stock(client, login_as, shelf):
    factories.make_product(kind="consumable", name="Syringe 3 mL", reorder_point=Decimal(5))
    headers = login_as("admin")
    found = client.get("/api/products", headers=headers, query_string={"name": "syr"})
    assert [p["name"] for p in found.get_json()] == ["Syringe 3 mL"]
    low = client.get("/api/products", headers=headers, query_string={"low_stock": "true"})
    assert [p["name"] for p in low.get_json()] == ["Syringe 3 mL"]
