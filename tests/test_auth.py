"""Sign-in tokens, password hashing and the role rules of the endpoints that exist."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.accounts import ApiToken, User, hash_token, update_user, user_for_token
from core.database import db
from tests import factories


def post_token(client, username, password):
    return client.post("/api/auth/token", json={"username": username, "password": password})


def test_a_token_is_issued_for_the_right_password(client):
    user = factories.make_user(role="pharmacist")
    response = post_token(client, user.username, factories.DEFAULT_PASSWORD)
    assert response.status_code == 201
    body = response.get_json()
    assert body["role"] == "pharmacist"
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    me = client.get("/api/users", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 403  # authenticated, but not an admin


def test_a_wrong_password_or_unknown_user_gets_401_without_saying_which(client):
    user = factories.make_user()
    wrong = post_token(client, user.username, "not the password at all")
    unknown = post_token(client, "nobody-here", factories.DEFAULT_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["message"] == unknown.get_json()["message"]


def test_a_deactivated_user_gets_no_token_and_their_tokens_stop_working(client, login_as):
    user = factories.make_user()
    headers = login_as(user)
    user.active = False
    db.session.commit()
    assert post_token(client, user.username, factories.DEFAULT_PASSWORD).status_code == 401
    assert client.get("/api/users", headers=headers).status_code == 401


def test_tokens_are_stored_only_as_their_hash(client):
    user = factories.make_user()
    token = post_token(client, user.username, factories.DEFAULT_PASSWORD).get_json()["token"]
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored
    assert hash_token(token) in stored


def test_an_expired_token_is_refused(client):
    user = factories.make_user()
    header = factories.auth_header(user, lifetime=timedelta(seconds=-1))
    response = client.get("/api/users", headers=header)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_is_valid_until_its_expiry_and_not_after():
    user = factories.make_user()
    header = factories.auth_header(user, lifetime=timedelta(hours=1))
    token = header["Authorization"].removeprefix("Bearer ")
    record = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    assert user_for_token(token, now=record.expires_at - timedelta(seconds=1)) == user
    assert user_for_token(token, now=record.expires_at) is None


def test_passwords_are_stored_salted_and_hashed():
    first = factories.make_user(password="the same password")
    second = factories.make_user(password="the same password")
    assert "the same password" not in first.password_hash
    assert first.password_hash != second.password_hash
    assert first.check_password("the same password")
    assert not first.check_password("the same passworD")


def test_production_hashes_passwords_with_scrypt(app):
    with app.test_request_context():
        app.config["PASSWORD_HASH_METHOD"] = "scrypt"
        try:
            user = User(username="x", role="admin")
            user.set_password("long enough password")
        finally:
            app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:2000"
    assert user.password_hash.startswith("scrypt:")


def test_a_password_shorter_than_12_characters_is_refused(client, login_as):
    response = client.post(
        "/api/users",
        headers=login_as("admin"),
        json={"username": "newdoc", "role": "doctor", "password": "elevenchars"},
    )
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]


@pytest.mark.parametrize("role", ["pharmacist", "doctor"])
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/users"),
        ("post", "/api/users"),
        ("get", "/api/users/1"),
        ("patch", "/api/users/1"),
        ("get", "/api/audit"),
    ],
)
def test_user_management_and_audit_are_for_admins_only(client, login_as, role, method, path):
    response = getattr(client, method)(path, headers=login_as(role), json={})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/users"),
        ("post", "/api/users"),
        ("patch", "/api/users/1"),
        ("get", "/api/audit"),
    ],
)
def test_every_protected_endpoint_needs_a_token(client, method, path):
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401


def test_the_role_check_runs_before_the_body_is_validated(client, login_as):
    response = client.post("/api/users", headers=login_as("doctor"), json={"role": "wizard"})
    assert response.status_code == 403


def test_an_admin_creates_lists_and_updates_users(client, login_as):
    headers = login_as("admin")
    created = client.post(
        "/api/users",
        headers=headers,
        json={
            "username": "dr-house",
            "role": "doctor",
            "email": "house@clinic.example",
            "password": "a long password!",
        },
    )
    assert created.status_code == 201
    user = created.get_json()
    assert user["role"] == "doctor" and user["active"] is True and "password" not in user

    listed = client.get("/api/users?page_size=500", headers=headers)
    assert "dr-house" in [u["username"] for u in listed.get_json()]
    assert "X-Pagination" in listed.headers

    patched = client.patch(
        f"/api/users/{user['id']}", headers=headers, json={"active": False, "alert_emails": True}
    )
    assert patched.status_code == 200
    assert patched.get_json()["active"] is False
    assert post_token(client, "dr-house", "a long password!").status_code == 401


def test_an_admin_can_reset_a_password(client, login_as):
    user = factories.make_user(role="doctor")
    response = client.patch(
        f"/api/users/{user.id}", headers=login_as("admin"), json={"password": "a brand new secret"}
    )
    assert response.status_code == 200
    assert post_token(client, user.username, "a brand new secret").status_code == 201


def test_a_password_change_ends_every_earlier_token(client, login_as):
    user = factories.make_user()
    headers = login_as(user)
    user.set_password("a brand new secret")
    db.session.commit()
    assert client.get("/api/patients", headers=headers).status_code == 401


def test_reactivating_a_user_never_revives_their_old_tokens(client, login_as):
    admin = factories.make_user(role="admin")
    user = factories.make_user(role="doctor")
    old = login_as(user)
    update_user(user, {"active": False}, by=admin)
    update_user(user, {"active": True}, by=admin)
    db.session.commit()
    assert client.get("/api/patients", headers=old).status_code == 401


def test_signing_out_revokes_the_callers_token_only(client, login_as):
    user = factories.make_user(role="doctor")
    first, second = login_as(user), login_as(user)
    assert client.delete("/api/auth/token", headers=first).status_code == 204
    assert client.get("/api/patients", headers=first).status_code == 401
    assert client.get("/api/patients", headers=second).status_code == 200


def test_an_admin_revokes_every_token_of_a_user(client, login_as):
    user = factories.make_user(role="doctor")
    headers = login_as(user)
    answer = client.delete(f"/api/users/{user.id}/tokens", headers=login_as("admin"))
    assert answer.status_code == 204
    assert client.get("/api/patients", headers=headers).status_code == 401


def test_a_token_is_looked_up_with_its_user_in_one_query(client, login_as, count_queries):
    headers = login_as("pharmacist")
    with count_queries() as counted:
        assert client.get("/api/cross-reactivity?page=999", headers=headers).status_code == 200
    # The token with its user, then the list's count (past the end: no page query).
    assert counted.count == 2, counted.statements
