"""Signing in and out of the web interface (Flask-Login sessions, CSRF-protected forms)."""

import re

import pytest
from sqlalchemy import select

from app import create_app
from config import database_url as driver_url
from core.accounts import User
from core.database import db
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
    assert home.request.path == "/today"  # the doctor's home: the sessions planned
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_shows_the_error_next_to_the_field(client):
    user = factories.make_user()
    response = sign_in(client, user.username, "wrong password here")
    assert response.status_code == 401
    assert "Unknown username or wrong password." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/%09/evil.example/x",
        "/%0a/evil.example",
        "/\\evil.example",
        "https://evil.example/",
    ],
)
def test_login_never_redirects_off_site(client, target):
    user = factories.make_user()
    response = client.post(
        f"/login?next={target}",
        data={"username": user.username, "password": factories.DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_login_follows_a_path_on_the_site(client):
    user = factories.make_user()
    response = client.post(
        "/login?next=/stock/batches",
        data={"username": user.username, "password": factories.DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/stock/batches"


def test_a_cookie_kept_from_before_signing_out_opens_nothing(client, sign_in_page):
    sign_in_page("pharmacist")
    kept = client.get_cookie("session").value
    client.post("/logout")
    client.set_cookie("session", kept)
    assert client.get("/stock").status_code == 302  # to /login


def test_a_password_change_signs_the_user_out_of_every_browser(database_url):
    # An app of its own: each request gets its own app context, as in production (the suite's
    # app shares the test's, where Flask-Login caches the signed-in user).
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(database_url)})
    browser = app.test_client()
    user = factories.make_user(role="pharmacist")
    username = user.username
    db.session.commit()
    sign_in(browser, username)
    assert browser.get("/stock").status_code == 200
    db.session.scalar(select(User).where(User.username == username)).set_password("a new secret!")
    db.session.commit()
    assert browser.get("/stock").status_code == 302


def test_the_login_form_is_refused_without_its_csrf_token(csrf_client):
    user = factories.make_user()
    assert sign_in(csrf_client, user.username).status_code == 400


def test_the_login_form_works_with_its_csrf_token(csrf_client):
    username = factories.make_user().username
    page = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert sign_in(csrf_client, username, csrf_token=token).status_code == 302
