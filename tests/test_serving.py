"""gunicorn with threaded workers serves the API and the pages over real HTTP."""

import pytest

from core.accounts import create_user
from core.database import db

pytestmark = pytest.mark.server


def test_gunicorn_answers_health_and_serves_the_login_page(live_server):
    status, body = live_server.request("GET", "/api/health")
    assert status == 200
    assert body["database"] == "ok"
    status, page = live_server.request("GET", "/login")
    assert status == 200 and "Sign in" in page


def test_a_token_from_one_worker_is_honoured_by_every_worker(live_app, live_server):
    with live_app.app_context():
        create_user("served-admin", "admin", password="a long test password")
        db.session.commit()
    token = live_server.token("served-admin", "a long test password")
    statuses = {live_server.request("GET", "/api/users", token=token)[0] for _ in range(10)}
    assert statuses == {200}
