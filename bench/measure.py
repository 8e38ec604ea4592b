"""What every benchmark shares: the database it runs on, rounds summarised as a median and a
range, and the findings it hands to `make bench` (bench/run_all.py), which writes them into
bench/RESULTS.md.

A benchmark prints what it measures for a person reading the terminal, and, given
`--results FILE`, also writes its findings there as JSON: one per goal of issue 18's table,
each a measured figure against a baseline measured in the same run.
"""

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


@dataclass(frozen=True)
class Spread:
    """Several measurements of one thing: their median and their range."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def describe(self, unit: str = "", scale: float = 1.0, digits: int = 2) -> str:
        """'2.41x (2.10-2.95, 3 rounds)'"""
        median, low, high = (v * scale for v in (self.median, self.low, self.high))
        return (
            f"{median:,.{digits}f}{unit} ({low:,.{digits}f}-{high:,.{digits}f}, "
            f"{len(self.values)} rounds)"
        )


def spread(values) -> Spread:
    return Spread(tuple(values))


def ratios(numerators: Spread, denominators: Spread) -> Spread:
    """Round by round: the n-th measurement over the n-th baseline, taken side by side."""
    return spread(n / d for n, d in zip(numerators.values, denominators.values, strict=True))


def timed(function: Callable[[], object], rounds: int = ROUNDS) -> Spread:
    """Wall seconds of `rounds` calls of `function`."""
    values = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        values.append(time.perf_counter() - started)
    return spread(values)


@dataclass(frozen=True)
class Finding:
    """One line of bench/RESULTS.md: what was measured, the figure, the goal, met or not."""

    benchmark: str
    database: str  # "SQLite" or "PostgreSQL"
    what: str
    measured: str
    goal: str
    met: bool


def database_kind(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """The database URL to build on: `BENCH_DATABASE_URL` (an empty PostgreSQL database), or a
    SQLite file in a temporary folder removed afterwards."""
    from config import database_url

    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        yield database_url(given)
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results", type=Path, help="also write the findings to this file, as JSON"
    )


def report(findings: list[Finding], results: Path | None) -> None:
    """Print each finding, and write them all to `results` when given."""
    for finding in findings:
        verdict = "met" if finding.met else "NOT met"
        print(f"[{finding.database}] {finding.what}: {finding.measured} (goal {finding.goal}): "
              f"{verdict}")  # fmt: skip
    if results is not None:
        results.write_text(json.dumps([asdict(f) for f in findings], indent=2))
