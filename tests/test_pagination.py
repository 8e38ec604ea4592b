"""Long lists (lots, a lot's movements, alerts, the audit log) page by number, with a count, or
after a cursor, without one, found through the list's index whatever the depth."""

import json
from datetime import timedelta

import pytest

from core.clock import clinic_today
from tests import factories


def page(client, url, headers):
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json(), json.loads(answer.headers["X-Pagination"])


def walk_by_cursor(client, url, headers):
    """Every id of the list, following next_after from the first page."""
    items, position = page(client, url, headers)
    ids = [item["id"] for item in items]
    while position["next_after"] is not None:
        assert "total" not in position or position.get("page") == 1
        items, position = page(client, f"{url}&after={position['next_after']}", headers)
        ids += [item["id"] for item in items]
    return ids


@pytest.mark.parametrize("sort", ["", "&sort=lot_number&descending=true", "&sort=on_hand"])
def test_pages_after_a_cursor_cover_the_lots_as_pages_by_number_do(client, login_as, sort):
    product = factories.make_product(kind="consumable", unit="piece")
    today = clinic_today()
    for n in range(23):  # several lots share a last day and an amount: the id breaks ties
        factories.make_lot(
            product=product, expiry_date=today + timedelta(days=30 + n % 4), quantity=1 + n % 3
        )
    headers = login_as("pharmacist")
    by_cursor = walk_by_cursor(client, f"/api/lots?page_size=5{sort}", headers)
    by_number = []
    for number in range(1, 6):
        items, _ = page(client, f"/api/lots?page_size=5&page={number}{sort}", headers)
        by_number += [item["id"] for item in items]
    assert by_cursor == by_number and len(set(by_cursor)) == 23


def test_a_page_after_a_cursor_leaves_out_the_count_and_nothing_else(
    client, login_as, count_queries
):
    product = factories.make_product(kind="consumable", unit="piece")
    for _ in range(12):
        factories.make_lot(product=product)
    headers = login_as("pharmacist")
    with count_queries() as by_number:
        _, first = page(client, "/api/lots?page_size=5", headers)
    assert first["total"] == 12 and first["next_after"]
    after = f"/api/lots?page_size=5&after={first['next_after']}"
    with count_queries() as by_cursor:
        items, position = page(client, after, headers)
    assert len(items) == 5 and set(position) == {"next_after"}
    # By number, the count rides in a subquery of the page's one statement.
    assert by_cursor.count == by_number.count
    assert sum("count(" in statement for statement in by_number.statements) == 1
    assert not any("count(" in statement for statement in by_cursor.statements)


def test_the_last_page_has_no_next_cursor(client, login_as):
    factories.make_lot(quantity=1)
    _, position = page(client, "/api/lots?page_size=50", login_as("pharmacist"))
    assert position["next_after"] is None


@pytest.mark.parametrize("cursor", ["nonsense", "W10", "WyJ4Il0", "e30"])
def test_a_cursor_the_api_did_not_give_is_a_422_naming_after(client, login_as, cursor):
    answer = client.get(f"/api/lots?after={cursor}", headers=login_as("pharmacist"))
    assert answer.status_code == 422
    assert list(answer.get_json()["errors"]) == ["after"]


def test_movements_alerts_and_the_audit_log_page_after_a_cursor_too(client, login_as):
    lot = factories.make_lot(quantity=10)
    pharmacist = login_as("pharmacist")
    for _ in range(6):
        client.post(
            f"/api/lots/{lot.id}/adjust", json={"quantity": -1, "reason": "count"},
            headers=pharmacist,
        )  # fmt: skip
        factories.make_alert(lot=factories.make_lot())
    movements = walk_by_cursor(client, f"/api/lots/{lot.id}/movements?page_size=2", pharmacist)
    assert movements == sorted(movements) and len(movements) == 7
    alerts = walk_by_cursor(client, "/api/alerts?page_size=4", pharmacist)
    assert len(alerts) == len(set(alerts)) == 6
    audit = walk_by_cursor(client, "/api/audit?page_size=3", login_as("admin"))
    assert len(audit) == len(set(audit)) >= 6


def test_a_cursor_of_another_order_or_one_altered_is_a_422_naming_after(client, login_as):
    for _ in range(3):
        factories.make_lot(quantity=1)
    headers = login_as("pharmacist")
    _, position = page(client, "/api/lots?page_size=1", headers)
    cursor = position["next_after"]
    other_order = client.get(f"/api/lots?sort=lot_number&after={cursor}", headers=headers)
    altered = client.get(f"/api/lots?after={cursor[:-2]}xx", headers=headers)
    for answer in (other_order, altered):
        assert answer.status_code == 422
        assert list(answer.get_json()["errors"]) == ["after"]
