"""Every error status of SPEC 4 answers the same JSON shape: code, status, message, errors."""

import pytest

from tests import factories


def assert_error_shape(response, code):
    assert response.status_code == code
    assert response.is_json
    body = response.get_json()
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


def test_malformed_json_is_a_400(client, login_as):
    response = client.post(
        "/api/users",
        headers={**login_as("admin"), "Content-Type": "application/json"},
        data="{not json",
    )
    assert_error_shape(response, 400)


def test_no_credentials_is_a_401(client):
    assert_error_shape(client.get("/api/users"), 401)


def test_a_bad_token_is_a_401(client):
    assert_error_shape(client.get("/api/users", headers={"Authorization": "Bearer nope"}), 401)


def test_a_role_not_allowed_is_a_403(client, login_as):
    body = assert_error_shape(client.get("/api/users", headers=login_as("doctor")), 403)
    assert "admin" in body["message"]


def test_an_unknown_id_is_a_404(client, login_as):
    assert_error_shape(client.get("/api/users/999999", headers=login_as("admin")), 404)


@pytest.mark.parametrize("user_id", ["2147483648", "99999999999999999999999", "0", "-1", "abc"])
def test_an_id_outside_the_integer_range_is_a_404_not_a_500(client, login_as, user_id):
    assert_error_shape(client.get(f"/api/users/{user_id}", headers=login_as("admin")), 404)


def test_an_unknown_path_is_a_json_404(client):
    assert_error_shape(client.get("/api/no-such-thing"), 404)


def test_a_method_not_allowed_is_a_405_with_its_allow_header(client):
    response = client.delete("/api/health")
    assert_error_shape(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_a_duplicate_username_is_a_409(client, login_as):
    existing = factories.make_user()
    response = client.post(
        "/api/users",
        headers=login_as("admin"),
        json={"username": existing.username, "role": "doctor", "password": "long enough pass"},
    )
    body = assert_error_shape(response, 409)
    assert "username" in body["errors"]


def test_invalid_fields_are_a_422_naming_each_field(client, login_as):
    response = client.post(
        "/api/users",
        headers=login_as("admin"),
        json={"username": "", "role": "wizard", "email": "not-an-address", "password": "x"},
    )
    body = assert_error_shape(response, 422)
    assert {"username", "role", "email", "password"} <= set(body["errors"])
    for field in ("role", "email", "password"):
        assert field in body["message"]


def test_an_invalid_query_argument_is_a_422_naming_it(client, login_as):
    response = client.get("/api/audit?from=yesterday", headers=login_as("admin"))
    body = assert_error_shape(response, 422)
    assert "from" in body["errors"]


def test_a_page_size_above_500_is_refused(client, login_as):
    response = client.get("/api/users?page_size=501", headers=login_as("admin"))
    body = assert_error_shape(response, 422)
    assert "page_size" in body["errors"]


def test_a_refused_request_changes_nothing(client, login_as):
    headers = login_as("admin")
    before = client.get("/api/audit?page_size=1", headers=headers).headers["X-Pagination"]
    client.post("/api/users", headers=headers, json={"username": "x", "role": "doctor"})
    after = client.get("/api/audit?page_size=1", headers=headers).headers["X-Pagination"]
    assert before == after
