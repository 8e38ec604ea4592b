"""Benchmark: the pharmacist's stock board (`GET /stock`) over many lots.

Builds a temporary database with the migrations (SQLite by default; `BENCH_DATABASE_URL` names
an empty PostgreSQL database instead), inserts products and lots in bulk, spread over 790 days
of last day of use around the board's day as bench/scan.py spreads them (so about one lot in
thirteen is past its last day and still on the shelf, one in nine reaches it within 90 days,
one in fifty waits in quarantine), and one pharmacist. Then it signs in with the test client
and times in-process, rounds after a warm-up, `GET /stock?as_of=DAY` (goal: under 0.5 s and
300 KB whatever the number of lots) and `GET /api/lots` halfway down the list after a cursor
(goal: under 20 ms at any depth), with sizes and SQL statements.

    .venv/bin/python bench/stock_board.py [--lots N] [--products N]
"""

import argparse
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from measure import (
    Finding,
    Spread,
    add_results_argument,
    bench_database,
    database_kind,
    report,
    timed,
)
from shelf import shelve_lots

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 1, 1)
PASSWORD = "bench pharmacist password"
GOAL_SECONDS = 0.5
GOAL_BYTES = 300_000
GOAL_PAGE_SECONDS = 0.020
PAGE_SIZE = 50


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


def signed_in_client(app):
    client = app.test_client()
    response = client.post("/login", data={"username": "bench-pharmacist", "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def bearer_headers(client) -> dict:
    response = client.post(
        "/api/auth/token", json={"username": "bench-pharmacist", "password": PASSWORD}
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:500]
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def measure_get(app, client, url: str, headers=None) -> tuple[Spread, int, int]:
    """(seconds per round, bytes, SQL statements) of `GET url`, after a warm-up request."""
    from sqlalchemy import event

    from core.database import db

    with app.app_context():
        engine = db.engine
    client.get(url, headers=headers)
    statements = []

    def record(conn, cursor, statement, *rest):
        statements.append(statement)

    def get():
        statements.clear()
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        get.size = len(response.get_data())

    event.listen(engine, "before_cursor_execute", record)
    try:
        seconds = timed(get)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seconds, get.size, len(statements)


def middle_cursor(client, headers, lot_count: int) -> str:
    """The `after` cursor of the page halfway down the lot list, found once by page number."""
    import json

    page = max(1, lot_count // 2 // PAGE_SIZE)
    response = client.get(f"/api/lots?page_size={PAGE_SIZE}&page={page}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return json.loads(response.headers["X-Pagination"])["next_after"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=500)
    add_results_argument(parser)
    arguments = parser.parse_args()
    from app import create_app
    from core.database import db

    with bench_database() as url:
        database = database_kind(url)
        print(f"database: {url.split('@')[-1]}")
        app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
        started = time.perf_counter()
        build_database(app, arguments.lots, arguments.products)
        print(f"built {arguments.lots:,} lots of {arguments.products:,} products in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        client = signed_in_client(app)
        board, size, statements = measure_get(app, client, f"/stock?as_of={AS_OF.isoformat()}")
        print(f"GET /stock: {board.describe(' ms', 1000, 0)}, {size / 1000:,.0f} kB, "
              f"{statements} SQL statements")  # fmt: skip
        headers = bearer_headers(client)
        first_url = f"/api/lots?page_size={PAGE_SIZE}"
        first, _, _ = measure_get(app, client, first_url, headers)
        middle_url = f"{first_url}&after={middle_cursor(client, headers, arguments.lots)}"
        middle, _, middle_statements = measure_get(app, client, middle_url, headers)
        print(f"GET /api/lots first page: {first.describe(' ms', 1000, 1)}; middle page "
              f"(after a cursor): {middle.describe(' ms', 1000, 1)}, "
              f"{middle_statements} SQL statements")  # fmt: skip
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # or PostgreSQL's DROP DATABASE of the next run waits
    lots = f"{arguments.lots:,} lots"
    board_finding = Finding(
        benchmark="stock_board",
        database=database,
        what=f"web /stock, {lots}",
        measured=f"{board.describe(' ms', 1000, 0)}, {size / 1000:,.0f} kB",
        goal=f"< {GOAL_SECONDS * 1000:.0f} ms and < {GOAL_BYTES // 1000} kB",
        met=board.median < GOAL_SECONDS and size < GOAL_BYTES,
    )
    page_finding = Finding(
        benchmark="stock_board",
        database=database,
        what=f"GET /api/lots middle page (cursor), {lots}",
        measured=f"{middle.describe(' ms', 1000, 1)}; first page {first.describe(' ms', 1000, 1)}",
        goal=f"< {GOAL_PAGE_SECONDS * 1000:.0f} ms",
        met=middle.median < GOAL_PAGE_SECONDS,
    )
    report([board_finding, page_finding], arguments.results)


if __name__ == "__main__":
    main()
