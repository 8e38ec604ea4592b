"""The administrator's pages: users, the audit log and its filters, the condition rules."""

import re

import pytest
from sqlalchemy import select

from clinic.models import ConditionRule
from core.accounts import User, update_user
from core.database import db
from core.errors import Conflict
from tests import factories


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def admin(sign_in_page):
    return sign_in_page("admin")


def sign_in_as(client, username: str, password: str = factories.DEFAULT_PASSWORD) -> int:
    """Sign out whoever is signed in, then sign in as this user: the status of the attempt."""
    client.post("/logout")
    return client.post("/login", data={"username": username, "password": password}).status_code


def test_admin_pages_answer_other_roles_with_a_403_page(client, sign_in_page):
    sign_in_page("pharmacist")
    for path in ("/admin", "/admin/users", "/admin/audit", "/admin/condition-rules"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "This page is for administrators." in html(response)


def test_an_administrator_creates_a_user_who_can_then_sign_in(client, admin):
    response = client.post(
        "/admin/users",
        data={"username": "dr-ines", "role": "doctor", "email": "ines@clinic.example",
              "password": "a long enough password", "alert_emails": "y"},
    )  # fmt: skip
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "dr-ines"))
    assert (user.role.value, user.alert_emails, user.active) == ("doctor", True, True)
    assert "dr-ines" in html(client.get("/admin/users"))
    assert sign_in_as(client, "dr-ines", "a long enough password") == 302


def test_user_form_errors_are_shown_next_to_their_fields(client, admin):
    short = client.post(
        "/admin/users",
        data={"username": "x", "role": "doctor", "password": "short", "email": "not-an-address"},
    )
    assert short.status_code == 422
    page = html(short)
    assert re.search(r'id="password-error">Field must be at least 12 characters long', page)
    assert 'id="email-error">Not a valid e-mail address.' in page
    taken = client.post(
        "/admin/users",
        data={"username": admin.username, "role": "doctor", "password": "a long enough password"},
    )
    assert taken.status_code == 409 and 'id="username-error">Taken.' in html(taken)


def test_a_deactivated_user_can_no_longer_sign_in_until_reactivated(client, admin):
    doctor = factories.make_user(role="doctor")
    doctor_id, username = doctor.id, doctor.username
    assert (
        client.post(
            f"/admin/users/{doctor_id}/active", data={"active": "0", "confirmed": "yes"}
        ).status_code
        == 302
    )
    assert sign_in_as(client, username) == 401
    assert sign_in_as(client, admin.username) == 302
    assert client.post(f"/admin/users/{doctor_id}/active", data={"active": "1"}).status_code == 302
    assert sign_in_as(client, username) == 302


def test_an_administrator_cannot_deactivate_their_own_account(client, admin):
    deactivate = {"active": "0", "confirmed": "yes"}
    response = client.post(f"/admin/users/{admin.id}/active", data=deactivate)
    assert response.status_code == 409
    assert "You cannot deactivate your own account." in html(response)
    db.session.expire_all()
    assert db.session.get(User, admin.id).active
    with pytest.raises(Conflict):
        update_user(admin, {"active": False}, by=admin)


def test_the_audit_log_filters_by_user_and_table(client, admin):
    pharmacist = factories.make_user(role="pharmacist")
    product = factories.make_product(kind="consumable", name="Audited syringe")
    client.post(
        "/admin/users",
        data={"username": "audited-user", "role": "doctor", "password": "a long enough password"},
    )
    by_admin = html(client.get("/admin/audit", query_string={"user": admin.username}))
    assert "audited-user" in by_admin and "Audited syringe" not in by_admin
    products = html(client.get("/admin/audit", query_string={"entity": "products"}))
    assert "Audited syringe" in products and "audited-user" not in products
    one = html(
        client.get("/admin/audit", query_string={"entity": "users", "entity_id": pharmacist.id})
    )
    assert pharmacist.username in one and "audited-user" not in one
    assert f"Created product {product.name}" in products


def test_the_audit_log_shows_one_row_per_write_with_its_records_on_demand(client, admin):
    first, second = factories.make_lot(lot_number="AUD-6"), factories.make_lot(lot_number="AUD-7")
    first.supplier = second.supplier = "Laboratoire Audit"
    db.session.commit()  # one write, two records
    page = html(client.get("/admin/audit"))
    assert re.search(r"Changed lot AUD-[67] of [^<]*, with 1 lot</p>", page)
    assert "What changed (2 records)" in page
    assert f"Changed lot AUD-6 of {first.product.name}</p>" in page
    assert f"Changed lot AUD-7 of {second.product.name}</p>" in page
    assert page.count("Supplier: — → Laboratoire Audit") == 2


def test_the_audit_log_names_the_kinds_of_record_in_a_list_not_tables(client, admin):
    page = html(client.get("/admin/audit"))
    assert '<option value="lots">Lots</option>' in page
    assert '<option value="cross_reactivity_groups">Cross-reactivity groups</option>' in page
    assert "Record id" not in page and "Table" not in page


def test_the_audit_log_words_values_and_never_shows_link_ids(client, admin):
    factories.make_lot(lot_number="AUD-8")
    page = html(client.get("/admin/audit", query_string={"entity": "lots"}))
    assert "Lot number: AUD-8" in page
    assert "Product id" not in page and "product_id" not in page
    assert re.search(r"Expiry date: \d{1,2} [A-Z][a-z]{2} \d{4}", page)


def test_a_deleted_record_is_named_from_what_its_entry_kept(client, admin):
    product = factories.make_product(kind="consumable", name="Short-lived syringe")
    db.session.delete(product)
    db.session.commit()
    page = html(client.get("/admin/audit", query_string={"entity": "products"}))
    assert "Deleted product Short-lived syringe" in page


def test_an_inverted_date_range_is_an_error_next_to_its_field_not_an_empty_page(client, admin):
    response = client.get(
        "/admin/audit", query_string={"date_from": "2026-03-02", "date_to": "2026-03-01"}
    )
    assert response.status_code == 422
    assert 'id="date_to-error"' in html(response)
    assert "The end of the period comes before its start." in html(response)


def test_the_api_refuses_an_inverted_date_range_with_the_same_rule(client, login_as):
    response = client.get(
        "/api/audit",
        query_string={"from": "2026-03-02", "to": "2026-03-01"},
        headers=login_as("admin"),
    )
    assert response.status_code == 422 and "to" in response.get_json()["errors"]


def test_the_audit_log_filters_by_clinic_days(client, admin):
    factories.make_product(kind="consumable", name="Dated syringe")
    assert "Dated syringe" not in html(
        client.get(
            "/admin/audit", query_string={"date_from": "2000-01-01", "date_to": "2000-01-02"}
        )
    )
    assert client.get("/admin/audit", query_string={"date_from": "yesterday"}).status_code == 422


def test_the_audit_log_sends_the_same_number_of_queries_for_few_and_many_entries(
    client, admin, queries_of_get
):
    def measure():
        return queries_of_get("/admin/audit")[0]

    factories.make_product(kind="consumable")
    few = measure()  # record names are read with one query per kind of record on the page
    for _ in range(30):
        factories.make_product(kind="consumable")
    assert measure() == few


def test_the_users_page_sends_the_same_number_of_queries_for_few_and_many_users(
    client, admin, queries_of_get
):
    def measure():
        return queries_of_get("/admin/users")[0]

    few = measure()
    for _ in range(10):
        factories.make_user(role="doctor")
    assert measure() == few


def test_an_administrator_adds_a_condition_rule(client, admin):
    response = client.post(
        "/admin/condition-rules",
        data={"code": "isotretinoin_use", "label": "Isotretinoin treatment", "verdict": "caution",
              "message": "Isotretinoin slows healing: wait six months after the last dose."},
    )  # fmt: skip
    assert response.status_code == 302
    rule = db.session.scalar(select(ConditionRule).where(ConditionRule.code == "isotretinoin_use"))
    assert rule.verdict.value == "caution"
    assert "Isotretinoin slows healing" in html(client.get("/admin/condition-rules"))
    taken = client.post(
        "/admin/condition-rules",
        data={"code": "isotretinoin_use", "label": "Again", "verdict": "caution", "message": "m"},
    )
    assert taken.status_code == 409 and 'id="code-error">Taken.' in html(taken)
    bad = client.post(
        "/admin/condition-rules",
        data={"code": "Not A Code", "label": "L", "verdict": "caution", "message": "m"},
    )
    assert bad.status_code == 422 and "Not a condition code." in html(bad)


def test_the_overview_shows_the_latest_changes(client, admin):
    factories.make_product(kind="consumable", name="Overview syringe")
    page = html(client.get("/admin"))
    assert "Overview syringe" in page and "Manage users" in page
