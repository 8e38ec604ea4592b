"""Effective expiry and usability: every boundary of SPEC 3.4, in the clinic's timezone."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from inventory import lots
from inventory.expiry import ExpiryFormatError, effective_expiry, parse_expiry, usable_on
from inventory.models import LotStatus
from tests import factories

NOW = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


def test_a_lot_is_usable_on_its_expiry_day():
    lot = factories.make_lot(expiry_date=date(2025, 3, 31))
    assert usable_on(lot, date(2025, 3, 31))


def test_a_lot_is_not_usable_the_day_after_its_expiry():
    lot = factories.make_lot(expiry_date=date(2025, 3, 31))
    assert not usable_on(lot, date(2025, 4, 1))


def test_an_opened_vial_is_usable_through_the_last_of_its_28_days():
    opened = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    assert effective_expiry(date(2026, 1, 1), opened, days_after_opening=28) == date(2025, 1, 28)


def test_an_opened_vial_is_not_usable_on_the_29th_day():
    product = factories.make_product(kind="serum")
    lot = factories.make_lot(
        product, expiry_date=date(2026, 1, 1), now=datetime(2025, 1, 1, tzinfo=UTC)
    )
    lots.open_lot(lot.id, now=NOW, opened_at=datetime(2025, 1, 1, 10, 0, tzinfo=UTC))
    assert usable_on(lot, date(2025, 1, 28))
    assert not usable_on(lot, date(2025, 1, 29))


def test_the_expiry_date_wins_when_it_comes_before_the_opened_life_ends():
    opened = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    assert effective_expiry(date(2025, 1, 15), opened, days_after_opening=28) == date(2025, 1, 15)


def test_an_unopened_lot_lasts_until_its_expiry_date():
    assert effective_expiry(date(2025, 6, 30), None, days_after_opening=28) == date(2025, 6, 30)


def test_a_product_without_days_after_opening_keeps_its_expiry_once_opened():
    opened = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    assert effective_expiry(date(2025, 6, 30), opened, days_after_opening=None) == date(2025, 6, 30)


def test_the_opening_day_is_the_clinics_day_not_the_servers(app, monkeypatch):
    # 20:00 UTC on 1 January is already 2 January in Auckland: day one of 28 is 2 January.
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Pacific/Auckland")
    opened = datetime(2025, 1, 1, 20, 0, tzinfo=UTC)
    assert effective_expiry(date(2026, 1, 1), opened, days_after_opening=28) == date(2025, 1, 29)


@pytest.mark.parametrize(
    ("printed", "last_day"),
    [
        ("07/2027", date(2027, 7, 31)),
        ("2027-07", date(2027, 7, 31)),
        ("02/2028", date(2028, 2, 29)),
        ("2027-02", date(2027, 2, 28)),
        ("12/2027", date(2027, 12, 31)),
    ],
)
def test_a_month_only_expiry_means_the_last_day_of_that_month(printed, last_day):
    assert parse_expiry(printed) == (last_day, True)


def test_a_full_expiry_date_is_that_day():
    assert parse_expiry("2027-07-15") == (date(2027, 7, 15), False)


@pytest.mark.parametrize("printed", ["13/2027", "2027-02-30", "2027-7-1", "soon", ""])
def test_an_unreadable_expiry_is_refused(printed):
    with pytest.raises(ExpiryFormatError):
        parse_expiry(printed)


@pytest.mark.parametrize("status", [LotStatus.QUARANTINE, LotStatus.RECALLED, LotStatus.DISPOSED])
def test_only_an_available_lot_is_usable(status):
    lot = factories.make_lot(expiry_date=date(2030, 1, 1))
    lot.status = status
    assert not usable_on(lot, date(2025, 1, 1))


def test_a_lot_without_stock_is_not_usable():
    lot = factories.make_lot(quantity="1")
    lots.adjust(lot.id, Decimal(-1), reason="counted: empty", user_id=None, now=NOW)
    assert not usable_on(lot, date(2025, 1, 2))
