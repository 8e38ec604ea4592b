"""The lots the benchmarks stand on: `count` lots over `products` products, their last days of
use spread from 60 days before `as_of` to 729 days after, some empty, quarantined, disposed of
or recalled, put on the shelf by bulk Core inserts into `lots`."""

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Table, insert

SPREAD_DAYS = 790
BATCH = 50_000


def shelve_lots(
    connection: Connection, lots: Table, count: int, *, products: int, as_of: date, now: datetime
) -> None:
    """Insert the bench's lots, BATCH rows per statement."""
    rows = []
    for row in bench_lots(count, products=products, as_of=as_of, now=now):
        rows.append(row)
        if len(rows) == BATCH:
            connection.execute(insert(lots), rows)
            rows = []
    if rows:
        connection.execute(insert(lots), rows)


def bench_lots(count: int, *, products: int, as_of: date, now: datetime) -> Iterator[dict]:
    first = as_of - timedelta(days=60)
    for n in range(count):
        status, quantity = "available", n % 40  # one lot in forty has nothing left
        if n % 50 == 0:
            status = "quarantine"
        elif n % 97 == 0:
            status, quantity = "disposed", 0
        elif n % 89 == 0:
            status = "recalled"
        expiry = first + timedelta(days=n % SPREAD_DAYS)
        yield {
            # The one site the migrations give a new database (0019).
            "site_id": 1,
            "product_id": n % products + 1,
            "lot_number": f"B{n:07d}",
            "expiry_date": expiry,
            "expiry_month_only": False,
            "effective_expiry": expiry,
            "quantity_on_hand": quantity,
            "status": status,
            "opened_at": None,
            "received_at": now,
            "supplier": "Bench supplier",
            "storage": "room",
            "status_reason": None,
        }
