"""One rule, one place: each rule here is driven through both boundaries, the JSON API and the
web pages, and both must give the same answer because both call the same domain operation."""

from datetime import date

import pytest
from sqlalchemy import select

from clinic.conditions import CONDITION_CODE_HINT, seed_condition_rules
from clinic.models import Patient, PatientCondition
from core.accounts import Role, User
from core.database import db
from inventory.models import Lot
from tests import factories


@pytest.fixture
def admin(sign_in_page):
    """An administrator signed in to the pages, who also holds an API token."""
    return sign_in_page("admin")


def api_patch_user(client, admin, user, body):
    return client.patch(f"/api/users/{user.id}", json=body, headers=factories.auth_header(admin))


def web_edit_user(client, user, **form):
    fields = {"role": user.role.value, "email": user.email or ""}
    fields.update(form)
    return client.post(f"/admin/users/{user.id}", data=fields)


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_nobody_deactivates_their_own_account_through_either_boundary(client, admin):
    api = api_patch_user(client, admin, admin, {"active": False})
    web = client.post(f"/admin/users/{admin.id}/active", data={"active": "0", "confirmed": "yes"})
    assert (api.status_code, web.status_code) == (409, 409)
    assert "You cannot deactivate your own account." in api.json["message"]
    assert "You cannot deactivate your own account." in web.get_data(as_text=True)
    assert fresh(admin).active


def test_nobody_changes_their_own_role_through_either_boundary(client, admin):
    api = api_patch_user(client, admin, admin, {"role": "doctor"})
    web = web_edit_user(client, admin, role="doctor")
    assert (api.status_code, web.status_code) == (409, 409)
    assert api.json["errors"] == {"role": ["That is you."]}
    assert "You cannot change your own role" in web.get_data(as_text=True)
    assert fresh(admin).role == Role.ADMIN


def test_an_administrator_changes_another_users_role_and_email_through_either_boundary(
    client, admin
):
    first, second = factories.make_user(role="doctor"), factories.make_user(role="doctor")
    api = api_patch_user(client, admin, first, {"role": "pharmacist", "email": "a@clinic.test"})
    web = web_edit_user(client, second, role="pharmacist", email="b@clinic.test")
    assert (api.status_code, web.status_code) == (200, 302)
    assert (fresh(first).role, fresh(first).email) == (Role.PHARMACIST, "a@clinic.test")
    assert (fresh(second).role, fresh(second).email) == (Role.PHARMACIST, "b@clinic.test")


def test_deactivating_someone_ends_their_tokens_through_either_boundary(client, admin):
    by_api, by_page = factories.make_user(role="doctor"), factories.make_user(role="doctor")
    headers = {user.id: factories.auth_header(user) for user in (by_api, by_page)}
    assert api_patch_user(client, admin, by_api, {"active": False}).status_code == 200
    deactivate = {"active": "0", "confirmed": "yes"}
    assert client.post(f"/admin/users/{by_page.id}/active", data=deactivate).status_code == 302
    for user in (by_api, by_page):
        assert client.get("/api/products", headers=headers[user.id]).status_code == 401


def test_a_username_is_not_among_what_can_be_changed(client, admin):
    user = factories.make_user(role="doctor")
    response = api_patch_user(client, admin, user, {"username": "someone-else"})
    assert response.status_code == 422
    assert "username" in response.json["errors"]
    assert fresh(user).username != "someone-else"


def test_deactivating_from_the_page_asks_first_and_changes_nothing_until_yes(client, admin):
    user = factories.make_user(role="doctor")
    asked = client.post(f"/admin/users/{user.id}/active", data={"active": "0"})
    assert asked.status_code == 200
    assert f"Deactivate {user.username}" in asked.get_data(as_text=True)
    assert fresh(user).active


GTIN = "09501101530003"


@pytest.fixture
def boxed(db_session):
    return factories.make_product(kind="consumable", name="Boxed vial", gtin=GTIN)


def api_receive(client, body):
    pharmacist = factories.make_user(role="pharmacist")
    return client.post("/api/lots", json=body, headers=factories.auth_header(pharmacist))


def web_receive(client, sign_in_page, form):
    sign_in_page("pharmacist")
    return client.post("/stock/receive", data={"storage": "room", **form})


def test_a_barcode_without_expiry_takes_the_typed_one_through_either_boundary(
    client, sign_in_page, boxed
):
    typed = {"expiry_date": "2031-05-31"}
    api = api_receive(client, {"barcode": f"01{GTIN}10BY-API", "quantity": 2, **typed})
    web = web_receive(
        client, sign_in_page, {"barcode": f"01{GTIN}10BY-WEB", "quantity": "2", **typed}
    )
    assert (api.status_code, web.status_code) == (201, 302)
    received = db.session.scalars(
        select(Lot.expiry_date).where(Lot.product_id == boxed.id).order_by(Lot.lot_number)
    ).all()
    assert received == [date(2031, 5, 31), date(2031, 5, 31)]


def test_typed_fields_contradicting_the_barcode_are_refused_alike_through_either_boundary(
    client, sign_in_page, boxed
):
    barcode = f"01{GTIN}17310531" + "10L-7"
    typed = {"lot_number": "L-8", "expiry_date": "2031-06-30"}
    api = api_receive(client, {"barcode": barcode, "quantity": 1, **typed})
    web = web_receive(client, sign_in_page, {"barcode": barcode, "quantity": "1", **typed})
    assert (api.status_code, web.status_code) == (422, 422)
    assert api.json["errors"] == {
        "lot_number": ["The barcode says lot L-7."],
        "expiry_date": ["The barcode says 31 May 2031."],
    }
    page = web.get_data(as_text=True)
    assert "The barcode says lot L-7." in page and "The barcode says 31 May 2031." in page
    assert db.session.scalar(select(Lot.id).where(Lot.product_id == boxed.id)) is None


def test_an_unknown_gtin_is_named_alike_through_either_boundary(client, sign_in_page, db_session):
    barcode = f"01{GTIN}17310531" + "10L-7"
    api = api_receive(client, {"barcode": barcode, "quantity": 1})
    web = web_receive(client, sign_in_page, {"barcode": barcode, "quantity": "1"})
    message = f"No product has GTIN {GTIN}: add the product first."
    assert (api.status_code, web.status_code) == (422, 422)
    assert api.json["errors"] == {"barcode": [message]}
    assert message in web.get_data(as_text=True)


def doctor_api(client, path, body, method="patch"):
    doctor = factories.make_user(role="doctor")
    return getattr(client, method)(path, json=body, headers=factories.auth_header(doctor))


def test_an_unticked_condition_stays_on_record_as_past_through_either_boundary(
    client, sign_in_page
):
    seed_condition_rules()
    by_api, by_page = (factories.make_patient(conditions=[]) for _ in range(2))
    for patient in (by_api, by_page):
        patient.conditions = [PatientCondition(code="shingles")]
    db.session.commit()
    api = doctor_api(client, f"/api/patients/{by_api.id}", {"conditions": []})
    sign_in_page("doctor")
    web = client.post(
        f"/patients/{by_page.id}/profile",
        data={"profile-alopecia_scale": "norwood", "profile-alopecia_stage": "III"},
    )
    assert (api.status_code, web.status_code) == (200, 302)
    db.session.expire_all()
    for patient in (by_api, by_page):
        kept = [(c.code, c.active) for c in db.session.get(Patient, patient.id).conditions]
        assert kept == [("shingles", False)]


def test_a_condition_code_is_checked_once_for_a_patient_and_for_a_rule(client, sign_in_page):
    patient = factories.make_patient(conditions=[])
    on_patient = doctor_api(client, f"/api/patients/{patient.id}", {"conditions": [{"code": "X"}]})
    admin = factories.make_user(role="admin")
    rule = {"code": "Not A Code", "label": "L", "verdict": "caution", "message": "m"}
    by_api = client.post("/api/condition-rules", json=rule, headers=factories.auth_header(admin))
    sign_in_page(admin)
    by_page = client.post("/admin/condition-rules", data=rule)
    assert (on_patient.status_code, by_api.status_code, by_page.status_code) == (422, 422, 422)
    hint = f"Not a condition code. {CONDITION_CODE_HINT}"
    assert on_patient.json["errors"] == {"conditions": [hint]}
    assert by_api.json["errors"] == {"code": [hint]}
    assert "Not a condition code." in by_page.get_data(as_text=True)
