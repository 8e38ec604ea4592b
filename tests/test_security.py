"""Security headers on every answer, and the brake on password guessing."""

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
