"""Benchmark: the alert scan over 1,000,000 lots.

Builds a temporary database with the migrations (SQLite by default; `BENCH_DATABASE_URL` names
an empty PostgreSQL database instead), inserts 10,000 products and 1,000,000 lots spread over
790 days of effective expiry around the scan day (some without stock, quarantined, disposed of
or recalled) and one administrator to receive the digest. Then it times, as subprocesses:

- `flask --app wsgi alerts --help`, the command's start-up (best of three);
- `flask --app wsgi alerts scan --as-of DAY`, the first scan (creates every alert), and a
  second one (creates nothing): wall time, wall time net of start-up, and peak RSS;

and, in the same run over the same lots table, a baseline: one set-based statement that
inserts every expiring and expired lot's alert row into a bare table with a unique key
(`INSERT ... SELECT ... ON CONFLICT DO NOTHING`). Goals: the first scan within 3 times the
baseline, peak memory under 300 MB.

    /work/main/.venv/bin/python bench/scan.py [--lots N]
"""

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from shelf import shelve_lots

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 1, 1)
PRODUCTS = 10_000
GOAL_RATIO = 3.0
GOAL_PEAK_MB = 300


def build_database(url: str, lot_count: int) -> None:
    """The schema by the migrations, products, lots (bulk) and one administrator."""
    import flask_migrate
    from sqlalchemy import insert

    from app import create_app
    from core.accounts import create_user
    from core.database import db
    from inventory.models import Lot, Product

    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        create_user(
            "bench-admin", "admin", password="bench admin password", email="admin@bench.example"
        )
        db.session.commit()
        now = datetime(2025, 1, 1, tzinfo=UTC)
        with db.engine.begin() as connection:
            connection.execute(insert(Product.__table__), list(_products(now)))
            shelve_lots(
                connection, Lot.__table__, lot_count, products=PRODUCTS, as_of=AS_OF, now=now
            )
        db.engine.dispose()


def _products(now: datetime):
    for n in range(1, PRODUCTS + 1):
        yield {
            "id": n,
            "kind": "consumable",
            "name": f"Bench product {n:05d}",
            "unit": "piece",
            # One product in five is kept above what its lots hold: low on stock.
            "reorder_point": 2_000 if n % 5 == 0 else (0 if n % 3 == 0 else 100),
            "days_after_opening": None,
            "created_at": now,
        }


def run_command(url: str, *args: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, output) of one `flask --app wsgi ...` subprocess."""
    env = {
        **os.environ,
        "FLASK_CONFIG": "production",
        "SECRET_KEY": "bench-secret-of-at-least-thirty-two-characters",
        "DATABASE_URL": url,
    }
    env.pop("SCHEDULER_ENABLED", None)
    env.pop("MAIL_SERVER", None)  # the digest is queued; sending is not what is measured
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{output}")
    return elapsed, usage.ru_maxrss / 1024, output


def time_baseline(url: str) -> tuple[float, int]:
    """One INSERT ... SELECT of every expiring and expired lot's alert into a bare table with a
    unique key: the floor a set-based scan of this lots table stands on."""
    from sqlalchemy import Date, bindparam, create_engine, text

    engine = create_engine(url)
    thresholds = (7, 30, 60, 90)
    when = " ".join(
        f"WHEN effective_expiry <= :d{days} "
        f"THEN 'expiring:' || CAST(id AS VARCHAR) || ':' || '{days}'"
        for days in thresholds
    )
    statement = text(
        "INSERT INTO bench_baseline (dedup_key, lot_id, product_id, effective_expiry, quantity, "
        "lot_number) SELECT CASE WHEN effective_expiry < :as_of "
        f"THEN 'expired:' || CAST(id AS VARCHAR) {when} END, id, product_id, effective_expiry, "
        "quantity_on_hand, lot_number FROM lots WHERE status IN ('available', 'quarantine') "
        "AND quantity_on_hand > 0 AND effective_expiry <= :d90 ON CONFLICT DO NOTHING"
    ).bindparams(
        bindparam("as_of", AS_OF, type_=Date),
        *[bindparam(f"d{d}", AS_OF + timedelta(days=d), type_=Date) for d in thresholds],
    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE bench_baseline (dedup_key VARCHAR(120) PRIMARY KEY, lot_id INTEGER, "
                "product_id INTEGER, effective_expiry DATE, quantity BIGINT, "
                "lot_number VARCHAR(60))"
            )
        )
    started = time.perf_counter()
    with engine.begin() as connection:
        inserted = connection.execute(statement).rowcount
    elapsed = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE bench_baseline"))
    engine.dispose()
    return elapsed, inserted


@contextlib.contextmanager
def bench_database():
    from config import database_url

    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        yield database_url(given)
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=1_000_000)
    count = parser.parse_args().lots
    with bench_database() as url:
        print(f"database: {url.split('@')[-1]}")
        started = time.perf_counter()
        build_database(url, count)
        print(f"built {count:,} lots of {PRODUCTS:,} products in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        startup = min(run_command(url, "alerts", "--help")[0] for _ in range(3))
        as_of = ["alerts", "scan", "--as-of", AS_OF.isoformat()]
        first, first_mb, first_output = run_command(url, *as_of)
        second, second_mb, second_output = run_command(url, *as_of)
        baseline, baseline_rows = time_baseline(url)
    first_net, second_net = first - startup, second - startup
    ratio = first_net / baseline
    print(f"start-up (flask alerts --help, best of 3): {startup:.2f} s")
    print(f"first scan:  {first:.2f} s wall, {first_net:.2f} s net, peak {first_mb:.0f} MB")
    print(f"             {first_output.strip()}")
    print(f"second scan: {second:.2f} s wall, {second_net:.2f} s net, peak {second_mb:.0f} MB")
    print(f"             {second_output.strip()}")
    print(f"baseline (one INSERT ... SELECT, {baseline_rows:,} rows): {baseline:.2f} s")
    print(f"first scan / baseline: {ratio:.2f}x (goal within {GOAL_RATIO:.0f}x): "
          f"{'met' if ratio <= GOAL_RATIO else 'NOT met'}")  # fmt: skip
    peak = max(first_mb, second_mb)
    print(f"peak memory: {peak:.0f} MB (goal under {GOAL_PEAK_MB} MB): "
          f"{'met' if peak < GOAL_PEAK_MB else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
