"""Migration 0018 (alerts, an append-only log told once on integer keys) upgrades a database
that holds alerts without losing one, and its downgrade gives the old keys back."""

from datetime import UTC, date, datetime

import flask_migrate
import pytest
from sqlalchemy import MetaData, inspect, select, text

from app import create_app
from config import database_url as driver_url
from core.database import db
from inventory.alerts import Alert, scan

pytestmark = pytest.mark.own_database

AS_OF = date(2025, 6, 1)
NOW = datetime(2025, 6, 1, 6, tzinfo=UTC)


def old_alert(alert_id: int, kind: str, key: str, *, lot_id=None, product_id=1, **fields):
    return {
        "id": alert_id,
        "kind": kind,
        "product_id": product_id,
        "lot_id": lot_id,
        "dedup_key": key,
        "status": "open",
        "as_of": AS_OF,
        "created_at": NOW,
        **fields,
    }


# Every way an alert was keyed before 0018; the product is short and lot 1 within 30 days.
OLD_ALERTS = [
    old_alert(1, "expiring", "expiring:1:30", lot_id=1, threshold_days=30),
    old_alert(2, "expiring", "expiring:1:90", lot_id=1, threshold_days=90, status="acknowledged",
              acknowledged_by_id=1, acknowledged_at=NOW),
    old_alert(3, "expired", "expired:2", lot_id=2),
    old_alert(4, "recall", "recall:3", lot_id=3, note="sterility"),
    old_alert(5, "low_stock", "low_stock:1:cleared:5", quantity=2_000_000),
    old_alert(6, "low_stock", "low_stock:1", quantity=1_000_000),
    old_alert(7, "shortfall", "shortfall:1", week_start=date(2025, 6, 9)),
]  # fmt: skip


def fill_the_old_schema(connection) -> None:
    """A user, a product and three lots, and the alerts as 0017 keyed them: rows of the
    tables as 0017 left them (reflected), whatever later migrations add."""
    tables = MetaData()
    tables.reflect(connection, only=["users", "products", "lots", "alerts"])

    def insert(table: str, *rows: dict) -> None:
        for row in rows:
            connection.execute(tables.tables[table].insert(), row)

    insert(
        "users",
        {"id": 1, "username": "ada", "role": "admin", "active": True, "alert_emails": False,
         "password_hash": "x", "created_at": NOW},
    )  # fmt: skip
    insert(
        "products",
        {"id": 1, "kind": "consumable", "name": "Syringe", "unit": "piece",
         "reorder_point": 10_000_000, "created_at": NOW},  # 10 pieces, in millionths
    )  # fmt: skip
    insert(
        "lots",
        *[
            {"id": n, "product_id": 1, "lot_number": f"L{n}", "expiry_date": expiry,
             "expiry_month_only": False, "effective_expiry": expiry,
             "quantity_on_hand": 1_000_000, "status": status, "received_at": NOW,
             "storage": "room"}
            for n, expiry, status in [
                (1, date(2025, 6, 20), "available"),
                (2, date(2025, 5, 1), "available"),
                (3, date(2026, 1, 1), "recalled"),
            ]
        ],
    )  # fmt: skip
    insert("alerts", *OLD_ALERTS)


def test_0018_keeps_every_alert_and_its_downgrade_gives_the_old_keys_back(scratch_db):
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(scratch_db)})
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="0017")
            with db.engine.begin() as connection:
                fill_the_old_schema(connection)

            flask_migrate.upgrade(revision="0018")
            with db.engine.connect() as connection:
                assert inspect(connection).get_foreign_keys("alerts") == []
                kept = connection.execute(
                    text("SELECT id, kind, resolved FROM alerts ORDER BY id")
                ).all()
            assert [(id_, kind) for id_, kind, _ in kept] == [
                (a["id"], a["kind"]) for a in OLD_ALERTS
            ]
            # The released low-stock key is resolved; the standing ones still stand.
            assert [id_ for id_, _, resolved in kept if resolved] == [5]

            # What the migrated alerts told is not told again (by the scan of today's schema).
            flask_migrate.upgrade()
            run = scan(AS_OF, now=NOW)
            db.session.commit()
            assert run.counts == {
                "expiring": 0, "expired": 0, "low_stock": 0, "shortfall": 0, "recall": 0,
                "adverse_signal": 0,
                "purchase_order_late": 0,
            }  # fmt: skip
            new = db.session.scalars(select(Alert).where(Alert.id > 7)).all()
            assert new == []
            db.session.remove()

            flask_migrate.downgrade(revision="0017")
            with db.engine.connect() as connection:
                keys = connection.execute(
                    text("SELECT id, dedup_key FROM alerts ORDER BY id")
                ).all()
                foreign_keys = inspect(connection).get_foreign_keys("alerts")
            # The scan saw no shortfall in the forecast any more: that alert's key is released.
            released = {7: "shortfall:1:cleared:7"}
            assert keys == [(a["id"], released.get(a["id"], a["dedup_key"])) for a in OLD_ALERTS]
            assert {fk["referred_table"] for fk in foreign_keys} == {
                "users", "lots", "products", "scan_runs",
            }  # fmt: skip
        finally:
            db.session.remove()
            db.engine.dispose()
