"""Alerts (SPEC 3.7): the set-based idempotent scan, recall alerts, the recorded runs and the
inbox API. Time is always passed as `as_of`."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.accounts import create_user
from core.clock import clinic_today
from core.database import db
from inventory import lots
from inventory.alerts import Alert, AlertKind, AlertStatus, ScanOutcome, ScanRun, scan
from inventory.alerts import scans as alert_scan
from inventory.lots import Expiry, receive
from inventory.models import Lot
from inventory.products import create_product
from ops.jobs import run_scan_job
from tests import factories

AS_OF = date(2025, 6, 1)


def lot_expiring_in(days: int, product=None, quantity="10", **fields):
    return factories.make_lot(
        product, quantity=quantity, expiry_date=AS_OF + timedelta(days=days), **fields
    )


def alerts_of(lot_or_product, kind: AlertKind | None = None) -> list[Alert]:
    column = Alert.lot_id if isinstance(lot_or_product, Lot) else Alert.product_id
    stmt = select(Alert).where(column == lot_or_product.id).order_by(Alert.id)
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    return db.session.scalars(stmt).all()


def told(lot_or_product) -> list[tuple]:
    """What the lot's or product's alerts told, oldest first: (kind, threshold, resolved)."""
    return [(a.kind.value, a.threshold_days, a.resolved) for a in alerts_of(lot_or_product)]


def scan_on(as_of: date) -> ScanRun:
    run = scan(as_of)
    db.session.commit()
    return run


# --- expiring and expired ---------------------------------------------------------------------


def test_a_lot_first_seen_inside_several_thresholds_gets_only_the_most_urgent_one():
    lot = lot_expiring_in(20)
    scan_on(AS_OF)
    (alert,) = alerts_of(lot)
    assert (alert.kind, alert.threshold_days) == (AlertKind.EXPIRING, 30)


def test_a_lot_gets_each_more_urgent_threshold_as_its_last_day_comes_closer():
    lot = lot_expiring_in(80)
    for days_later in (0, 1, 25, 60, 75, 79):
        scan_on(AS_OF + timedelta(days=days_later))
    thresholds = [alert.threshold_days for alert in alerts_of(lot)]
    assert thresholds == [90, 60, 30, 7]


@pytest.mark.parametrize(
    ("days_left", "threshold"),
    [(0, 7), (7, 7), (8, 30), (30, 30), (31, 60), (60, 60), (61, 90), (90, 90), (91, None)],
)
def test_expiring_thresholds_include_both_ends_of_their_window(days_left, threshold):
    lot = lot_expiring_in(days_left)
    scan_on(AS_OF)
    assert [alert.threshold_days for alert in alerts_of(lot)] == ([threshold] if threshold else [])


def test_a_lot_past_its_last_day_of_use_raises_one_expired_alert():
    lot = lot_expiring_in(3)
    scan_on(AS_OF + timedelta(days=4))
    scan_on(AS_OF + timedelta(days=5))
    (alert,) = alerts_of(lot)
    assert alert.kind == AlertKind.EXPIRED
    assert alert.threshold_days is None


def test_an_opened_vial_alerts_on_its_effective_expiry_not_the_printed_one():
    product = factories.make_product(days_after_opening=28)
    lot = factories.make_lot(product, expiry_date=date(2027, 1, 1))
    lots.open_lot(lot.id, now=datetime(2025, 5, 20, 9, tzinfo=UTC))
    db.session.commit()  # last day of use: 16 June 2025, 15 days after AS_OF
    scan_on(AS_OF)
    (alert,) = alerts_of(lot)
    assert (alert.threshold_days, alert.effective_expiry) == (30, date(2025, 6, 16))


def test_lots_without_stock_disposed_or_recalled_raise_no_expiry_alert():
    empty = lot_expiring_in(5)
    lots.adjust(
        empty.id, Decimal(-10), reason="counted: none left", user_id=None, now=datetime.now(UTC)
    )
    disposed = lot_expiring_in(5)
    lots.dispose(disposed.id, "broken", user_id=None, now=datetime.now(UTC))
    recalled = lot_expiring_in(5)
    lots.recall(recalled.id, "supplier recall", now=datetime.now(UTC))
    expired_and_recalled = lot_expiring_in(1)
    lots.recall(expired_and_recalled.id, "supplier recall", now=datetime.now(UTC))
    db.session.commit()
    scan_on(AS_OF + timedelta(days=2))
    assert alerts_of(empty) == [] and alerts_of(disposed) == []
    assert [a.kind for a in alerts_of(recalled)] == [AlertKind.RECALL]
    assert [a.kind for a in alerts_of(expired_and_recalled)] == [AlertKind.RECALL]


def test_a_quarantined_lot_with_stock_is_still_watched_for_expiry():
    lot = lot_expiring_in(5, quarantine=True)
    scan_on(AS_OF)
    assert told(lot) == [("expiring", 7, False)]


def test_thresholds_come_from_expiry_alert_days(app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPIRY_ALERT_DAYS", (14, 3))
    inside = lot_expiring_in(10)
    outside = lot_expiring_in(20)
    scan_on(AS_OF)
    assert [a.threshold_days for a in alerts_of(inside)] == [14]
    assert alerts_of(outside) == []


def test_an_alert_keeps_what_was_seen_when_it_was_raised():
    lot = lot_expiring_in(20, quantity="12.5")
    scan_on(AS_OF)
    lots.adjust(lot.id, Decimal("-2.5"), reason="count", user_id=None, now=datetime.now(UTC))
    db.session.commit()
    (alert,) = alerts_of(lot)
    assert (alert.lot_number, alert.effective_expiry) == (lot.lot_number, lot.effective_expiry)
    assert alert.quantity == Decimal("12.5") and alert.as_of == AS_OF
    assert lot.lot_number in alert.message and lot.product.name in alert.message
    assert "2025-06-21" in alert.message and "12.5 vial" in alert.message


# --- idempotence and the recorded runs ---------------------------------------------------------


def test_a_second_scan_on_the_same_day_creates_nothing():
    lot_expiring_in(20)
    lot_expiring_in(-1)
    first = scan_on(AS_OF)
    second = scan_on(AS_OF)
    assert sum(first.counts.values()) == 2
    assert sum(second.counts.values()) == 0
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 2


def test_a_scan_run_is_recorded_with_its_outcome_and_counts_per_kind():
    lot_expiring_in(20)
    lot_expiring_in(40)
    expired = lot_expiring_in(1)
    scan_on(AS_OF - timedelta(days=1))  # expiring 7 for `expired`, 30 and 60 for the others
    run = run_scan_job(AS_OF + timedelta(days=2))
    assert run.outcome == ScanOutcome.SUCCEEDED and run.error is None
    assert run.as_of == AS_OF + timedelta(days=2)
    assert run.started_at <= run.finished_at
    assert run.counts == {
        "expiring": 0, "expired": 1, "low_stock": 0, "shortfall": 0, "recall": 0,
        "adverse_signal": 0,
        "purchase_order_late": 0,
    }  # fmt: skip
    assert [a.scan_run_id for a in alerts_of(expired, AlertKind.EXPIRED)] == [run.id]


def test_a_failed_scan_is_recorded_as_failed_and_keeps_none_of_its_alerts(monkeypatch):
    lot = lot_expiring_in(20)

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(alert_scan, "_raise_low_stock", broken)
    with pytest.raises(RuntimeError):
        run_scan_job(AS_OF)
    run = db.session.scalar(select(ScanRun).order_by(ScanRun.id.desc()))
    assert run.outcome == ScanOutcome.FAILED and "disk full" in run.error
    assert run.finished_at is not None
    assert alerts_of(lot) == []


@pytest.mark.server
def test_two_scans_at_once_create_each_alert_once_and_both_succeed(live_app):
    with live_app.app_context():
        product = create_product(
            kind="consumable", name="Syringe", unit="piece", reorder_point=Decimal(1000)
        )
        for n in range(200):
            expiry = Expiry(date(2030, 1, 1) + timedelta(days=n % 120))
            receive(
                product_id=product.id,
                lot_number=f"L{n}",
                expiry=expiry,
                quantity=Decimal(1),
                user_id=None,
                now=datetime(2025, 1, 1, tzinfo=UTC),
            )
        db.session.commit()
    barrier = threading.Barrier(2)
    errors = []

    def scan_in_a_thread():
        try:
            with live_app.app_context():
                barrier.wait()
                run_scan_job(date(2030, 1, 1) - timedelta(days=30))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=scan_in_a_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with live_app.app_context():
        runs = db.session.scalars(select(ScanRun)).all()
        assert [run.outcome for run in runs] == [ScanOutcome.SUCCEEDED] * 2
        # 122 of the 200 lots reach their last day within 90 days of 2 December 2029, and the
        # product is short of its reorder point.
        total = db.session.scalar(select(func.count()).select_from(Alert))
        told_of = select(Alert.kind, Alert.lot_id, Alert.threshold_days, Alert.product_id)
        keys = db.session.scalar(select(func.count()).select_from(told_of.distinct().subquery()))
        assert total == keys == 123
        assert sorted(sum(run.counts.values()) for run in runs) == [0, 123]


# --- low stock ----------------------------------------------------------------------------------


def test_low_stock_is_raised_when_usable_stock_is_below_the_reorder_point():
    product = factories.make_product(kind="consumable", reorder_point=Decimal(10))
    lot_expiring_in(365, product, quantity="6")
    lot_expiring_in(365, product, quantity="20", quarantine=True)  # not usable yet
    lot_expiring_in(1, product, quantity="20")  # past its last day on the scan below
    scan_on(AS_OF + timedelta(days=2))
    (alert,) = alerts_of(product, AlertKind.LOW_STOCK)
    assert not alert.resolved and alert.lot_id is None
    assert alert.quantity == 6
    assert product.name in alert.message and "2025-06-03" in alert.message


def test_stock_at_the_reorder_point_or_no_reorder_point_raises_no_low_stock():
    at_point = factories.make_product(kind="consumable", reorder_point=Decimal(10))
    lot_expiring_in(365, at_point, quantity="10")
    no_point = factories.make_product(kind="consumable")
    scan_on(AS_OF)
    assert alerts_of(at_point) == [] and alerts_of(no_point) == []


def test_a_product_with_no_lot_at_all_is_low_on_stock():
    product = factories.make_product(kind="consumable", reorder_point=Decimal(5))
    scan_on(AS_OF)
    (alert,) = alerts_of(product)
    assert alert.kind == AlertKind.LOW_STOCK and alert.quantity == 0


def test_low_stock_is_raised_again_only_after_the_product_recovered():
    product = factories.make_product(kind="consumable", reorder_point=Decimal(10))
    lot = lot_expiring_in(365, product, quantity="5")
    scan_on(AS_OF)
    scan_on(AS_OF + timedelta(days=1))  # still short: nothing new
    assert len(alerts_of(product)) == 1
    lots.adjust(lot.id, Decimal(10), reason="delivery counted", user_id=None, now=datetime.now(UTC))
    db.session.commit()
    scan_on(AS_OF + timedelta(days=2))  # recovered: the alert is resolved
    assert told(product) == [("low_stock", None, True)]
    lots.adjust(lot.id, Decimal(-8), reason="used", user_id=None, now=datetime.now(UTC))
    db.session.commit()
    scan_on(AS_OF + timedelta(days=3))
    scan_on(AS_OF + timedelta(days=4))
    assert told(product) == [("low_stock", None, True), ("low_stock", None, False)]


# --- recall -------------------------------------------------------------------------------------


def test_a_recall_raises_its_alert_in_the_same_transaction(client, login_as):
    lot = lot_expiring_in(200)
    response = client.post(
        f"/api/lots/{lot.id}/recall", headers=login_as("pharmacist"), json={"reason": "sterility"}
    )
    assert response.status_code == 200
    (alert,) = alerts_of(lot)
    assert (alert.kind, alert.lot_id, alert.scan_run_id) == (AlertKind.RECALL, lot.id, None)
    assert "sterility" in alert.message and lot.lot_number in alert.message


def test_a_refused_recall_raises_no_alert(client, login_as):
    lot = lot_expiring_in(200)
    headers = login_as("pharmacist")
    client.post(f"/api/lots/{lot.id}/recall", headers=headers, json={"reason": "first"})
    again = client.post(f"/api/lots/{lot.id}/recall", headers=headers, json={"reason": "again"})
    assert again.status_code == 409
    assert len(alerts_of(lot)) == 1


def test_a_scan_never_raises_a_recall_alert_twice_nor_lists_it_as_its_own():
    lot = lot_expiring_in(200)
    lots.recall(lot.id, "sterility", now=datetime.now(UTC))
    db.session.commit()
    run = scan_on(AS_OF)
    assert run.counts["recall"] == 0
    assert len(alerts_of(lot)) == 1


# --- the inbox API ------------------------------------------------------------------------------


def test_the_inbox_lists_alerts_newest_first_with_their_shape(client, login_as):
    older = factories.make_alert(created_at=datetime(2025, 1, 1, tzinfo=UTC))
    newer = factories.make_alert("expired", created_at=datetime(2025, 1, 2, tzinfo=UTC))
    response = client.get("/api/alerts", headers=login_as("pharmacist"))
    assert response.status_code == 200
    body = response.get_json()
    assert [a["id"] for a in body] == [newer.id, older.id]
    assert set(body[0]) >= {
        "id", "kind", "product_id", "lot_id", "threshold_days", "status", "message",
        "created_at", "acknowledged_by", "acknowledged_at", "lot_number", "effective_expiry",
        "quantity",
    }  # fmt: skip
    assert body[1]["kind"] == "expiring" and body[1]["threshold_days"] == 30
    assert body[1]["status"] == "open" and body[1]["acknowledged_by"] is None
    assert older.lot_number in body[1]["message"]
    assert "X-Pagination" in response.headers


def test_the_inbox_filters_by_status_and_kind(client, login_as):
    expiring = factories.make_alert()
    expired = factories.make_alert("expired")
    seen = factories.make_alert(
        "expired", status=AlertStatus.ACKNOWLEDGED, acknowledged_at=datetime.now(UTC)
    )
    headers = login_as("admin")

    def ids(query):
        return {a["id"] for a in client.get(f"/api/alerts?{query}", headers=headers).get_json()}

    assert ids("kind=expired") == {expired.id, seen.id}
    assert ids("status=open") == {expiring.id, expired.id}
    assert ids("status=acknowledged&kind=expired") == {seen.id}
    bad = client.get("/api/alerts?kind=overdue", headers=headers)
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]


def test_acknowledging_records_who_and_when_and_a_second_ack_keeps_the_first(client, login_as):
    alert = factories.make_alert()
    first_user = factories.make_user(role="pharmacist")
    first = client.post(f"/api/alerts/{alert.id}/ack", headers=login_as(first_user))
    assert first.status_code == 200
    body = first.get_json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == first_user.username
    acknowledged_at = datetime.fromisoformat(body["acknowledged_at"])
    assert abs(acknowledged_at - datetime.now(UTC)) < timedelta(minutes=1)
    second = client.post(f"/api/alerts/{alert.id}/ack", headers=login_as("admin"))
    assert second.status_code == 200
    assert second.get_json()["acknowledged_by"] == first_user.username
    assert second.get_json()["acknowledged_at"] == body["acknowledged_at"]


def test_acknowledging_an_unknown_alert_is_a_404(client, login_as):
    assert client.post("/api/alerts/999999/ack", headers=login_as("admin")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/alerts"), ("POST", "/api/alerts/1/ack"), ("POST", "/api/alerts/scan")],
)
def test_doctors_have_no_alert_inbox(client, login_as, method, path):
    response = client.open(path, method=method, headers=login_as("doctor"))
    assert response.status_code == 403


def test_only_an_admin_runs_a_scan_on_demand(client, login_as):
    response = client.post("/api/alerts/scan", headers=login_as("pharmacist"), json={})
    assert response.status_code == 403


def test_a_scan_on_demand_answers_what_it_created(client, login_as):
    lot = lot_expiring_in(20)
    lot_expiring_in(200)
    headers = login_as("admin")
    response = client.post("/api/alerts/scan", headers=headers, json={"as_of": AS_OF.isoformat()})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [(a["kind"], a["lot_id"], a["threshold_days"]) for a in body["created"]] == [
        ("expiring", lot.id, 30)
    ]
    assert db.session.get(ScanRun, body["run_id"]).outcome == ScanOutcome.SUCCEEDED
    again = client.post("/api/alerts/scan", headers=headers, json={"as_of": AS_OF.isoformat()})
    assert again.get_json()["created"] == []


def test_a_scan_on_demand_without_a_body_scans_today(client, login_as):
    response = client.post("/api/alerts/scan", headers=login_as("admin"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["as_of"] == clinic_today().isoformat()


def test_the_inbox_takes_as_many_queries_for_60_alerts_as_for_3(client, login_as, count_queries):
    def queries_for(count):
        user = create_user(
            factories.unique("acker-"), "pharmacist", password="a long test password"
        )
        for _ in range(count):
            product = factories.make_product(kind="consumable")
            factories.make_alert(
                lot=factories.make_lot(product),
                status=AlertStatus.ACKNOWLEDGED,
                acknowledged_by_id=user.id,
                acknowledged_at=datetime.now(UTC),
            )
        headers = login_as("admin")
        db.session.expire_all()
        with count_queries() as counted:
            response = client.get("/api/alerts?page_size=500", headers=headers)
        acked = [a for a in response.get_json() if a["acknowledged_by"] == user.username]
        assert len(acked) == count
        return counted.count

    assert queries_for(3) == queries_for(60)


# --- the command line ---------------------------------------------------------------------------


def test_flask_alerts_scan_as_of_a_day_prints_the_counts_per_kind(runner):
    lot = lot_expiring_in(20)
    result = runner.invoke(args=["alerts", "scan", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert (
        "as of 2025-06-01: expiring 1, expired 0, low_stock 0, shortfall 0, recall 0, "
        "adverse_signal 0, purchase_order_late 0." in result.output
    )
    assert told(lot) == [("expiring", 30, False)]
    again = runner.invoke(args=["alerts", "scan", "--as-of", AS_OF.isoformat()])
    assert "expiring 0" in again.output


def test_flask_alerts_scan_refuses_a_malformed_date(runner):
    result = runner.invoke(args=["alerts", "scan", "--as-of", "01/06/2025"])
    assert result.exit_code != 0 and "--as-of" in result.output


def test_a_forecast_shortfall_raises_one_alert_naming_the_first_short_week():
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    factories.make_lot(product, quantity="2", expiry_date=date(2026, 1, 1))
    monday = date(2025, 3, 3)
    factories.make_course(serum=serum, start_date=monday)  # one dose on 3, 10, 17, 24 March
    run = run_scan_job(as_of=monday)
    [alert] = alerts_of(product, AlertKind.SHORTFALL)
    assert alert.week_start == date(2025, 3, 17)
    assert alert.scan_run_id == run.id
    assert "week of 2025-03-17" in alert.message
    run_scan_job(as_of=monday + timedelta(days=1))
    assert len(alerts_of(product, AlertKind.SHORTFALL)) == 1


def test_a_shortfall_is_raised_again_only_after_the_forecast_recovered():
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    monday = date(2025, 3, 3)
    factories.make_course(serum=serum, start_date=monday)
    run_scan_job(as_of=monday)
    factories.make_lot(product, quantity="10", expiry_date=date(2026, 1, 1))
    run_scan_job(as_of=monday)  # covered now: the alert's key is released
    assert len(alerts_of(product, AlertKind.SHORTFALL)) == 1
    factories.make_course(serum=serum, start_date=monday)
    factories.make_course(serum=serum, start_date=monday)
    factories.make_course(serum=serum, start_date=monday)  # 16 doses needed, 10 usable
    run_scan_job(as_of=monday)
    assert len(alerts_of(product, AlertKind.SHORTFALL)) == 2
