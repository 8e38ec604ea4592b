"""Signing in and out of the web interface (Flask-Login sessions, CSRF-protected forms)."""

import re

from tests import factories


def sign_in(client, username, password=factories.DEFAULT_PASSWORD, **extra):
    return client.post("/login", data={"username": username, "password": password, **extra})


def test_the_login_page_is_served_with_labelled_fields(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="username">' in html and '<label for="password">' in html


def test_pages_need_a_signed_in_user(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_user_signs_in_sees_their_home_and_signs_out(client):
    user = factories.make_user(role="doctor")
    response = sign_in(client, user.username)
    assert response.status_code == 302
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200 and user.username in home.get_data(as_text=True)
    assert home.request.path == "/patients"
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_shows_the_error_next_to_the_field(client):
    user = factories.make_user()
    response = sign_in(client, user.username, "wrong password here")
    assert response.status_code == 401
    assert "Unknown username or wrong password." in response.get_data(as_text=True)


def test_login_never_redirects_off_site(client):
    user = factories.make_user()
    response = client.post(
        "/login?next=//evil.example/",
        data={"username": user.username, "password": factories.DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_the_login_form_is_refused_without_its_csrf_token(csrf_client):
    user = factories.make_user()
    assert sign_in(csrf_client, user.username).status_code == 400


def test_the_login_form_works_with_its_csrf_token(csrf_client):
    username = factories.make_user().username
    page = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert sign_in(csrf_client, username, csrf_token=token).status_code == 302
