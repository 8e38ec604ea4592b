"""Benchmark: 100,000 lots through `flask import lots` on SQLite.

Builds a temporary SQLite database with the migrations, adds one product, writes a CSV of
100,000 lots for it, and times `flask --app wsgi import lots FILE` as a subprocess (the whole
command: start-up, validation of every row, bulk inserts of lots and their movements, commit).
For scale it also times, in the same run, a plain `sqlite3` executemany of the same rows into
a bare table without indexes or constraints: the floor any import on this machine stands on.

    /work/main/.venv/bin/python bench/import_lots.py [--lots N]
"""

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_PER_SECOND = 20_000


def build_database(url: str) -> int:
    """The schema by the migrations, and one product to receive lots of; its id."""
    import flask_migrate

    from app import create_app
    from core.database import db
    from inventory.products import create_product

    app = create_app({"CONFIG": "development", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        product = create_product(kind="consumable", name="Bench syringe", unit="piece")
        db.session.commit()
        product_id = product.id
        db.engine.dispose()
    return product_id


def write_csv(path: Path, product_id: int, count: int) -> list[tuple]:
    first_expiry = date.today() + timedelta(days=400)
    rows = [
        (
            product_id,
            f"BENCH-{n:07d}",
            (first_expiry + timedelta(days=n % 700)).isoformat(),
            str(1 + n % 50),
            "Bench supplier",
            "room",
        )
        for n in range(count)
    ]
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["product_id", "lot_number", "expiry_date", "quantity", "supplier", "storage"]
        )
        writer.writerows(rows)
    return rows


def time_import(url: str, csv_path: Path) -> float:
    env = {**os.environ, "FLASK_CONFIG": "development", "DATABASE_URL": url}
    env.pop("SCHEDULER_ENABLED", None)
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "import", "lots", str(csv_path)]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"import failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def time_baseline(folder: Path, rows: list[tuple]) -> float:
    """A bare table, one executemany, one commit: no validation, no indexes, no ledger."""
    connection = sqlite3.connect(folder / "baseline.sqlite3")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(
        "CREATE TABLE lots (product_id INTEGER, lot_number TEXT, expiry_date TEXT, "
        "quantity TEXT, supplier TEXT, storage TEXT)"
    )
    started = time.perf_counter()
    connection.executemany("INSERT INTO lots VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def verify(url: str, count: int) -> None:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    lots, movements = connection.execute(
        "SELECT (SELECT count(*) FROM lots), (SELECT count(*) FROM movements)"
    ).fetchone()
    connection.close()
    if (lots, movements) != (count, count):
        sys.exit(f"expected {count} lots and movements, found {lots} and {movements}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=100_000)
    count = parser.parse_args().lots
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        product_id = build_database(url)
        csv_path = folder / "lots.csv"
        rows = write_csv(csv_path, product_id, count)
        imported = time_import(url, csv_path)
        verify(url, count)
        baseline = time_baseline(folder, rows)
    rate = count / imported
    print(f"flask import lots: {count:,} lots in {imported:.2f} s = {rate:,.0f} lots/s")
    print(
        f"baseline (sqlite3 executemany into a bare table): {baseline:.2f} s = "
        f"{count / baseline:,.0f} rows/s"
    )
    print(f"import / baseline time: {imported / baseline:.1f}x")
    verdict = "meets" if rate >= GOAL_PER_SECOND else "misses"
    print(f"goal {GOAL_PER_SECOND:,} lots/s on SQLite: {verdict}")


if __name__ == "__main__":
    main()
