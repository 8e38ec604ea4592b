"""Security headers on every answer, and the brake on password guessing."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from config import database_url as driver_url
from core.accounts import create_user
from core.database import db
from core.signin import FAILED_LOGIN_LIMIT
from tests import factories


def test_pages_forbid_inline_script_framing_and_sniffing(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_api_answers_carry_the_headers_too(client):
    response = client.get("/api/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers


def test_the_session_cookie_is_httponly_and_samesite(client):
    user = factories.make_user()
    response = client.post(
        "/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_marks_cookies_secure():
    from config import ProductionConfig

    assert ProductionConfig.SESSION_COOKIE_SECURE is True


def test_five_wrong_passwords_block_the_token_endpoint_even_for_the_right_one(client):
    user = factories.make_user()
    for _ in range(5):
        wrong = client.post(
            "/api/auth/token", json={"username": user.username, "password": "wrong password!"}
        )
        assert wrong.status_code == 401
    right = client.post(
        "/api/auth/token",
        json={"username": user.username, "password": factories.DEFAULT_PASSWORD},
    )
    assert right.status_code == 429
    assert right.get_json()["code"] == 429


def test_five_wrong_passwords_block_the_login_form(client):
    user = factories.make_user()
    for _ in range(5):
        client.post("/login", data={"username": user.username, "password": "wrong password!"})
    response = client.post(
        "/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_a_successful_sign_in_clears_the_count(client):
    user = factories.make_user()
    for _ in range(4):
        client.post("/login", data={"username": user.username, "password": "wrong password!"})
    client.post("/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD})
    client.post("/logout")
    for _ in range(4):
        client.post("/login", data={"username": user.username, "password": "wrong password!"})
    response = client.post(
        "/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def _token_request(client, username, password, address, **headers):
    return client.post(
        "/api/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def test_failures_from_one_address_block_that_address_not_the_accounts(client):
    user = factories.make_user()
    for number in range(20):
        _token_request(client, f"nobody{number}", "wrong password!", "192.0.2.10")
    blocked = _token_request(client, user.username, factories.DEFAULT_PASSWORD, "192.0.2.10")
    elsewhere = _token_request(client, user.username, factories.DEFAULT_PASSWORD, "192.0.2.20")
    assert (blocked.status_code, elsewhere.status_code) == (429, 201)


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_forwarded_address(database_url):
    proxied = create_app(
        {
            "CONFIG": "testing",
            "SQLALCHEMY_DATABASE_URI": driver_url(database_url),
            "TRUSTED_PROXIES": 1,
        }
    ).test_client()
    username = factories.make_user().username
    proxy = "10.0.0.1"  # every request reaches the app from the TLS proxy

    def from_client(address, name, password):
        forwarded = {"X-Forwarded-For": address}
        return _token_request(proxied, name, password, proxy, **forwarded).status_code

    for number in range(20):
        from_client("203.0.113.5", f"nobody{number}", "wrong")
    guesser = from_client("203.0.113.5", username, factories.DEFAULT_PASSWORD)
    colleague = from_client("203.0.113.9", username, factories.DEFAULT_PASSWORD)
    assert (guesser, colleague) == (429, 201)


def test_without_trusted_proxies_a_forwarded_address_is_ignored(client):
    user = factories.make_user()
    for number in range(20):
        forwarded = {"X-Forwarded-For": f"198.51.100.{number}"}
        _token_request(client, f"nobody{number}", "wrong", "192.0.2.30", **forwarded)
    answer = _token_request(client, user.username, factories.DEFAULT_PASSWORD, "192.0.2.30")
    assert answer.status_code == 429


@pytest.mark.server
def test_sixteen_concurrent_wrong_passwords_are_counted_one_after_another(live_app, live_server):
    with live_app.app_context():
        create_user("guessed-doctor", "doctor", password="a long test password")
        db.session.commit()

    def guess(number):
        status, _ = live_server.request(
            "POST", "/api/auth/token", {"username": "guessed-doctor", "password": f"guess {number}"}
        )
        return status

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = sorted(pool.map(guess, range(16)))
    assert statuses == [401] * FAILED_LOGIN_LIMIT + [429] * (16 - FAILED_LOGIN_LIMIT)
