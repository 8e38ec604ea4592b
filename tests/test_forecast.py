"""The forecast: doses planned sessions need week by week against the serum stock usable on
each session's date, consumed in date order; the first short week."""

from datetime import date
from decimal import Decimal

import pytest

from clinic.forecast import forecast, shortfalls
from clinic.sessions import cancel_session
from core.clock import utcnow
from core.database import db
from inventory.forecast import Demand
from inventory.forecast import forecast as stock_forecast
from tests import factories

MONDAY = date(2025, 3, 3)


def stocked_serum(*lots):
    """A serum and its product, with lots given as (doses, expiry date)."""
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    for quantity, expiry in lots:
        factories.make_lot(product, quantity=str(quantity), expiry_date=expiry)
    return serum, product


def weeks_of(result, product):
    (row,) = [f for f in result if f.product_id == product.id]
    return row, [(w.week_start, w.needed, w.usable) for w in row.weeks]


def test_a_forecast_shortfall_is_named_in_the_first_week_stock_runs_out():
    serum, product = stocked_serum((2, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=MONDAY)  # 3, 10, 17, 24 March
    row, weeks = weeks_of(forecast(4, MONDAY), product)
    assert weeks == [
        (date(2025, 3, 3), 1, 2),
        (date(2025, 3, 10), 1, 1),
        (date(2025, 3, 17), 1, 0),
        (date(2025, 3, 24), 1, 0),
    ]
    assert row.shortfall_week == date(2025, 3, 17)


def test_a_lot_expiring_before_a_sessions_date_does_not_count_for_it():
    serum, product = stocked_serum((10, date(2025, 3, 12)))
    factories.make_course(serum=serum, start_date=MONDAY)
    row, weeks = weeks_of(forecast(4, MONDAY), product)
    assert [w[2] for w in weeks] == [10, 9, 0, 0]
    assert row.shortfall_week == date(2025, 3, 17)


def test_stock_used_in_one_week_is_gone_for_the_next():
    serum, product = stocked_serum((3, date(2026, 1, 1)))
    for _ in range(2):
        factories.make_course(serum=serum, start_date=MONDAY)
    row, weeks = weeks_of(forecast(3, MONDAY), product)
    assert [(w[1], w[2]) for w in weeks] == [(2, 3), (2, 1), (2, 0)]
    assert row.shortfall_week == date(2025, 3, 10)


def test_the_earliest_expiring_lot_is_allocated_first_so_later_sessions_keep_the_rest():
    # FEFO: the 3 March session takes the lot ending 5 March; the 10 March one the other.
    serum, product = stocked_serum((1, date(2025, 3, 5)), (1, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=MONDAY)
    row, _ = weeks_of(forecast(2, MONDAY), product)
    assert row.shortfall_week is None


def test_a_serum_with_enough_stock_has_no_shortfall():
    serum, product = stocked_serum((40, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=MONDAY, maintenance_months=3)
    row, weeks = weeks_of(forecast(8, MONDAY), product)
    assert row.shortfall_week is None
    assert sum(w[1] for w in weeks) == 5  # four weekly sessions and 24 April


def test_weeks_start_on_as_of():
    serum, product = stocked_serum((1, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=date(2025, 3, 6))  # a Thursday
    _, weeks = weeks_of(forecast(2, date(2025, 3, 5)), product)
    assert [w[0] for w in weeks] == [date(2025, 3, 5), date(2025, 3, 12)]
    assert [w[1] for w in weeks] == [1, 1]


def test_cancelled_and_past_sessions_need_nothing():
    serum, product = stocked_serum((1, date(2026, 1, 1)))
    course = factories.make_course(serum=serum, start_date=date(2025, 2, 24))
    cancel_session(course.sessions[2], "moved", now=utcnow())  # 10 March
    db.session.commit()
    # 24 February is before as_of; 3 and 17 March remain planned in range.
    _, weeks = weeks_of(forecast(3, MONDAY), product)
    assert [w[1] for w in weeks] == [1, 0, 1]


def test_a_quarantined_lot_is_not_counted_as_usable():
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    factories.make_lot(product, quantity="10", quarantine=True)
    factories.make_course(serum=serum, start_date=MONDAY)
    row, _ = weeks_of(forecast(1, MONDAY), product)
    assert row.shortfall_week == MONDAY


def test_a_planned_serum_no_product_stocks_is_short_from_its_first_planned_week():
    course = factories.make_course(start_date=date(2025, 3, 12))  # in the week of 10 March
    (row,) = [f for f in forecast(2, MONDAY) if f.serum_id == course.serum_id]
    assert (row.product_id, row.shortfall_week) == (None, date(2025, 3, 10))
    assert (None, date(2025, 3, 10)) in shortfalls(MONDAY, 2)


def test_shortfalls_lists_the_product_and_its_first_short_week():
    serum, product = stocked_serum((2, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=MONDAY)
    enough, _ = stocked_serum((50, date(2026, 1, 1)))
    factories.make_course(serum=enough, start_date=MONDAY)
    assert shortfalls(MONDAY, 4) == [(product.id, date(2025, 3, 17))]


def test_a_product_counted_in_ml_is_forecast_in_doses():
    serum = factories.make_approved_serum(dose_volume_ml=Decimal(2))
    product = factories.make_serum_product(serum, unit="mL")
    factories.make_lot(product, quantity="5")  # two and a half doses
    factories.make_course(serum=serum, start_date=MONDAY)
    row, weeks = weeks_of(forecast(3, MONDAY), product)
    assert weeks[0][2] == Decimal("2.5")
    assert row.shortfall_week == date(2025, 3, 17)


def test_the_stock_walk_is_a_function_of_the_demand_it_is_given():
    serum, product = stocked_serum((1, date(2026, 1, 1)))
    demand = [Demand(serum.id, date(2025, 3, 4), Decimal(2))]
    row, weeks = weeks_of(stock_forecast(demand, 1, as_of=MONDAY), product)
    assert (weeks, row.shortfall_week) == ([(MONDAY, 2, 1)], MONDAY)


def test_the_forecast_answers_for_pharmacists_and_admins(client, login_as):
    serum, product = stocked_serum((2, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=MONDAY)
    response = client.get(
        "/api/forecast",
        query_string={"weeks": 4, "as_of": "2025-03-03"},
        headers=login_as("pharmacist"),
    )
    assert response.status_code == 200
    (row,) = [r for r in response.json if r["product_id"] == product.id]
    assert row["shortfall_week"] == "2025-03-17"
    assert row["weeks"][0] == {"week_start": "2025-03-03", "needed": 1, "usable": 2}
    assert len(row["weeks"]) == 4
    assert client.get("/api/forecast", headers=login_as("admin")).status_code == 200
    assert client.get("/api/forecast", headers=login_as("doctor")).status_code == 403


@pytest.mark.parametrize("weeks", [0, 53, "x"])
def test_a_forecast_covers_1_to_52_weeks(client, login_as, weeks):
    response = client.get(
        "/api/forecast", query_string={"weeks": weeks}, headers=login_as("pharmacist")
    )
    assert response.status_code == 422
    assert "weeks" in response.json["errors"]


def test_the_forecast_takes_the_same_queries_for_few_sessions_and_lots_or_many(
    login_as, queries_of_get
):
    headers = login_as("pharmacist")
    serum, _ = stocked_serum((2, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=MONDAY)

    def measured():
        query = {"weeks": 8, "as_of": "2025-03-03"}
        return queries_of_get("/api/forecast", query_string=query, headers=headers)[0]

    few = measured()
    doctor = factories.make_user(role="doctor")
    for n in range(3):
        other, _ = stocked_serum((5, date(2025, 12, 1)), (5, date(2026, 1, 1)))
        for _ in range(2):
            factories.make_course(
                serum=other, start_date=date(2025, 3, 4 + n), maintenance_months=2, doctor=doctor
            )
    assert measured() == few


def test_shortfalls_read_only_the_stock_of_serums_planned_sessions_need(count_queries):
    stocked_serum((50, date(2026, 1, 1)))  # stocked, but no session needs it
    with count_queries() as nothing_planned:
        assert shortfalls(MONDAY, 4) == []
    assert not any("FROM lots" in s for s in nothing_planned.statements)
    serum, product = stocked_serum((1, date(2026, 1, 1)))
    factories.make_course(serum=serum, start_date=MONDAY)
    assert shortfalls(MONDAY, 4) == [(product.id, date(2025, 3, 10))]
