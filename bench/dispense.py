"""Benchmark: a dispense of one unit of a product with 1,000,000 usable lots.

Builds a database with the migrations (SQLite in a temporary folder by default;
`BENCH_DATABASE_URL` names an empty PostgreSQL database instead), one product and one
pharmacist, and puts 1,000,000 lots of that product on the shelf in bulk, every one usable on
the dispensing day (available, not empty, last days of use spread over the next 700 days, as
many lots on each day). Then, for BENCH_ROUNDS rounds, it times side by side, each the median of
ten in a row:

- the domain dispense (`inventory.fefo.dispense` of 1 unit, then the commit), in a fresh
  session as a request has;
- the same through the API: `POST /api/products/{id}/dispense` with the test client and a
  bearer token (authentication, validation, the answer's JSON included);
- a baseline, the least SQL a FEFO dispense takes: the first usable lot in FEFO order (locked
  with FOR UPDATE on PostgreSQL), its UPDATE, the INSERT of its movement, the commit.

It also counts the SQL statements of one dispense. Goal: under 50 ms.

    .venv/bin/python bench/dispense.py [--lots N] [--results FILE]
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from measure import (  # noqa: E402
    ROUNDS,
    Finding,
    add_results_argument,
    bench_database,
    database_kind,
    ratios,
    report,
    spread,
)

# The API dispenses now: the lots are usable from today (the bench's clinic is on UTC).
NOW = datetime.now(UTC)
DAY = NOW.date()
RECEIVED = NOW - timedelta(days=30)
PASSWORD = "bench pharmacist password"
IN_A_ROW = 10
BATCH = 50_000
EXPIRY_DAYS = 700
GOAL_SECONDS = 0.050


def build_database(app, lot_count: int) -> int:
    """The schema by the migrations, one pharmacist, one product and its lots; its id."""
    import flask_migrate
    from sqlalchemy import insert

    from core.accounts import create_user
    from core.database import db
    from inventory.models import Lot, Product

    with app.app_context():
        flask_migrate.upgrade()
        create_user("bench-pharmacist", "pharmacist", password=PASSWORD)
        db.session.commit()
        with db.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # Keep the lots' indexes in memory while a million rows go in (256 MB).
                connection.exec_driver_sql("PRAGMA cache_size = -262144")
            product_id = connection.execute(
                insert(Product.__table__).returning(Product.__table__.c.id),
                {"kind": "consumable", "name": "Bench syringe", "unit": "piece",
                 "reorder_point": 0, "created_at": RECEIVED},
            ).scalar_one()  # fmt: skip
            rows = []
            for row in _usable_lots(product_id, lot_count):
                rows.append(row)
                if len(rows) == BATCH:
                    connection.execute(insert(Lot.__table__), rows)
                    rows = []
            if rows:
                connection.execute(insert(Lot.__table__), rows)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE lots")
        else:
            with db.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        db.engine.dispose()
    return product_id


def _usable_lots(product_id: int, count: int):
    for n in range(count):
        expiry = DAY + timedelta(days=1 + n % EXPIRY_DAYS)
        yield {
            # The one site the migrations give a new database (0019).
            "site_id": 1,
            "product_id": product_id,
            "lot_number": f"D{n:07d}",
            "expiry_date": expiry,
            "expiry_month_only": False,
            "effective_expiry": expiry,
            "quantity_on_hand": Decimal(1 + n % 40),
            "status": "available",
            "opened_at": None,
            "received_at": RECEIVED,
            "supplier": "Bench supplier",
            "storage": "room",
            "status_reason": None,
        }


def domain_dispense(app, product_id: int):
    """One call of the domain's dispense of 1 unit, and the commit, in a fresh session."""
    from core.database import db
    from inventory.fefo import dispense

    def once():
        with app.app_context():
            picks = dispense(product_id, Decimal(1), reason="bench", user_id=None, now=NOW)
            db.session.commit()
        assert len(picks) == 1

    return once


def api_dispense(app, product_id: int):
    """One `POST /api/products/{id}/dispense` of 1 unit through the test client."""
    client = app.test_client()
    response = client.post(
        "/api/auth/token", json={"username": "bench-pharmacist", "password": PASSWORD}
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:500]
    headers = {"Authorization": f"Bearer {response.get_json()['token']}"}
    url = f"/api/products/{product_id}/dispense"

    def once():
        answer = client.post(url, headers=headers, json={"quantity": 1, "reason": "bench"})
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]

    return once


def raw_dispense(app, product_id: int):
    """The baseline: the statements any FEFO dispense of one unit needs, written by hand."""
    from sqlalchemy import bindparam, text

    from core.database import UTCDateTime, db

    with app.app_context():
        engine = db.engine
    lock = " FOR UPDATE" if engine.dialect.name == "postgresql" else ""
    first = text(
        "SELECT id FROM lots WHERE product_id = :product AND status = 'available' "
        "AND quantity_on_hand > 0 AND effective_expiry >= :day "
        f"ORDER BY effective_expiry, received_at, id LIMIT 1{lock}"
    )
    take = text(
        "UPDATE lots SET quantity_on_hand = quantity_on_hand - 1000000 "
        "WHERE id = :lot AND quantity_on_hand >= 1000000"
    )
    record = text(
        "INSERT INTO movements (lot_id, kind, quantity, reason, user_id, created_at) "
        "VALUES (:lot, 'dispense', -1000000, 'bench', NULL, :now)"
    ).bindparams(bindparam("now", type_=UTCDateTime))

    def once():
        with engine.begin() as connection:
            lot = connection.execute(first, {"product": product_id, "day": DAY}).scalar_one()
            connection.execute(take, {"lot": lot})
            connection.execute(record, {"lot": lot, "now": NOW})

    return once


def median_of_a_few(function) -> float:
    """Seconds of one call: the median of IN_A_ROW calls in a row."""
    seconds = []
    for _ in range(IN_A_ROW):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def statements_of(app, function) -> int:
    from sqlalchemy import event

    from core.database import db

    with app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *rest):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        function()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=1_000_000)
    add_results_argument(parser)
    arguments = parser.parse_args()
    from app import create_app

    with bench_database() as url:
        database = database_kind(url)
        print(f"database: {database} {url.split('@')[-1]}")
        app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
        started = time.perf_counter()
        product_id = build_database(app, arguments.lots)
        print(f"built {arguments.lots:,} usable lots of one product in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        ways = {
            "baseline": raw_dispense(app, product_id),
            "domain": domain_dispense(app, product_id),
            "api": api_dispense(app, product_id),
        }
        statements = {way: statements_of(app, once) for way, once in ways.items()}  # warm-up
        seconds = {way: [] for way in ways}
        for _ in range(ROUNDS):
            for way, once in ways.items():
                seconds[way].append(median_of_a_few(once))
        with app.app_context():
            from core.database import db

            db.engine.dispose()
    baseline, domain, api = (spread(seconds[way]) for way in ways)
    lots = f"{arguments.lots:,} usable lots"
    print(f"baseline (SELECT first lot{' FOR UPDATE' if database == 'PostgreSQL' else ''}, "
          f"UPDATE, INSERT movement, commit): {baseline.describe(' ms', 1000)}, "
          f"{statements['baseline']} statements")  # fmt: skip
    print(f"domain dispense of 1 unit, {lots}: {domain.describe(' ms', 1000)}, "
          f"{statements['domain']} statements; {ratios(domain, baseline).describe('x')} "
          "the baseline")  # fmt: skip
    print(f"POST /api/products/{{id}}/dispense of 1 unit: {api.describe(' ms', 1000)}, "
          f"{statements['api']} statements; {ratios(api, baseline).describe('x')} "
          "the baseline")  # fmt: skip
    findings = [
        Finding(
            benchmark="dispense",
            database=database,
            what=f"dispense of one unit, product with {arguments.lots // 1000:,}k usable lots"
            if arguments.lots != 1_000_000
            else "dispense of one unit, product with 1M usable lots",
            measured=(
                f"domain {domain.describe(' ms', 1000)}, {statements['domain']} statements; "
                f"API {api.describe(' ms', 1000)}; {ratios(domain, baseline).describe('x')} "
                "the raw SQL's time"
            ),
            goal=f"< {GOAL_SECONDS * 1000:.0f} ms",
            met=domain.median < GOAL_SECONDS,
        )
    ]
    report(findings, arguments.results)


if __name__ == "__main__":
    main()
