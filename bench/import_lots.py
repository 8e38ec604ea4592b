"""Benchmark: `flask import lots` of 200,000 lots spread over 500 products, the whole command.

Builds a database with the migrations (SQLite in a temporary folder by default;
`BENCH_DATABASE_URL` names an empty PostgreSQL database instead) and 500 products, writes a
CSV of the lots (one lot of each product in turn, with a supplier and a storage), and then, for
BENCH_ROUNDS rounds, empties the lots and their movements and times, side by side:

- `flask --app wsgi import lots FILE` as a subprocess: start-up, reading and checking every
  line, the inserts of lots and movements, the commit; the whole command, as a pharmacist
  runs it;
- a baseline over the same file: on SQLite a bare `sqlite3` executemany of its parsed rows into
  a table without indexes or constraints (another file in the same folder), on PostgreSQL one
  `COPY ... FROM STDIN (FORMAT csv)` of its bytes into such a table: the floor any import of
  this file stands on, on this machine.

It also times `flask --app wsgi import --help` (the start-up alone) and reports the import's
rate net of it, for the reader. Goal: >= 20,000 lots/s for the whole command.

    .venv/bin/python bench/import_lots.py [--lots N] [--results FILE]
"""

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
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

PRODUCTS = 500
GOAL_PER_SECOND = 20_000
COLUMNS = ("product_id", "lot_number", "expiry_date", "quantity", "supplier", "storage")


def build_database(url: str) -> None:
    """The schema by the migrations and the products the file's lots belong to."""
    import flask_migrate
    from sqlalchemy import insert

    from app import create_app
    from core.database import db
    from inventory.models import Product

    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        now = datetime.now(UTC)
        products = [
            {"id": n, "kind": "consumable", "name": f"Bench product {n:03d}", "unit": "piece",
             "reorder_point": 0, "days_after_opening": None, "created_at": now}
            for n in range(1, PRODUCTS + 1)
        ]  # fmt: skip
        db.session.execute(insert(Product.__table__), products)
        db.session.commit()
        db.engine.dispose()


def write_csv(path: Path, count: int) -> None:
    first_expiry = date.today() + timedelta(days=400)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n in range(count):
            writer.writerow(
                (
                    n % PRODUCTS + 1,
                    f"BENCH-{n:07d}",
                    (first_expiry + timedelta(days=n % 700)).isoformat(),
                    1 + n % 50,
                    "Bench supplier",
                    ("room", "refrigerated")[n % 2],
                )
            )


def flask(url: str, *args: str) -> float:
    """Wall seconds of one `flask --app wsgi ...` subprocess, as a deployment runs it."""
    env = {
        **os.environ,
        "FLASK_CONFIG": "production",
        "SECRET_KEY": "bench-secret-of-at-least-thirty-two-characters",
        "DATABASE_URL": url,
    }
    env.pop("SCHEDULER_ENABLED", None)
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def empty_the_shelf(url: str) -> None:
    """No lots and no movements, as before the first round, and the space they took given
    back."""
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            connection.execute("TRUNCATE movements, lots CASCADE")  # nothing else refers to them
            connection.execute("VACUUM ANALYZE movements, lots")
        return
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    connection.execute("DELETE FROM movements")
    connection.execute("DELETE FROM lots")
    connection.execute("VACUUM")
    connection.close()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def shelf_counts(url: str) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.execute(
            text("SELECT (SELECT count(*) FROM lots), (SELECT count(*) FROM movements)")
        ).one()
    engine.dispose()
    return tuple(counts)


BARE_TABLE = (
    "CREATE TABLE bench_bare_lots (product_id INTEGER, lot_number VARCHAR(60), "
    "expiry_date DATE, quantity NUMERIC, supplier VARCHAR(200), storage VARCHAR(20))"
)


def time_baseline(url: str, csv_path: Path) -> float:
    """Seconds to put the file's rows into a bare table and commit (a fresh table each time)."""
    if url.startswith("postgresql"):
        return _copy_baseline(url, csv_path)
    return _executemany_baseline(Path(url.removeprefix("sqlite:///")).parent, csv_path)


def _executemany_baseline(folder: Path, csv_path: Path) -> float:
    path = folder / "baseline.sqlite3"
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(BARE_TABLE)
    connection.commit()
    started = time.perf_counter()
    with csv_path.open(newline="") as file:
        rows = csv.reader(file)
        next(rows)
        connection.executemany("INSERT INTO bench_bare_lots VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def _copy_baseline(url: str, csv_path: Path) -> float:
    import psycopg

    with psycopg.connect(_libpq(url)) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_bare_lots")
        connection.execute(BARE_TABLE)
        connection.commit()
        started = time.perf_counter()
        with (
            connection.cursor().copy(
                "COPY bench_bare_lots FROM STDIN (FORMAT csv, HEADER true)"
            ) as copy,
            csv_path.open("rb") as file,
        ):
            while data := file.read(1 << 20):
                copy.write(data)
        connection.commit()
        elapsed = time.perf_counter() - started
        connection.execute("DROP TABLE bench_bare_lots")
        connection.commit()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=200_000)
    add_results_argument(parser)
    arguments = parser.parse_args()
    count = arguments.lots
    with bench_database() as url:
        database = database_kind(url)
        print(f"database: {database} {url.split('@')[-1]}")
        build_database(url)
        csv_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-lots-{os.getpid()}.csv"
        try:
            write_csv(csv_path, count)
            startups, imports, baselines = [], [], []
            for _ in range(ROUNDS):
                empty_the_shelf(url)
                startups.append(flask(url, "import", "--help"))
                imports.append(flask(url, "import", "lots", str(csv_path)))
                if shelf_counts(url) != (count, count):
                    sys.exit(f"expected {count} lots and movements, found {shelf_counts(url)}")
                baselines.append(time_baseline(url, csv_path))
        finally:
            csv_path.unlink(missing_ok=True)
    imported, baseline, startup = spread(imports), spread(baselines), spread(startups)
    rates = spread(count / seconds for seconds in imported.values)
    net_rates = spread(count / (i - s) for i, s in zip(imports, startups, strict=True))
    print(f"flask import lots, {count:,} lots over {PRODUCTS} products: "
          f"{imported.describe(' s')} = {rates.describe(' lots/s', digits=0)}")  # fmt: skip
    print(f"start-up (flask import --help): {startup.describe(' s')}; "
          f"net of it: {net_rates.describe(' lots/s', digits=0)}")  # fmt: skip
    what = "COPY into a bare table" if database == "PostgreSQL" else (
        "sqlite3 executemany into a bare table")  # fmt: skip
    print(f"baseline ({what}): {baseline.describe(' s')}")
    print(f"import / baseline: {ratios(imported, baseline).describe('x')}")
    report(
        [
            Finding(
                benchmark="import_lots",
                database=database,
                what=f"flask import lots over {PRODUCTS} products, whole command",
                measured=(
                    f"{rates.describe(' lots/s', digits=0)} for {count:,} lots; "
                    f"{ratios(imported, baseline).describe('x')} the time of a {what}"
                ),
                goal=f">= {GOAL_PER_SECOND:,} lots/s",
                met=rates.median >= GOAL_PER_SECOND,
            )
        ],
        arguments.results,
    )


if __name__ == "__main__":
    main()
