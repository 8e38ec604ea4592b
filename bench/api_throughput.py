"""Benchmark: gunicorn throughput of `GET /api/lots?page_size=50` against a bare Flask endpoint
that answers the same bytes, on the same gunicorn settings.

Builds a database with the migrations (SQLite in a temporary folder by default;
`BENCH_DATABASE_URL` names an empty PostgreSQL database instead), 500 products (one in two
with a GTIN, so that the lots' GS1 element strings carry one) and 50,000 lots by bulk insert
(bench/shelf.py), an administrator and a bearer token. Then it:

- captures the real answer of `GET /api/lots?page_size=50` (body, content type, X-Pagination);
- starts two gunicorn servers on loopback with the README's production flags (`--workers 4
  --worker-class gthread --threads 4`): the app (`wsgi:app`, production configuration), and a
  bare Flask app serving the captured bytes with the same content type and X-Pagination;
- drives each with ApacheBench (`ab -k -c 16 -n N`, keep-alive), after a warm-up, in
  alternated rounds (BENCH_ROUNDS, default 3), checking that no request failed;
- reports the app's requests per second over the bare app's, round by round, as a median and
  a range. Goal >= 25% (issue 18); the long-term goal is 50%.

Every gunicorn it starts is stopped by its process id, on failure too.

`--profile N` instead runs N in-process requests of the same URL under cProfile and prints the
top of the profile (no servers, no load generator).

    .venv/bin/python bench/api_throughput.py [--requests N] [--results FILE] [--profile N]
"""

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
PRODUCTS = 500
LOTS = 50_000
URL_PATH = "/api/lots?page_size=50"
GOAL = 0.25
LONG_TERM_GOAL = 0.50
CONCURRENCY = 16
WARM_UP = 300
# The bare app answers several times as fast: give it more requests for a comparable run time.
BARE_FACTOR = 4
GUNICORN_FLAGS = ["--workers", "4", "--worker-class", "gthread", "--threads", "4"]
SECRET_KEY = "bench-api-throughput-secret-of-more-than-32-characters"
# Where the bare app finds the captured answer (set for its gunicorn only).
CAPTURED_ENV = "BENCH_CAPTURED_ANSWER"


def build_database(url: str) -> str:
    """The schema by the migrations, products, lots (bulk) and an administrator; answers the
    administrator's bearer token."""
    import flask_migrate
    from sqlalchemy import insert

    from app import create_app
    from core.accounts import create_user, issue_token
    from core.database import db
    from inventory.models import Lot, Product

    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        admin = create_user("bench-admin", "admin", password="bench admin password")
        token, _ = issue_token(admin, timedelta(days=2))
        db.session.commit()
        now = datetime(2025, 1, 1, tzinfo=UTC)
        with db.engine.begin() as connection:
            connection.execute(insert(Product.__table__), list(_products(now)))
            shelve_lots(connection, Lot.__table__, LOTS, products=PRODUCTS, as_of=AS_OF, now=now)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        db.engine.dispose()
    return token


def _products(now: datetime):
    for n in range(1, PRODUCTS + 1):
        yield {
            "id": n,
            "kind": "consumable",
            "name": f"Bench product {n:05d}",
            "unit": "piece",
            "gtin": _gtin(n) if n % 2 else None,
            "reorder_point": 100,
            "days_after_opening": None,
            "created_at": now,
        }


def _gtin(n: int) -> str:
    """A valid GTIN-14 (GS1 check digit) for product n."""
    body = f"0950110{n:06d}"
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    return body + str(-total % 10)


# --- the bare app ------------------------------------------------------------------------


def bare_app():
    """A Flask app with one endpoint answering the captured answer's bytes, content type and
    X-Pagination; gunicorn builds it with `api_throughput:bare_app()`."""
    from flask import Flask, Response

    captured = json.loads(Path(os.environ[CAPTURED_ENV]).read_text())
    body = bytes.fromhex(captured["body"])
    app = Flask("bare")

    @app.get("/api/lots")
    def lots():
        return Response(
            body,
            content_type=captured["content_type"],
            headers={"X-Pagination": captured["x_pagination"]},
        )

    return app


# --- servers and load --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(target: str, *, cwd: Path, env: dict):
    """A gunicorn master with the production flags on a free loopback port; yields its base
    URL once it answers, and stops it (its process id, then its process group) afterwards."""
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", *GUNICORN_FLAGS, "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", target,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_answering(base, process)
        yield base
    finally:
        _stop(process)


def _wait_until_answering(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {process.returncode}")
        try:
            urllib.request.urlopen(base + "/", timeout=5).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (a 404 is an answer)
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn at {base} did not answer in {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the master (it stops its workers), SIGKILL to its group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def capture(base: str, token: str) -> dict:
    request = urllib.request.Request(base + URL_PATH, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return {
            "body": response.read().hex(),
            "content_type": response.headers["Content-Type"],
            "x_pagination": response.headers["X-Pagination"],
        }


def load(base: str, requests: int, token: str | None = None) -> float:
    """Requests per second of `ab -k -c 16 -n requests`; every answer must be a 200 of the
    same length (ab counts a different length as a failure)."""
    command = ["ab", "-q", "-k", "-c", str(CONCURRENCY), "-n", str(requests)]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(
        [*command, base + URL_PATH], capture_output=True, text=True, check=True
    ).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", output).group(1))
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", output)
    if failed or non_2xx:
        raise RuntimeError(f"ab saw failures against {base}:\n{output}")
    return float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1))


# --- the in-process profile --------------------------------------------------------------


def profile(url: str, token: str, requests: int, top: int = 30) -> None:
    """cProfile of `requests` in-process GETs (Flask's test client), after a warm-up."""
    from app import create_app

    app = create_app(
        {"CONFIG": "production", "SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": url}
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(20):
        assert client.get(URL_PATH, headers=headers).status_code == 200
    # CPU time of this process: other work on a shared machine does not enter the profile.
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    for _ in range(requests):
        client.get(URL_PATH, headers=headers)
    profiler.disable()
    elapsed = time.process_time() - started
    print(f"{requests} requests in {elapsed:.2f} s of CPU under cProfile "
          f"({elapsed / requests * 1000:.2f} ms each)")  # fmt: skip
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(top)
        print(text.getvalue())


# --- main --------------------------------------------------------------------------------


def measure(url: str, token: str, requests: int) -> tuple:
    """(app req/s, bare req/s) spreads, alternated round by round after a warm-up each."""
    app_env = {
        "FLASK_CONFIG": "production",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": url,
        "SCHEDULER_ENABLED": "0",
    }
    with contextlib.ExitStack() as stack:
        app_base = stack.enter_context(gunicorn("wsgi:app", cwd=ROOT, env=app_env))
        captured = capture(app_base, token)
        folder = Path(stack.enter_context(_temporary_folder()))
        answer = folder / "answer.json"
        answer.write_text(json.dumps(captured))
        bare_env = {CAPTURED_ENV: str(answer)}
        bare_base = stack.enter_context(
            gunicorn("api_throughput:bare_app()", cwd=ROOT / "bench", env=bare_env)
        )
        bare_body = urllib.request.urlopen(bare_base + URL_PATH, timeout=30).read()
        assert bare_body == bytes.fromhex(captured["body"]), "the bare app answers other bytes"
        print(f"answer: {len(bare_body):,} bytes, {captured['content_type']}, "
              f"X-Pagination {captured['x_pagination']}")  # fmt: skip
        load(app_base, WARM_UP, token)
        load(bare_base, WARM_UP)
        app_rates, bare_rates = [], []
        for round_number in range(ROUNDS):
            # Alternate which goes first, so that neither always runs on a warmer machine.
            order = [("app", app_base), ("bare", bare_base)]
            if round_number % 2:
                order.reverse()
            for name, base in order:
                if name == "app":
                    app_rates.append(load(base, requests, token))
                else:
                    bare_rates.append(load(base, requests * BARE_FACTOR))
            print(f"round {round_number + 1}: app {app_rates[-1]:,.0f} req/s, "
                  f"bare {bare_rates[-1]:,.0f} req/s")  # fmt: skip
    return spread(app_rates), spread(bare_rates)


@contextlib.contextmanager
def _temporary_folder():
    import tempfile

    folder = tempfile.mkdtemp(prefix="api-throughput-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000, help="per round, for the app")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N requests instead")
    add_results_argument(parser)
    arguments = parser.parse_args()
    if shutil.which("ab") is None and arguments.profile is None:
        sys.exit("ab (ApacheBench) is needed: apt-get install -y apache2-utils")
    with bench_database() as url:
        kind = database_kind(url)
        print(f"database: {kind} {url.split('@')[-1]}")
        started = time.perf_counter()
        token = build_database(url)
        print(f"built {LOTS:,} lots of {PRODUCTS} products in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        if arguments.profile:
            profile(url, token, arguments.profile)
            return
        app_rates, bare_rates = measure(url, token, arguments.requests)
    share = ratios(app_rates, bare_rates)
    print(f"app: {app_rates.describe(' req/s', digits=0)}")
    print(f"bare: {bare_rates.describe(' req/s', digits=0)}")
    long_term = "met" if share.median >= LONG_TERM_GOAL else "not met"
    print(f"app / bare: {share.describe('%', scale=100, digits=1)}; "
          f"long-term goal >= {LONG_TERM_GOAL:.0%}: {long_term}")  # fmt: skip
    finding = Finding(
        benchmark="api_throughput",
        database=kind,
        what=f"gunicorn GET {URL_PATH} over {LOTS:,} lots vs a bare Flask app, same bytes",
        measured=share.describe("%", scale=100, digits=1),
        goal=f">= {GOAL:.0%}",
        met=share.median >= GOAL,
    )
    report([finding], arguments.results)


if __name__ == "__main__":
    main()
