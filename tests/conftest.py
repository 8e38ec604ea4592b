"""Shared fixtures: the app, a database that rolls back after each test (on SQLite and on
PostgreSQL, chosen by TEST_DATABASE_URL), clients signed in as each role, a query counter and a
real server process for tests about serving."""

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import event, insert, text
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from config import database_url as driver_url
from core.database import db
from core.sites import Site, default_site_values
from tests import factories, servers
from tests.databases import scratch_database

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def database_url():
    """The suite's database: TEST_DATABASE_URL, or a SQLite file of this run's own."""
    if TEST_DATABASE_URL:
        yield TEST_DATABASE_URL
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'suite.sqlite3'}"


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(database_url)})
    with app.app_context():
        _empty_database()
        db.create_all()
        _add_the_clinic_site()
    yield app
    with app.app_context():
        db.engine.dispose()


def _add_the_clinic_site() -> None:
    """The one site the migrations give every database (core.sites); written without the
    audit log, which every test starts empty."""
    with db.engine.begin() as connection:
        connection.execute(insert(Site).values(default_site_values()))


def _empty_database() -> None:
    """Start from nothing, whatever an earlier run (of an older schema) left behind."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        return
    db.drop_all()


@pytest.fixture(autouse=True)
def db_session(request, app):
    """Each test runs inside an outer transaction that is rolled back at its end. The session
    joins it with savepoints, so code under test may commit and roll back as in production.
    Tests marked `server` commit for real, into a scratch database of their own; tests marked
    `own_database` bring an app and a database of their own."""
    if request.node.get_closest_marker("server") or request.node.get_closest_marker("own_database"):
        yield None
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_client(database_url):
    """A client of an app that checks CSRF tokens, as production does (the suite's app does
    not, so that form tests need not fetch a token first)."""
    app = create_app(
        {
            "CONFIG": "testing",
            "SQLALCHEMY_DATABASE_URI": driver_url(database_url),
            "WTF_CSRF_ENABLED": True,
        }
    )
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login_as(db_session):
    """`login_as("doctor")` makes a user of that role and answers the Authorization header of
    a fresh token; `login_as(user)` signs in an existing user."""

    def sign_in(role_or_user="admin", **user_fields):
        user = role_or_user
        if isinstance(role_or_user, str):
            user = factories.make_user(role=role_or_user, **user_fields)
        return factories.auth_header(user)

    return sign_in


@pytest.fixture
def sign_in_page(client):
    """`user = sign_in_page("pharmacist")` signs the test client in through /login (a new user
    of that role, or the user given); its requests then carry the session cookie."""

    def sign_in(role_or_user="admin"):
        user = role_or_user
        if isinstance(role_or_user, str):
            user = factories.make_user(role=role_or_user)
        response = client.post(
            "/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in


@pytest.fixture
def count_queries(app):
    """`with count_queries() as counted:` then `counted.count`: the SQL statements sent,
    savepoint bookkeeping excluded."""

    class Counter:
        def __init__(self):
            self.statements = []

        @property
        def count(self):
            return len(self.statements)

        def __enter__(self):
            event.listen(db.engine, "before_cursor_execute", self._record)
            return self

        def __exit__(self, *exc):
            event.remove(db.engine, "before_cursor_execute", self._record)

        def _record(self, conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                self.statements.append(statement)

    return Counter


@pytest.fixture
def queries_of_get(client, count_queries):
    """`queries_of_get(url, **client_get_arguments)` answers (SQL statements sent, response) of
    one GET that must answer 200, measured from a cold session as a request starts. Tests pin
    that a list takes as many statements for many rows as for few."""

    def measure(url: str, **kwargs):
        db.session.expire_all()
        with count_queries() as counted:
            response = client.get(url, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return counted.count, response

    return measure


@pytest.fixture
def scratch_db(database_url):
    """An empty database of the suite's kind (a new SQLite file, or a new PostgreSQL
    database), for tests that need committed data or a schema of their own."""
    with scratch_database(database_url) as url:
        yield url


@pytest.fixture
def live_app(scratch_db):
    """An app over a scratch database built by the migrations; data set up through it is
    committed for real, so that a server process sees it."""
    app = servers.prepared_app(scratch_db)
    yield app
    servers.dispose(app)


@pytest.fixture
def live_server(scratch_db, live_app):
    with servers.gunicorn_server(scratch_db) as server:
        yield server


@pytest.fixture
def mail_config(app):
    """Point the app at a mail server for one test: `mail_config(port)`; restored after."""
    saved = {key: app.config.get(key) for key in ("MAIL_SERVER", "MAIL_PORT")}

    def configure(port: int, server: str = "127.0.0.1"):
        app.config.update(MAIL_SERVER=server, MAIL_PORT=port)

    yield configure
    app.config.update(saved)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, one per test module (`make test` installs it)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (its own cookies), 1280 px wide like a landscape tablet; any
    script error or Content-Security-Policy violation fails the test."""
    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    yield page
    context.close()
    assert problems == [], problems
