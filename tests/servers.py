"""A real server process (gunicorn, threaded workers) over a committed database, for tests
that are about serving: real sockets, real concurrency, real transactions."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import flask_migrate

from app import create_app
from config import database_url as driver_url
from core.database import db

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepared_app(database_url: str):
    """An app over a database built by the migrations, for setting up committed data."""
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(database_url)})
    with app.app_context():
        flask_migrate.upgrade()
    return app


class LiveServer:
    def __init__(self, base_url: str):
        self.base_url = base_url

    def request(self, method: str, path: str, body=None, token: str | None = None):
        """(status, parsed JSON or text) of one HTTP request; never raises on 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _decode(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _decode(error)

    def token(self, username: str, password: str) -> str:
        status, body = self.request(
            "POST", "/api/auth/token", {"username": username, "password": password}
        )
        assert status == 201, body
        return body["token"]


def _decode(response):
    text = response.read().decode()
    if response.headers.get_content_type() == "application/json":
        return json.loads(text)
    return text


@contextlib.contextmanager
def gunicorn_server(database_url: str, workers: int = 2, threads: int = 8):
    port = free_port()
    env = {
        **os.environ,
        "FLASK_CONFIG": "production",
        "SECRET_KEY": "live-server-test-secret-of-32-characters",
        "DATABASE_URL": database_url,
        "SCHEDULER_ENABLED": "0",
    }
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--log-level", "warning", "wsgi:app",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    server = LiveServer(f"http://127.0.0.1:{port}")
    try:
        _wait_until_healthy(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(server: LiveServer, process: subprocess.Popen, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        with contextlib.suppress(OSError):
            status, _ = server.request("GET", "/api/health")
            if status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not answer /api/health in time")


def dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()
