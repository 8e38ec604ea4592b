"""`make bench`: every benchmark, on SQLite and (when `BENCH_DATABASE_URL` names a PostgreSQL
database) on PostgreSQL, then bench/RESULTS.md with the machine, the date and each goal met or
not.

Each benchmark runs as its own process with `--results FILE` (see bench/measure.py). Before each
PostgreSQL run the database named by `BENCH_DATABASE_URL` is dropped and made again, so every
benchmark starts from an empty database, as it expects.

    make bench                                   # SQLite only
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench make bench
    .venv/bin/python bench/run_all.py --only scan --only import_lots

Every finding is also kept in bench/RESULTS.json; a run `--only` some benchmarks keeps the
findings of the others from there, so that RESULTS.md always holds every benchmark.
"""

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

# (script, arguments): in the order of issue 18's table.
BENCHMARKS = [
    ("scan.py", ["--lots", "200000"]),
    ("scan.py", ["--lots", "1000000"]),
    ("stock_board.py", ["--lots", "1000000"]),
    ("import_lots.py", []),
    ("api_throughput.py", []),
    ("safety_screen.py", []),
    ("dispense.py", []),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    arguments = parser.parse_args()
    kept = HERE / "RESULTS.json"
    chosen = [
        (script, args)
        for script, args in BENCHMARKS
        if not arguments.only or script.removesuffix(".py") in arguments.only
    ]
    postgres = os.environ.get("BENCH_DATABASE_URL")
    databases = [None] + ([postgres] if postgres else [])
    started, measured_at = datetime.now(UTC), commit()  # before this run writes its files
    findings, failures = kept_findings(kept, arguments.only), []
    for script, args in chosen:
        for url in databases:
            outcome = run_benchmark(script, args, url)
            if isinstance(outcome, str):
                failures.append(outcome)
            else:
                findings.extend(outcome)
    findings.sort(key=lambda f: ORDER.index(f["benchmark"]))
    kept.write_text(json.dumps(findings, indent=2) + "\n")
    arguments.output.write_text(
        results_page(findings, failures, started, postgres, at=measured_at, rerun=arguments.only)
    )
    print(f"wrote {arguments.output.relative_to(ROOT)}")
    if failures:
        sys.exit(f"{len(failures)} benchmark run(s) failed")


ORDER = list(dict.fromkeys(script.removesuffix(".py") for script, _ in BENCHMARKS))


def kept_findings(kept: Path, only: list[str] | None) -> list[dict]:
    """The earlier run's findings of the benchmarks this run does not run again."""
    if not only or not kept.exists():
        return []
    return [f for f in json.loads(kept.read_text()) if f["benchmark"] not in only]


def run_benchmark(script: str, args: list[str], url: str | None) -> list[dict] | str:
    """The findings of one benchmark run, or what went wrong."""
    label = f"{script} {' '.join(args)} on {'PostgreSQL' if url else 'SQLite'}"
    print(f"=== {label}", flush=True)
    env = {k: v for k, v in os.environ.items() if k != "BENCH_DATABASE_URL"}
    if url:
        recreate_database(url)
        env["BENCH_DATABASE_URL"] = url
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results.json"
        begun = time.perf_counter()
        command = [sys.executable, str(HERE / script), *args, "--results", str(results)]
        process = subprocess.run(command, cwd=ROOT, env=env)
        print(f"=== {label}: {time.perf_counter() - begun:.0f} s", flush=True)
        if process.returncode != 0 or not results.exists():
            return f"{label}: exit status {process.returncode}"
        return json.loads(results.read_text())


def recreate_database(url: str) -> None:
    """Drop and create the database `url` names, through the server's `postgres` database."""
    from sqlalchemy import create_engine, make_url, text

    from config import database_url

    target = make_url(database_url(url))
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def results_page(
    findings: list[dict],
    failures: list[str],
    started,
    postgres,
    *,
    at: str,
    rerun: list[str] | None,
) -> str:
    met = sum(1 for f in findings if f["met"])
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (bench/run_all.py), started {started:%Y-%m-%d %H:%M} UTC, "
        f"at commit {at}."
        + (
            f" It ran {', '.join(rerun)} again; the other findings are the run's before "
            "(bench/RESULTS.json)."
            if rerun
            else ""
        ),
        "",
        "## Machine",
        "",
        *(f"- {line}" for line in machine(postgres)),
        "",
        "Figures are medians of several rounds with their range; each ratio pairs a measurement "
        "with a baseline taken side by side in the same run. The machine is shared: absolute "
        "times move with its load, ratios much less.",
        "",
        f"## Goals: {met} of {len(findings)} met",
        "",
        "| benchmark | database | what | measured | goal | met |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {f['benchmark']} | {f['database']} | {f['what']} | {f['measured']} | "
            f"{f['goal']} | {'yes' if f['met'] else '**no**'} |"
            for f in findings
        ),
    ]
    if failures:
        lines += ["", "## Runs that failed", "", *(f"- {failure}" for failure in failures)]
    return "\n".join(lines) + "\n"


def machine(postgres: str | None) -> list[str]:
    memory = next(
        line.split(":")[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    facts = [
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, {memory} of memory",
        f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    ]
    if postgres:
        facts.append(f"PostgreSQL: {postgres_version(postgres)}")
    return facts


def postgres_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    from config import database_url

    engine = create_engine(database_url(url))
    with engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar_one()
        buffers = connection.execute(text("SHOW shared_buffers")).scalar_one()
    engine.dispose()
    return f"{version}, shared_buffers {buffers}"


def commit() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return described.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
