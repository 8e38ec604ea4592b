"""Benchmark: the pharmacist's stock board (`GET /stock`) over many lots.

Builds a temporary database with the migrations (SQLite by default; `BENCH_DATABASE_URL` names
an empty PostgreSQL database instead), inserts products and lots in bulk, spread over 790 days
of last day of use around the board's day as bench/scan.py spreads them (so about one lot in
thirteen is past its last day and still on the shelf, one in nine reaches it within 90 days,
one in fifty waits in quarantine), and one pharmacist. Then it signs in with the test client
and times `GET /stock?as_of=DAY` in-process: best of three after a warm-up, with the page's
size and its SQL statements. Goal: under 0.5 s and 300 KB whatever the number of lots.

    .venv/bin/python bench/stock_board.py [--lots N] [--products N]
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from shelf import shelve_lots

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 1, 1)
PASSWORD = "bench pharmacist password"
GOAL_SECONDS = 0.5
GOAL_BYTES = 300_000


def build_database(app, lot_count: int, product_count: int) -> None:
    """The schema by the migrations, products, lots (bulk) and one pharmacist."""
    import flask_migrate
    from sqlalchemy import insert

    from core.accounts import create_user
    from core.database import db
    from inventory.models import Lot, Product

    with app.app_context():
        flask_migrate.upgrade()
        create_user("bench-pharmacist", "pharmacist", password=PASSWORD)
        db.session.commit()
        now = datetime(2025, 1, 1, tzinfo=UTC)
        with db.engine.begin() as connection:
            connection.execute(insert(Product.__table__), list(_products(product_count, now)))
            shelve_lots(
                connection, Lot.__table__, lot_count, products=product_count, as_of=AS_OF, now=now
            )
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")


def _products(count: int, now: datetime):
    for n in range(1, count + 1):
        yield {
            "id": n,
            "kind": "consumable",
            "name": f"Bench product {n:05d}",
            "unit": "piece",
            "reorder_point": 2_000 if n % 5 == 0 else 100,  # one in five is low on stock
            "days_after_opening": None,
            "created_at": now,
        }


def time_board(app) -> tuple[float, int, int]:
    """(best seconds of three, bytes, SQL statements) of one `GET /stock` of a signed-in
    pharmacist, after a warm-up request."""
    from sqlalchemy import event

    from core.database import db

    client = app.test_client()
    response = client.post("/login", data={"username": "bench-pharmacist", "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    url = f"/stock?as_of={AS_OF.isoformat()}"
    statements = []
    with app.app_context():
        engine = db.engine
    client.get(url)

    def record(conn, cursor, statement, *rest):
        statements.append(statement)

    best = float("inf")
    for _ in range(3):
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        started = time.perf_counter()
        response = client.get(url)
        best = min(best, time.perf_counter() - started)
        event.remove(engine, "before_cursor_execute", record)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return best, len(response.get_data()), len(statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=500)
    arguments = parser.parse_args()
    from app import create_app
    from config import database_url

    with tempfile.TemporaryDirectory() as folder:
        url = database_url(os.environ.get("BENCH_DATABASE_URL")) or (
            f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        )
        print(f"database: {url.split('@')[-1]}")
        app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
        started = time.perf_counter()
        build_database(app, arguments.lots, arguments.products)
        print(f"built {arguments.lots:,} lots of {arguments.products:,} products in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        seconds, size, statements = time_board(app)
        print(f"GET /stock: {seconds * 1000:.0f} ms, {size / 1000:,.0f} kB, "
              f"{statements} SQL statements")  # fmt: skip
        met = seconds < GOAL_SECONDS and size < GOAL_BYTES
        verdict = "met" if met else "NOT met"
        print(f"goal (< {GOAL_SECONDS} s, < {GOAL_BYTES // 1000} kB): {verdict}")


if __name__ == "__main__":
    main()
