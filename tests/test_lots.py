"""Lots: receipt, transitions, the ledger and lot lists (SPEC 3.4 and 4)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.clock import clinic_today
from core.database import db
from core.errors import Conflict, Invalid
from inventory import lots
from inventory.lots import Expiry
from inventory.models import Lot, LotStatus, Movement
from tests import factories

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
FAR = (date.today() + timedelta(days=3650)).isoformat()


def ledger_sum(lot_id):
    return db.session.scalar(select(func.sum(Movement.quantity)).where(Movement.lot_id == lot_id))


def receive_json(product, **fields):
    body = {"product_id": product.id, "lot_number": "A1", "expiry_date": FAR, "quantity": 10}
    body.update(fields)
    return body


# --- receiving ------------------------------------------------------------------------------


def test_a_received_lot_is_available_with_its_receive_movement(client, login_as):
    product = factories.make_product()
    response = client.post("/api/lots", headers=login_as("pharmacist"), json=receive_json(product))
    assert response.status_code == 201, response.get_json()
    lot = response.get_json()
    assert lot["status"] == "available" and lot["quantity_on_hand"] == 10
    assert lot["effective_expiry"] == lot["expiry_date"] == FAR
    assert set(lot) >= {
        "id", "product_id", "lot_number", "expiry_date", "effective_expiry",
        "quantity_on_hand", "status", "opened_at", "received_at", "supplier", "storage",
    }  # fmt: skip
    assert ledger_sum(lot["id"]) == 10


def test_a_lot_received_with_quarantine_waits_for_release(client, login_as):
    product = factories.make_product()
    headers = login_as("pharmacist")
    lot = client.post("/api/lots", headers=headers, json=receive_json(product, quarantine=True))
    assert lot.get_json()["status"] == "quarantine"
    released = client.post(f"/api/lots/{lot.get_json()['id']}/release", headers=headers)
    assert released.status_code == 200 and released.get_json()["status"] == "available"


def test_only_a_quarantined_lot_can_be_released(client, login_as):
    lot = factories.make_lot()
    response = client.post(f"/api/lots/{lot.id}/release", headers=login_as("pharmacist"))
    assert response.status_code == 409


def test_receiving_a_lot_whose_expiry_is_past_is_refused_naming_expiry_date(client, login_as):
    product = factories.make_product()
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json=receive_json(product, expiry_date="2020-01-31"),
    )
    assert response.status_code == 422
    assert "expiry_date" in response.get_json()["errors"]


def test_a_lot_expiring_today_can_still_be_received():
    product = factories.make_product()
    receipt = lots.receive(
        product_id=product.id,
        lot_number="TODAY",
        expiry=Expiry(date(2025, 3, 1)),
        quantity=Decimal(5),
        user_id=None,
        now=NOW,
    )
    assert receipt.lot.effective_expiry == date(2025, 3, 1)


def test_a_lot_that_expired_yesterday_in_the_clinics_timezone_is_refused(app, monkeypatch):
    # 23:30 UTC on 1 March is already 2 March in Auckland: a lot expiring 1 March is past.
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Pacific/Auckland")
    product = factories.make_product()
    late_evening = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    with pytest.raises(Invalid) as refused:
        lots.receive(
            product_id=product.id,
            lot_number="NZ",
            expiry=Expiry(date(2025, 3, 1)),
            quantity=Decimal(5),
            user_id=None,
            now=late_evening,
        )
    assert "expiry_date" in refused.value.errors


def test_a_month_only_expiry_is_received_as_the_months_last_day(client, login_as):
    product = factories.make_product()
    year = date.today().year + 3
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json=receive_json(product, expiry_date=f"02/{year}"),
    )
    lot = response.get_json()
    assert lot["expiry_date"] == (date(year, 3, 1) - timedelta(days=1)).isoformat()
    assert lot["expiry_month_only"] is True


def test_receiving_more_of_an_existing_lot_adds_a_receive_movement(client, login_as):
    product = factories.make_product()
    headers = login_as("pharmacist")
    first = client.post("/api/lots", headers=headers, json=receive_json(product, quantity=10))
    more = client.post("/api/lots", headers=headers, json=receive_json(product, quantity=5))
    assert more.status_code == 200
    assert more.get_json()["id"] == first.get_json()["id"]
    assert more.get_json()["quantity_on_hand"] == 15
    kinds = db.session.scalars(
        select(Movement.kind).where(Movement.lot_id == first.get_json()["id"])
    ).all()
    assert [kind.value for kind in kinds] == ["receive", "receive"]


def test_a_different_expiry_for_the_same_lot_is_a_conflict(client, login_as):
    product = factories.make_product()
    headers = login_as("pharmacist")
    client.post("/api/lots", headers=headers, json=receive_json(product))
    other = (date.fromisoformat(FAR) - timedelta(days=1)).isoformat()
    response = client.post(
        "/api/lots", headers=headers, json=receive_json(product, expiry_date=other)
    )
    assert response.status_code == 409
    assert db.session.scalar(select(Lot.quantity_on_hand).where(Lot.product_id == product.id)) == 10


def test_receiving_into_a_recalled_lot_is_a_conflict():
    lot = factories.make_lot()
    lots.recall(lot.id, "supplier recall")
    with pytest.raises(Conflict):
        lots.receive(
            product_id=lot.product_id,
            lot_number=lot.lot_number,
            expiry=None,
            quantity=Decimal(1),
            user_id=None,
            now=NOW,
        )


def test_a_lot_needs_its_fields_or_a_barcode(client, login_as):
    response = client.post("/api/lots", headers=login_as("pharmacist"), json={"quantity": 3})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"product_id", "lot_number", "expiry_date"}


def test_an_unknown_product_is_refused_naming_product_id(client, login_as):
    body = {"product_id": 999999, "lot_number": "X", "expiry_date": FAR, "quantity": 1}
    response = client.post("/api/lots", headers=login_as("pharmacist"), json=body)
    assert response.status_code == 422 and "product_id" in response.get_json()["errors"]


@pytest.mark.parametrize("quantity", [0, -1, "abc", 1.0000001])
def test_a_receipt_needs_a_positive_quantity_of_at_most_six_decimals(client, login_as, quantity):
    product = factories.make_product()
    response = client.post(
        "/api/lots", headers=login_as("pharmacist"), json=receive_json(product, quantity=quantity)
    )
    assert response.status_code == 422 and "quantity" in response.get_json()["errors"]


def test_fractional_quantities_are_kept_exactly(client, login_as):
    product = factories.make_product(kind="component", unit="mL")
    response = client.post(
        "/api/lots",
        headers=login_as("pharmacist"),
        json=receive_json(product, quantity="12.345678"),
    )
    assert response.get_json()["quantity_on_hand"] == 12.345678
    assert ledger_sum(response.get_json()["id"]) == Decimal("12.345678")


@pytest.mark.parametrize("role", ["doctor", "admin"])
def test_only_a_pharmacist_receives_lots(client, login_as, role):
    product = factories.make_product()
    response = client.post("/api/lots", headers=login_as(role), json=receive_json(product))
    assert response.status_code == 403


# --- opening --------------------------------------------------------------------------------


def test_opening_defaults_to_now():
    lot = factories.make_lot(expiry_date=date(2026, 1, 1))
    lots.open_lot(lot.id, now=NOW)
    assert lot.opened_at == NOW
    assert lot.effective_expiry == date(2025, 3, 28)


def test_opening_may_be_back_dated(client, login_as):
    lot = factories.make_lot(expiry_date=date.today() + timedelta(days=3650))
    opened = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    response = client.post(
        f"/api/lots/{lot.id}/open",
        headers=login_as("pharmacist"),
        json={"opened_at": opened.isoformat()},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert datetime.fromisoformat(body["opened_at"]) == opened
    assert body["effective_expiry"] == (opened.date() + timedelta(days=27)).isoformat()


def test_opening_in_the_future_is_refused():
    lot = factories.make_lot()
    with pytest.raises(Invalid) as refused:
        lots.open_lot(lot.id, now=NOW, opened_at=NOW + timedelta(minutes=5))
    assert "opened_at" in refused.value.errors


def test_opening_before_the_lot_was_received_is_refused():
    lot = factories.make_lot(now=NOW)
    with pytest.raises(Invalid) as refused:
        lots.open_lot(lot.id, now=NOW, opened_at=NOW - timedelta(hours=1))
    assert "opened_at" in refused.value.errors


def test_an_opening_typed_to_the_minute_of_the_receipt_counts_from_the_receipt():
    received = NOW.replace(second=40)
    lot = factories.make_lot(now=received)
    typed = received.replace(second=0)  # the page offers the current minute
    opened = lots.open_lot(lot.id, now=received + timedelta(seconds=5), opened_at=typed)
    assert opened.opened_at == received


def test_only_the_first_opening_counts():
    lot = factories.make_lot(expiry_date=date(2026, 1, 1), now=NOW)
    first = NOW + timedelta(days=1)
    lots.open_lot(lot.id, now=first)
    lots.open_lot(lot.id, now=NOW + timedelta(days=10))
    assert lot.opened_at == first
    assert lot.effective_expiry == date(2025, 3, 29)


def test_an_opened_lots_effective_expiry_follows_its_products_days_after_opening(client, login_as):
    product = factories.make_product()
    lot = factories.make_lot(product, expiry_date=date(2026, 1, 1), now=NOW)
    lots.open_lot(lot.id, now=NOW)
    response = client.patch(
        f"/api/products/{product.id}",
        headers=login_as("pharmacist"),
        json={"days_after_opening": 7},
    )
    assert response.status_code == 200
    assert db.session.get(Lot, lot.id).effective_expiry == date(2025, 3, 7)


# --- adjust, dispose, recall ----------------------------------------------------------------


def test_an_adjustment_is_a_signed_movement_with_its_reason(client, login_as):
    lot = factories.make_lot(quantity="10")
    headers = login_as("pharmacist")
    response = client.post(
        f"/api/lots/{lot.id}/adjust", headers=headers, json={"quantity": -3, "reason": "stocktake"}
    )
    assert response.status_code == 200 and response.get_json()["quantity_on_hand"] == 7
    movements = client.get(f"/api/lots/{lot.id}/movements", headers=headers).get_json()
    assert [(m["kind"], m["quantity"], m["reason"]) for m in movements] == [
        ("receive", 10, "received"),
        ("adjust", -3, "stocktake"),
    ]
    assert movements[1]["user"].startswith("pharmacist-")


def test_an_adjustment_needs_a_reason(client, login_as):
    lot = factories.make_lot()
    response = client.post(
        f"/api/lots/{lot.id}/adjust",
        headers=login_as("pharmacist"),
        json={"quantity": 1, "reason": " "},
    )
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]


def test_an_adjustment_never_takes_a_lot_below_zero(client, login_as):
    lot = factories.make_lot(quantity="2")
    response = client.post(
        f"/api/lots/{lot.id}/adjust",
        headers=login_as("pharmacist"),
        json={"quantity": -3, "reason": "x"},
    )
    assert response.status_code == 409
    assert db.session.get(Lot, lot.id).quantity_on_hand == 2 and ledger_sum(lot.id) == 2


def test_disposing_without_a_quantity_disposes_of_everything(client, login_as):
    lot = factories.make_lot(quantity="4")
    response = client.post(
        f"/api/lots/{lot.id}/dispose", headers=login_as("pharmacist"), json={"reason": "broken"}
    )
    body = response.get_json()
    assert (body["status"], body["quantity_on_hand"], body["status_reason"]) == (
        "disposed",
        0,
        "broken",
    )
    assert ledger_sum(lot.id) == 0


def test_disposing_of_part_of_a_lot_leaves_it_available():
    lot = factories.make_lot(quantity="4")
    lots.dispose(lot.id, "one vial broke", user_id=None, now=NOW, quantity=Decimal(1))
    assert (lot.status, lot.quantity_on_hand) == (LotStatus.AVAILABLE, 3)


def test_disposing_needs_a_reason(client, login_as):
    lot = factories.make_lot()
    response = client.post(f"/api/lots/{lot.id}/dispose", headers=login_as("pharmacist"), json={})
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]


def test_disposing_of_more_than_the_lot_holds_is_a_conflict():
    lot = factories.make_lot(quantity="2")
    with pytest.raises(Conflict):
        lots.dispose(lot.id, "x", user_id=None, now=NOW, quantity=Decimal(3))


def test_a_recall_sets_the_lot_recalled_with_its_reason_in_the_audit_log(client, login_as):
    lot = factories.make_lot()
    response = client.post(
        f"/api/lots/{lot.id}/recall",
        headers=login_as("pharmacist"),
        json={"reason": "supplier notice 42"},
    )
    assert response.status_code == 200 and response.get_json()["status"] == "recalled"
    entry = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "lots", AuditEntry.entity_id == str(lot.id))
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.changes["status"] == {"old": "available", "new": "recalled"}
    assert entry.changes["status_reason"]["new"] == "supplier notice 42"


def test_a_recall_needs_a_reason(client, login_as):
    lot = factories.make_lot()
    response = client.post(f"/api/lots/{lot.id}/recall", headers=login_as("pharmacist"), json={})
    assert response.status_code == 422


def test_a_recalled_lot_stays_recalled_when_its_stock_is_disposed_of():
    lot = factories.make_lot()
    lots.recall(lot.id, "recall")
    lots.dispose(lot.id, "destroyed after recall", user_id=None, now=NOW)
    assert (lot.status, lot.quantity_on_hand) == (LotStatus.RECALLED, 0)


def test_a_transition_of_an_unknown_lot_is_a_404(client, login_as):
    response = client.post(
        "/api/lots/999999/recall", headers=login_as("pharmacist"), json={"reason": "x"}
    )
    assert response.status_code == 404


def test_the_ledger_is_append_only():
    lot = factories.make_lot()
    movement = db.session.scalar(select(Movement).where(Movement.lot_id == lot.id))
    movement.reason = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("doctor", 403)])
def test_movements_are_for_pharmacists_and_admins(client, login_as, role, status):
    lot = factories.make_lot()
    assert client.get(f"/api/lots/{lot.id}/movements", headers=login_as(role)).status_code == status


# --- lot lists ------------------------------------------------------------------------------


def test_lots_filter_by_product_and_status(client, login_as):
    product, other = factories.make_product(), factories.make_product()
    kept = factories.make_lot(product)
    recalled = factories.make_lot(product)
    factories.make_lot(other)
    lots.recall(recalled.id, "recall")
    db.session.commit()
    headers = login_as("doctor")
    by_product = client.get(f"/api/lots?product_id={product.id}", headers=headers).get_json()
    assert {lot["id"] for lot in by_product} == {kept.id, recalled.id}
    available = client.get(
        f"/api/lots?product_id={product.id}&status=available", headers=headers
    ).get_json()
    assert [lot["id"] for lot in available] == [kept.id]


def test_expiring_within_days_counts_from_as_of_and_leaves_out_expired_lots(client, login_as):
    product = factories.make_product()
    as_of = date(2025, 6, 1)
    expired = factories.make_lot(product, expiry_date=date(2025, 5, 31))
    today = factories.make_lot(product, expiry_date=date(2025, 6, 1))
    last = factories.make_lot(product, expiry_date=date(2025, 7, 1))
    factories.make_lot(product, expiry_date=date(2025, 7, 2))
    response = client.get(
        f"/api/lots?product_id={product.id}&expiring_within_days=30&as_of={as_of}",
        headers=login_as("pharmacist"),
    )
    ids = [lot["id"] for lot in response.get_json()]
    assert ids == [today.id, last.id]
    assert expired.id not in ids


def test_expiring_within_days_uses_the_opened_vials_effective_expiry(client, login_as):
    product = factories.make_product()
    lot = factories.make_lot(product, expiry_date=date(2027, 1, 1), now=NOW)
    lots.open_lot(lot.id, now=NOW)
    db.session.commit()
    response = client.get(
        f"/api/lots?product_id={product.id}&expiring_within_days=30&as_of=2025-03-01",
        headers=login_as("pharmacist"),
    )
    assert [found["id"] for found in response.get_json()] == [lot.id]


def test_expiring_within_days_defaults_to_the_clinics_today(client, login_as):
    product = factories.make_product()
    soon = factories.make_lot(product, expiry_date=clinic_today() + timedelta(days=3))
    factories.make_lot(product, expiry_date=clinic_today() + timedelta(days=300))
    response = client.get(
        f"/api/lots?product_id={product.id}&expiring_within_days=7", headers=login_as("admin")
    )
    assert [lot["id"] for lot in response.get_json()] == [soon.id]


def test_the_lot_list_takes_as_many_queries_for_500_lots_as_for_5(login_as, queries_of_get):
    def queries_for(lot_count):
        product = factories.make_product()
        for _ in range(lot_count):
            factories.make_lot(product)
        headers = login_as("pharmacist")
        url = f"/api/lots?product_id={product.id}&page_size=500"
        count, response = queries_of_get(url, headers=headers)
        assert len(response.get_json()) == lot_count
        return count

    assert queries_for(5) == queries_for(500)


def test_opening_through_the_api_without_a_body_opens_now(client, login_as):
    lot = factories.make_lot(expiry_date=date.today() + timedelta(days=3650))
    response = client.post(f"/api/lots/{lot.id}/open", headers=login_as("pharmacist"))
    assert response.status_code == 200, response.get_json()
    opened = datetime.fromisoformat(response.get_json()["opened_at"])
    assert abs(opened - datetime.now(UTC)) < timedelta(minutes=1)
