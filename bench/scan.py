"""Benchmark: the alert scan (`flask alerts scan --as-of DAY`) over many lots, against one
`INSERT ... SELECT` of the same alerts.

Builds a database with the migrations (SQLite by default; `BENCH_DATABASE_URL` names an empty
PostgreSQL database instead), inserts 10,000 products, the lots (`--lots`, 1,000,000 unless
told) spread over 790 days of last day of use around the scan day, some without stock,
quarantined, disposed of or recalled (bench/shelf.py), and one administrator to receive the
digest; then VACUUM ANALYZE (ANALYZE on SQLite), as autovacuum keeps a live database. Then
BENCH_ROUNDS rounds, each on an empty alert table:

- the scan, as a process of its own: `flask alerts scan --as-of DAY` run through Flask's own
  command group, timed from the moment its app is built (the start-up: the interpreter, the
  imports, the app and its ORM) to the command's end; the first scan creates every alert, a
  second one nothing;
- the baseline, side by side (after the scans in one round, before them in the next): one
  statement inserting every expiring and expired lot's alert row into a bare table with a
  unique key (`INSERT ... SELECT ... ON CONFLICT DO NOTHING`), committed: the floor a set-based
  scan of this lots table stands on.

Findings: the first scan over the baseline, round by round (median and range), goal 3x; the
scans' peak memory (the whole process), goal 300 MB.

    .venv/bin/python bench/scan.py [--lots N] [--results FILE]
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from measure import (
    ROUNDS,
    Finding,
    add_results_argument,
    bench_database,
    database_kind,
    ratios,
    report,
    spread,
)
from shelf import shelve_lots

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 1, 1)
PRODUCTS = 10_000
GOAL_RATIO = 3.0
GOAL_PEAK_MB = 300

# Runs `flask ARGS` in this process the way the `flask` command does (its command group over
# the app), and says how long the command took once the app was built.
TIMED_COMMAND = """
import sys, time
started = time.perf_counter()
import wsgi
built = time.perf_counter()
from flask.cli import FlaskGroup
try:
    FlaskGroup(create_app=lambda: wsgi.app).main(sys.argv[1:], "flask", standalone_mode=False)
finally:
    print(f"start-up {built - started:.6f} command {time.perf_counter() - built:.6f}")
"""


def build_database(url: str, lot_count: int) -> None:
    """The schema by the migrations, products, lots (bulk), one administrator, statistics."""
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
        _maintain(db.engine, "VACUUM ANALYZE", "ANALYZE")
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


def _maintain(engine, postgresql: str, sqlite: str) -> None:
    """A maintenance statement outside any transaction (VACUUM wants that)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        pg = engine.dialect.name == "postgresql"
        connection.exec_driver_sql(postgresql if pg else sqlite)


def empty_the_alerts(engine) -> None:
    """What the scans of the round before wrote, gone: the next scan is a first one again."""
    from sqlalchemy import text

    tables = ("alerts", "scan_runs", "outbox")
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)}"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    _maintain(engine, f"VACUUM ANALYZE {', '.join(tables)}", "ANALYZE")


def run_command(url: str, *args: str) -> dict:
    """One `flask ARGS` process: its command's seconds once the app was built, its start-up,
    its whole wall time, its peak RSS (MB) and its output."""
    env = {
        **os.environ,
        "FLASK_CONFIG": "production",
        "SECRET_KEY": "bench-secret-of-at-least-thirty-two-characters",
        "DATABASE_URL": url,
    }
    env.pop("SCHEDULER_ENABLED", None)
    env.pop("MAIL_SERVER", None)  # the digest is queued; sending is not what is measured
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", TIMED_COMMAND, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(args)} failed:\n{output}")
    *lines, timing = output.strip().splitlines()
    _, startup, _, command = timing.split()
    return {
        "seconds": float(command),
        "startup": float(startup),
        "wall": wall,
        "peak_mb": usage.ru_maxrss / 1024,
        "output": "\n".join(lines),
    }


def baseline_statement():
    """One INSERT ... SELECT of every expiring and expired lot's alert row (the key the old
    alert table had, kind, lot and threshold as text) into a bare table with a unique key."""
    from sqlalchemy import Date, bindparam, text

    thresholds = (7, 30, 60, 90)
    when = " ".join(
        f"WHEN effective_expiry <= :d{days} "
        f"THEN 'expiring:' || CAST(id AS VARCHAR) || ':' || '{days}'"
        for days in thresholds
    )
    return text(
        "INSERT INTO bench_baseline (dedup_key, lot_id, product_id, effective_expiry, quantity, "
        "lot_number) SELECT CASE WHEN effective_expiry < :as_of "
        f"THEN 'expired:' || CAST(id AS VARCHAR) {when} END, id, product_id, effective_expiry, "
        "quantity_on_hand, lot_number FROM lots WHERE status IN ('available', 'quarantine') "
        "AND quantity_on_hand > 0 AND effective_expiry <= :d90 ON CONFLICT DO NOTHING"
    ).bindparams(
        bindparam("as_of", AS_OF, type_=Date),
        *[bindparam(f"d{d}", AS_OF + timedelta(days=d), type_=Date) for d in thresholds],
    )


def time_baseline(url: str) -> tuple[float, int]:
    """(seconds, rows) of the baseline statement and its commit, into a new table, over a
    connection of its own (a new server process on PostgreSQL, as the scan's is), opened
    before the clock starts."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE bench_baseline (dedup_key VARCHAR(120) PRIMARY KEY, lot_id INTEGER, "
                "product_id INTEGER, effective_expiry DATE, quantity BIGINT, "
                "lot_number VARCHAR(60))"
            )
        )
    statement = baseline_statement()
    started = time.perf_counter()
    with engine.begin() as connection:
        inserted = connection.execute(statement).rowcount
    elapsed = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE bench_baseline"))
    engine.dispose()
    return elapsed, inserted


def measure_rounds(url: str, rounds: int) -> tuple[list[dict], list[dict], list[float], int]:
    """The first scans, the second scans and the baselines of `rounds` rounds, alternating
    which of scan and baseline goes first."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    scan = ["alerts", "scan", "--as-of", AS_OF.isoformat()]
    firsts, seconds, baselines, rows = [], [], [], 0
    for number in range(rounds):
        empty_the_alerts(engine)
        if number % 2:
            baseline, rows = time_baseline(url)
        firsts.append(run_command(url, *scan))
        seconds.append(run_command(url, *scan))
        if not number % 2:
            baseline, rows = time_baseline(url)
        baselines.append(baseline)
        first, second = firsts[-1], seconds[-1]
        print(f"round {number + 1}: first scan {first['seconds']:.3f} s (start-up "
              f"{first['startup']:.2f} s, whole process {first['wall']:.2f} s, peak "
              f"{first['peak_mb']:.0f} MB), second scan {second['seconds']:.3f} s, baseline "
              f"{baseline:.3f} s: {first['seconds'] / baseline:.2f}x")  # fmt: skip
    engine.dispose()
    return firsts, seconds, baselines, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=1_000_000)
    add_results_argument(parser)
    arguments = parser.parse_args()
    count = arguments.lots
    with bench_database() as url:
        database = database_kind(url)
        print(f"database: {url.split('@')[-1]}")
        started = time.perf_counter()
        build_database(url, count)
        print(f"built {count:,} lots of {PRODUCTS:,} products in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        firsts, seconds, baselines, rows = measure_rounds(url, ROUNDS)
    print(f"first scan:  {firsts[0]['output']}")
    print(f"second scan: {seconds[0]['output']}")
    first = spread(run["seconds"] for run in firsts)
    second = spread(run["seconds"] for run in seconds)
    baseline = spread(baselines)
    ratio = ratios(first, baseline)
    peak = max(run["peak_mb"] for run in firsts + seconds)
    print(f"first scan (net of start-up): {first.describe(' s', digits=3)}")
    print(f"second scan (creates nothing): {second.describe(' s', digits=3)}")
    print(f"baseline (one INSERT ... SELECT, {rows:,} rows): {baseline.describe(' s', digits=3)}")
    findings = [
        Finding(
            benchmark="scan",
            database=database,
            what=f"alert scan vs one INSERT ... SELECT, {count:,} lots",
            measured=f"{ratio.describe('x')}: scan {first.describe(' s', digits=3)}, "
            f"baseline {baseline.describe(' s', digits=3)}",
            goal=f"<= {GOAL_RATIO:g}x",
            met=ratio.median <= GOAL_RATIO,
        ),
        Finding(
            benchmark="scan",
            database=database,
            what=f"alert scan peak memory, {count:,} lots",
            measured=f"{peak:.0f} MB",
            goal=f"<= {GOAL_PEAK_MB} MB",
            met=peak <= GOAL_PEAK_MB,
        ),
    ]
    report(findings, arguments.results)


if __name__ == "__main__":
    main()
