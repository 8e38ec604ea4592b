"""FEFO dispense: earliest effective expiry first, never an unusable lot, all or nothing."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, insert, select

from core.clock import clinic_today
from core.database import db
from core.errors import Conflict
from inventory import fefo, lots
from inventory.fefo import dispense, fefo_picks
from inventory.models import Lot, LotStatus, Movement
from tests import factories

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
TODAY = date(2025, 3, 1)


def here() -> int:
    """The test database's one site, where factories.make_lot puts every lot."""
    return factories.clinic_site().id


def picked(picks):
    return [(pick.lot_id, pick.quantity) for pick in picks]


def test_fefo_takes_the_earliest_effective_expiry_first():
    product = factories.make_product()
    late = factories.make_lot(product, expiry_date=date(2026, 1, 1))
    early = factories.make_lot(product, expiry_date=date(2025, 6, 1))
    assert picked(fefo_picks(product.id, Decimal(3), day=TODAY, site_id=here())) == [(early.id, 3)]
    assert late.quantity_on_hand == 10


def test_fefo_ties_go_to_the_earliest_received():
    product = factories.make_product()
    second = factories.make_lot(product, expiry_date=date(2025, 6, 1), now=NOW)
    first = factories.make_lot(product, expiry_date=date(2025, 6, 1), now=NOW - timedelta(days=3))
    assert picked(fefo_picks(product.id, Decimal(1), day=TODAY, site_id=here())) == [(first.id, 1)]
    assert second.id != first.id


def test_fefo_splits_a_dispense_across_lots():
    product = factories.make_product()
    early = factories.make_lot(product, quantity="4", expiry_date=date(2025, 6, 1))
    late = factories.make_lot(product, quantity="10", expiry_date=date(2025, 9, 1))
    picks = dispense(product.id, Decimal(6), reason="session", user_id=None, now=NOW)
    assert picked(picks) == [(early.id, 4), (late.id, 2)]
    assert (early.quantity_on_hand, late.quantity_on_hand) == (0, 8)


def test_fefo_skips_an_opened_vial_past_its_28_days():
    product = factories.make_product()
    opened = factories.make_lot(product, expiry_date=date(2025, 12, 31), now=NOW)
    lots.open_lot(opened.id, now=NOW)  # last day 28 March
    sealed = factories.make_lot(product, expiry_date=date(2026, 6, 30), now=NOW)
    assert picked(fefo_picks(product.id, Decimal(1), day=date(2025, 3, 28), site_id=here())) == [
        (opened.id, 1)
    ]
    assert picked(fefo_picks(product.id, Decimal(1), day=date(2025, 3, 29), site_id=here())) == [
        (sealed.id, 1)
    ]


def test_fefo_takes_an_opened_vial_before_a_sealed_lot_that_expires_earlier_on_paper():
    product = factories.make_product()
    sealed = factories.make_lot(product, expiry_date=date(2025, 5, 31), now=NOW)
    opened = factories.make_lot(product, expiry_date=date(2026, 12, 31), now=NOW)
    lots.open_lot(opened.id, now=NOW)  # effective expiry 28 March, before 31 May
    assert [
        pick.lot_id for pick in fefo_picks(product.id, Decimal(12), day=TODAY, site_id=here())
    ] == [
        opened.id,
        sealed.id,
    ]


def test_fefo_uses_a_lot_on_its_expiry_day_and_not_the_day_after():
    product = factories.make_product()
    lot = factories.make_lot(product, expiry_date=date(2025, 3, 1))
    assert picked(fefo_picks(product.id, Decimal(1), day=date(2025, 3, 1), site_id=here())) == [
        (lot.id, 1)
    ]
    with pytest.raises(Conflict):
        fefo_picks(product.id, Decimal(1), day=date(2025, 3, 2), site_id=here())


@pytest.mark.parametrize("status", [LotStatus.QUARANTINE, LotStatus.RECALLED])
def test_fefo_never_hands_out_a_quarantined_or_recalled_lot(status):
    product = factories.make_product()
    blocked = factories.make_lot(product, expiry_date=date(2025, 4, 1), quarantine=True)
    if status == LotStatus.RECALLED:
        lots.recall(blocked.id, "recall")
    good = factories.make_lot(product, expiry_date=date(2025, 9, 1))
    assert picked(fefo_picks(product.id, Decimal(2), day=TODAY, site_id=here())) == [(good.id, 2)]


def test_fefo_never_hands_out_an_expired_or_disposed_lot():
    product = factories.make_product()
    expired = factories.make_lot(
        product, expiry_date=date(2025, 2, 28), now=NOW - timedelta(days=30)
    )
    disposed = factories.make_lot(product, expiry_date=date(2025, 4, 1))
    lots.dispose(disposed.id, "broken", user_id=None, now=NOW)
    with pytest.raises(Conflict):
        dispense(product.id, Decimal(1), reason=None, user_id=None, now=NOW)
    assert expired.quantity_on_hand == 10


def test_a_dispense_beyond_the_usable_stock_is_a_conflict_and_changes_nothing():
    product = factories.make_product()
    first = factories.make_lot(product, quantity="3", expiry_date=date(2025, 6, 1))
    second = factories.make_lot(product, quantity="3", expiry_date=date(2025, 7, 1))
    movements_before = db.session.scalar(select(func.count()).select_from(Movement))
    with pytest.raises(Conflict) as refused:
        dispense(product.id, Decimal(7), reason=None, user_id=None, now=NOW)
    assert refused.value.message == (
        f"Only 6 vial of {product.name} usable on 1 Mar 2025; 7 asked for."
    )
    db.session.expire_all()
    assert db.session.get(Lot, first.id).quantity_on_hand == 3
    assert db.session.get(Lot, second.id).quantity_on_hand == 3
    assert db.session.scalar(select(func.count()).select_from(Movement)) == movements_before


def test_a_dispense_reads_only_the_lots_it_needs_a_window_at_a_time(monkeypatch):
    monkeypatch.setattr(fefo, "FIRST_WINDOW", 2)
    monkeypatch.setattr(fefo, "LARGEST_WINDOW", 4)
    product = factories.make_product()
    lots_by_expiry = [
        factories.make_lot(product, quantity="1", expiry_date=date(2025, 6, day)).lot_number
        for day in range(1, 13)
    ]
    product_id = product.id
    loaded = []
    listen = ("load", lambda lot, _context: loaded.append(lot.lot_number))
    event.listen(Lot, *listen)
    try:
        db.session.expunge_all()
        one = dispense(product_id, Decimal(1), reason=None, user_id=None, now=NOW)
        assert loaded == lots_by_expiry[:2]  # one window, not the twelve lots
        loaded.clear()
        db.session.expunge_all()
        five = dispense(product_id, Decimal(5), reason=None, user_id=None, now=NOW)
        assert loaded == lots_by_expiry[1:7]  # a window of 2, then one of 4
    finally:
        event.remove(Lot, *listen)
    assert [p.lot_number for p in one] == lots_by_expiry[:1]
    assert [p.lot_number for p in five] == lots_by_expiry[1:6]


def test_lots_of_the_same_day_and_receipt_are_taken_in_id_order_across_windows(monkeypatch):
    """Each window starts after the last lot of the one before, ties (same last day, same
    receipt) broken by the id: no lot is read twice or skipped."""
    monkeypatch.setattr(fefo, "FIRST_WINDOW", 2)
    product = factories.make_product()
    tied = [
        factories.make_lot(product, quantity="1", expiry_date=date(2025, 6, 1), now=NOW).id
        for _ in range(7)
    ]
    later = factories.make_lot(product, quantity="5", expiry_date=date(2025, 7, 1), now=NOW)
    picks = dispense(product.id, Decimal(9), reason=None, user_id=None, now=NOW)
    assert picked(picks) == [(lot_id, 1) for lot_id in sorted(tied)] + [(later.id, 2)]


def test_a_dispense_of_one_unit_sends_as_many_statements_for_500_usable_lots_as_for_5(
    count_queries,
):
    def statements_of_dispensing_from(usable: int) -> int:
        product = factories.make_product()
        rows = [
            {"product_id": product.id, "lot_number": f"MANY-{n}", "expiry_date": date(2026, 1, 1),
             "effective_expiry": date(2026, 1, 1), "quantity_on_hand": Decimal(1 + n % 3),
             "received_at": NOW, "site_id": factories.clinic_site().id}
            for n in range(usable)
        ]  # fmt: skip
        db.session.execute(insert(Lot), rows)
        db.session.commit()
        product_id = product.id
        db.session.expunge_all()
        with count_queries() as counted:
            [pick] = dispense(product_id, Decimal(1), reason=None, user_id=None, now=NOW)
        assert pick.lot_number == "MANY-0"
        return counted.count

    assert statements_of_dispensing_from(500) == statements_of_dispensing_from(5)


def test_dispense_answers_the_picks_and_records_dispense_movements(client, login_as):
    product = factories.make_product()
    expiry = clinic_today() + timedelta(days=100)
    early = factories.make_lot(product, quantity="2", expiry_date=expiry)
    late = factories.make_lot(product, quantity="5", expiry_date=expiry + timedelta(days=1))
    response = client.post(
        f"/api/products/{product.id}/dispense",
        headers=login_as("pharmacist"),
        json={"quantity": 3, "reason": "session 12"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "picks": [
            {"lot_id": early.id, "lot_number": early.lot_number, "quantity": 2},
            {"lot_id": late.id, "lot_number": late.lot_number, "quantity": 1},
        ]
    }
    dispensed = db.session.scalars(
        select(Movement.quantity).where(Movement.kind == "dispense").order_by(Movement.id)
    ).all()
    assert dispensed == [-2, -1]


def test_a_dispense_the_stock_cannot_meet_answers_409_and_changes_nothing(client, login_as):
    product = factories.make_product()
    lot = factories.make_lot(product, quantity="2", expiry_date=clinic_today() + timedelta(days=9))
    response = client.post(
        f"/api/products/{product.id}/dispense", headers=login_as("pharmacist"), json={"quantity": 3}
    )
    assert response.status_code == 409
    assert db.session.get(Lot, lot.id).quantity_on_hand == 2


@pytest.mark.parametrize("role", ["doctor", "admin"])
def test_only_a_pharmacist_dispenses(client, login_as, role):
    product = factories.make_product()
    response = client.post(
        f"/api/products/{product.id}/dispense", headers=login_as(role), json={"quantity": 1}
    )
    assert response.status_code == 403


def test_dispensing_an_unknown_product_is_a_404(client, login_as):
    response = client.post(
        "/api/products/999999/dispense", headers=login_as("pharmacist"), json={"quantity": 1}
    )
    assert response.status_code == 404
