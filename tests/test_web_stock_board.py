"""The stock board is bounded whatever the number of lots: each list shows its most urgent lots
and links to all of them in the lot list, the counts and the timeline (per product and week)
are sums in SQL, and the page sends as many statements, and about as many bytes, for ten
thousand lots as for a hundred."""

import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from inventory.expiry import Bands, expiry_weeks
from inventory.models import LotStatus
from inventory.stock import BOARD_LOTS, TIMELINE_PRODUCTS, expiry_timeline, lot_counts
from tests import factories

AS_OF = date(2030, 1, 1)
BANDS = Bands((7, 30, 60, 90))
BOARD = f"/stock?as_of={AS_OF.isoformat()}"
MOST_BYTES = 300_000


@pytest.fixture
def pharmacist(sign_in_page):
    return sign_in_page("pharmacist")


def html(response) -> str:
    return response.get_data(as_text=True)


def section(page: str, title_id: str) -> str:
    start = page.index(f'id="{title_id}"')
    return page[start : page.index("</section>", start)]


def a_shelf_of(count: int, products: list[int]) -> list[dict]:
    """`count` lots over `products`, their last days from 60 days past to 140 ahead, with lots
    in quarantine, recalled, emptied: every list of the board has more than it shows."""
    lots = []
    for n in range(count):
        status = LotStatus.AVAILABLE
        if n % 20 == 0:
            status = LotStatus.QUARANTINE
        elif n % 31 == 0:
            status = LotStatus.RECALLED
        lots.append(
            {
                "product_id": products[n % len(products)],
                "effective_expiry": AS_OF + timedelta(days=n % 200 - 60),
                "quantity_on_hand": Decimal(n % 9),
                "status": status,
            }
        )
    return lots


def shelf_products(count: int) -> list[int]:
    return [
        factories.make_product(kind="consumable", reorder_point=10_000).id for _ in range(count)
    ]


# --- bounded ------------------------------------------------------------------------------------


def test_the_board_sends_as_many_statements_and_stays_small_for_100_and_for_10000_lots(
    pharmacist, queries_of_get
):
    products = shelf_products(2 * TIMELINE_PRODUCTS)
    factories.insert_lots(a_shelf_of(100, products))
    few, small = queries_of_get(BOARD)

    factories.insert_lots(a_shelf_of(9_900, products))
    many, large = queries_of_get(BOARD)

    assert many == few
    assert len(small.get_data()) < MOST_BYTES and len(large.get_data()) < MOST_BYTES
    page = html(large)
    assert page.count('class="week-cell ') <= TIMELINE_PRODUCTS * len(expiry_weeks(AS_OF, BANDS))
    expiring = section(page, "expiring-title")
    assert expiring.count("<tr><td>") == BOARD_LOTS


# --- the most urgent first, and the way to all of them ------------------------------------------


def test_the_board_shows_the_most_urgent_lot_first_and_links_to_all_of_them(client, pharmacist):
    product = factories.make_product(kind="consumable", name="Gauze", unit="piece")
    factories.insert_lots(
        [{"product_id": product.id, "effective_expiry": AS_OF + timedelta(days=10 + n % 50)}
         for n in range(BOARD_LOTS + 10)]
    )  # fmt: skip
    first = factories.make_lot(product, lot_number="FIRST", expiry_date=AS_OF + timedelta(2))
    factories.make_lot(product, lot_number="BEYOND", expiry_date=AS_OF + timedelta(91))
    total = BOARD_LOTS + 11

    page = html(client.get(BOARD))

    expiring = section(page, "expiring-title")
    assert expiring.count("<tr><td>") == BOARD_LOTS
    rows = re.findall(r'<a href="/stock/lots/(\d+)">([^<]+)</a>', expiring)
    assert rows[0] == (str(first.id), "FIRST") and "BEYOND" not in expiring
    link = re.search(r'<a href="([^"]+)">all (\d+) lots</a>', expiring)
    assert int(link[2]) == total
    assert parse_qs(urlsplit(unescape(link[1])).query) == {
        "state": ["available"],
        "expires_from": ["2030-01-01"],
        "expires_to": ["2030-04-01"],
    }
    every = html(client.get(unescape(link[1])))
    assert f"{total} lots found" in every


def test_each_list_of_lots_to_act_on_says_how_many_and_links_to_the_rest(client, pharmacist):
    product = factories.make_product(kind="consumable", name="Syringe 1 mL")
    factories.insert_lots(
        [{"product_id": product.id, "effective_expiry": AS_OF - timedelta(days=1 + n % 30)}
         for n in range(BOARD_LOTS + 5)]
        + [{"product_id": product.id, "effective_expiry": AS_OF + timedelta(days=200),
            "status": LotStatus.QUARANTINE} for _ in range(BOARD_LOTS + 2)]
    )  # fmt: skip

    page = html(client.get(BOARD))

    expired = section(page, "expired-title")
    assert f"{BOARD_LOTS + 5} lots to dispose of" in expired
    assert expired.count("<li>") == BOARD_LOTS
    link = re.search(r'<a href="([^"]+)">all (\d+) lots</a>', expired)
    assert int(link[2]) == BOARD_LOTS + 5
    assert f"{BOARD_LOTS + 5} lots found" in html(client.get(unescape(link[1])))
    waiting = section(page, "waiting-title")
    assert waiting.count("<li>") == BOARD_LOTS
    assert f"all {BOARD_LOTS + 2} lots</a>" in waiting


def test_the_counts_are_the_lots_in_each_band_whatever_the_board_shows(client, pharmacist):
    product = factories.make_product(kind="consumable")
    on = [0, 7, 8, 30, 31, 90, 91, -1, -5]
    factories.insert_lots(
        [{"product_id": product.id, "effective_expiry": AS_OF + timedelta(days=days)}
         for days in on]
        + [{"product_id": product.id, "effective_expiry": AS_OF, "quantity_on_hand": 0},
           {"product_id": product.id, "effective_expiry": AS_OF, "status": LotStatus.QUARANTINE},
           {"product_id": product.id, "effective_expiry": AS_OF, "status": LotStatus.RECALLED}]
    )  # fmt: skip

    counts = lot_counts(AS_OF, bands=BANDS)

    assert (counts.urgent, counts.soon, counts.later, counts.expired) == (2, 2, 2, 2)
    assert (counts.waiting, counts.recalled, counts.expiring) == (1, 1, 6)
    page = html(client.get(BOARD))
    assert "2 within 7 days" in page and "2 within 30 days" in page and "2 later" in page


# --- the timeline, per product and week ---------------------------------------------------------


def test_the_timelines_weeks_add_up_to_the_lots_quantities(client, pharmacist):
    needles = factories.make_product(kind="consumable", name="Needle 4 mm", unit="piece")
    gauze = factories.make_product(kind="consumable", name="Gauze", unit="piece")
    days_and_quantities = {needles.id: [(0, 1), (6, 2), (7, 4), (8, 8), (89, 16), (90, 32)],
                           gauze.id: [(20, 3), (20, 5), (27, 7)]}  # fmt: skip
    factories.insert_lots(
        [{"product_id": product, "effective_expiry": AS_OF + timedelta(days=days),
          "quantity_on_hand": Decimal(quantity)}
         for product, lots in days_and_quantities.items() for days, quantity in lots]
        + [{"product_id": gauze.id, "effective_expiry": AS_OF + timedelta(days=91)},
           {"product_id": gauze.id, "effective_expiry": AS_OF - timedelta(days=1)},
           {"product_id": gauze.id, "effective_expiry": AS_OF, "status": LotStatus.QUARANTINE}]
    )  # fmt: skip

    timeline = expiry_timeline(AS_OF, bands=BANDS)

    weeks = timeline.weeks
    assert [row.product.id for row in timeline.rows] == [needles.id, gauze.id]
    needle_row, gauze_row = timeline.rows
    assert sum(needle_row.quantities) == 63 and sum(gauze_row.quantities) == 15
    assert sum(needle_row.lots) == 6 and sum(gauze_row.lots) == 3
    for row, lots in ((needle_row, days_and_quantities[needles.id]),
                      (gauze_row, days_and_quantities[gauze.id])):  # fmt: skip
        for week, quantity in zip(weeks, row.quantities, strict=True):
            first, last = (week.first_day - AS_OF).days, (week.last_day - AS_OF).days
            assert quantity == sum(q for days, q in lots if first <= days <= last)
    assert timeline.products == 2

    page = html(client.get(BOARD))
    svg = page[page.index("<svg") : page.index("</svg>")]
    cells = re.findall(r'<g class="week-cell (\w+)">\s*<title>([^<]*)</title>', svg)
    assert cells[:4] == [
        ("urgent", "Needle 4 mm: 3 piece in 2 lots reaching the last day of use from "
                   "1 Jan 2030 to 7 Jan 2030"),
        ("urgent", "Needle 4 mm: 4 piece in 1 lot reaching the last day of use from "
                   "8 Jan 2030 to 8 Jan 2030"),
        ("soon", "Needle 4 mm: 8 piece in 1 lot reaching the last day of use from "
                 "9 Jan 2030 to 14 Jan 2030"),
        ("later", "Needle 4 mm: 48 piece in 2 lots reaching the last day of use from "
                  "26 Mar 2030 to 1 Apr 2030"),
    ]  # fmt: skip


def test_the_timeline_draws_the_products_whose_first_lot_comes_soonest(client, pharmacist):
    products = shelf_products(TIMELINE_PRODUCTS + 3)
    factories.insert_lots(
        [{"product_id": product, "effective_expiry": AS_OF + timedelta(days=n)}
         for n, product in enumerate(reversed(products))]
    )  # fmt: skip

    timeline = expiry_timeline(AS_OF, bands=BANDS)

    assert [row.product.id for row in timeline.rows] == list(reversed(products))[:TIMELINE_PRODUCTS]
    assert timeline.products == TIMELINE_PRODUCTS + 3
    page = html(client.get(BOARD))
    assert "3 more products in" in page
