"""Sites (`/api/sites`) and who works at which: the clinic's sites, the sites on a user's
account, the access rules stock and sessions will use, and the migration that makes an
existing database a chain of one."""

import json

import flask_migrate
import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import delete, func, inspect, select, text

from app import create_app
from config import database_url as driver_url
from core.accounts import User, create_user, update_user
from core.audit import AuditEntry
from core.database import db
from core.errors import Forbidden, Invalid
from core.sites import (
    Site,
    create_site,
    require_site,
    site_for_new_record,
    site_ids_of,
    update_site,
    works_everywhere,
)
from tests import factories

SITES_REVISION = "0019"
PASSWORD = "a long enough password"


def site_body(**fields) -> dict:
    body = {
        "code": factories.unique("PORTO-"),
        "name": "Clínica Porto",
        "timezone": "Europe/Lisbon",
    }
    return {**body, **fields}


def audit_entries(entity: str, entity_id) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)
    )
    return db.session.scalars(stmt).all()


# --- sites -----------------------------------------------------------------------------------


def test_an_administrator_adds_a_site_that_every_role_then_reads(client, login_as):
    admin = factories.make_user(role="admin")
    body = site_body(address="Rua das Flores 12", phone="+351 22 000 0000")
    created = client.post("/api/sites", json=body, headers=login_as(admin))
    assert created.status_code == 201, created.get_json()
    site = created.get_json()
    assert {key: site[key] for key in body} == body
    for role in ("pharmacist", "doctor", "admin"):
        one = client.get(f"/api/sites/{site['id']}", headers=login_as(role))
        assert one.status_code == 200 and one.get_json() == site
    [entry] = audit_entries("sites", site["id"])
    assert (entry.action, entry.user_id, entry.changes["code"]) == (
        "create",
        admin.id,
        body["code"],
    )


def test_pharmacists_and_doctors_read_sites_but_do_not_write_them(client, login_as):
    site = factories.make_site()
    for role in ("pharmacist", "doctor"):
        headers = login_as(role)
        assert client.post("/api/sites", json=site_body(), headers=headers).status_code == 403
        patch = client.patch(f"/api/sites/{site.id}", json={"name": "X"}, headers=headers)
        assert patch.status_code == 403
        assert client.get("/api/sites", headers=headers).status_code == 200


def test_the_site_list_is_by_name_a_page_at_a_time(client, login_as):
    for name in ("Zagreb", "Aveiro", "Lyon"):
        factories.make_site(name=f"{name} clinic")
    headers = login_as("doctor")
    first = client.get("/api/sites?page_size=2", headers=headers)
    position = json.loads(first.headers["X-Pagination"])
    names = [site["name"] for site in first.get_json()]
    assert position["total"] == 4 and position["total_pages"] == 2  # the clinic's site too
    assert names == sorted(names) and names[0] == "Aveiro clinic"
    rest = client.get("/api/sites?page_size=2&page=2", headers=headers).get_json()
    assert [site["name"] for site in rest][-1] == "Zagreb clinic"


def test_a_site_code_another_site_has_is_a_409_naming_the_code(client, login_as):
    headers = login_as("admin")
    taken = factories.make_site(code="LYON-1")
    again = client.post("/api/sites", json=site_body(code="LYON-1"), headers=headers)
    assert again.status_code == 409 and again.get_json()["errors"] == {"code": ["Taken."]}
    other = factories.make_site()
    patch = client.patch(f"/api/sites/{other.id}", json={"code": "LYON-1"}, headers=headers)
    assert patch.status_code == 409 and "code" in patch.get_json()["errors"]
    same = client.patch(f"/api/sites/{taken.id}", json={"code": "LYON-1"}, headers=headers)
    assert same.status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Europe"),  # a folder of the zone database, not a zone
        ("timezone", "localtime"),  # the server's clock, no place
        ("timezone", "Europe/Paris "),
        ("timezone", "x" * 300),
        ("code", "paris-1"),
        ("code", "PARIS 1"),
        ("code", "PARIS-1\n"),
        ("code", "P" * 21),
        ("code", ""),
        ("name", ""),
        ("name", "n" * 121),
        ("address", "a" * 501),
        ("phone", "9" * 41),
    ],
)
def test_a_site_field_out_of_its_rules_is_a_422_naming_it(client, login_as, field, value):
    headers = login_as("admin")
    created = client.post("/api/sites", json=site_body(**{field: value}), headers=headers)
    assert created.status_code == 422 and field in created.get_json()["errors"]
    site = factories.make_site()
    patch = client.patch(f"/api/sites/{site.id}", json={field: value}, headers=headers)
    assert patch.status_code == 422 and field in patch.get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(Site)) == 2


def test_the_domain_refuses_what_the_schema_refuses():
    with pytest.raises(Invalid) as refused:
        create_site(code="MAIN 2", name="Second", timezone="UTC")
    assert set(refused.value.errors) == {"code"}
    site = factories.make_site()
    for changes in ({"timezone": "Mars/Olympus"}, {"code": "lower"}, {"id": 5}):
        with pytest.raises(Invalid) as refused:
            update_site(site, changes)
        assert set(refused.value.errors) == set(changes)


def test_a_patch_changes_the_fields_it_names_and_is_logged_old_and_new(client, login_as):
    site = factories.make_site(name="Old name", phone="+33 1 00 00 00 00")
    headers = login_as("admin")
    patch = client.patch(
        f"/api/sites/{site.id}", json={"name": "New name", "phone": None}, headers=headers
    )
    assert patch.status_code == 200
    body = patch.get_json()
    assert (body["name"], body["phone"], body["code"]) == ("New name", None, site.code)
    update = audit_entries("sites", site.id)[-1]
    assert update.changes["name"] == {"old": "Old name", "new": "New name"}


def test_an_unknown_site_is_a_404(client, login_as):
    assert client.get("/api/sites/999999", headers=login_as("doctor")).status_code == 404
    patch = client.patch("/api/sites/999999", json={"name": "X"}, headers=login_as("admin"))
    assert patch.status_code == 404


# --- the sites users work at -----------------------------------------------------------------


def post_user(client, headers, **fields):
    body = {"username": factories.unique("user-"), "role": "pharmacist", "password": PASSWORD}
    return client.post("/api/users", json={**body, **fields}, headers=headers)


def test_a_pharmacist_given_no_site_works_at_the_clinics_only_site(client, login_as):
    only = factories.clinic_site()
    created = post_user(client, login_as("admin"), role="doctor")
    assert created.status_code == 201 and created.get_json()["sites"] == [only.id]


def test_in_a_chain_a_pharmacist_or_a_doctor_must_be_given_a_site(client, login_as):
    factories.make_site()
    headers = login_as("admin")
    for role in ("pharmacist", "doctor"):
        for body in ({}, {"sites": []}):
            refused = post_user(client, headers, role=role, **body)
            assert refused.status_code == 422 and "sites" in refused.get_json()["errors"]


def test_a_user_works_at_the_sites_given_and_each_is_logged(client, login_as):
    lyon, porto = factories.make_site(name="Lyon"), factories.make_site(name="Porto")
    created = post_user(client, login_as("admin"), sites=[porto.id, lyon.id])
    assert created.status_code == 201
    user = created.get_json()
    assert sorted(user["sites"]) == sorted([lyon.id, porto.id])
    assert client.get(f"/api/users/{user['id']}", headers=login_as("admin")).json == user
    [entry] = audit_entries("users", user["id"])
    assert sorted(entry.changes["sites"]["added"]) == sorted([str(lyon.id), str(porto.id)])


def test_an_administrator_given_no_site_works_at_every_site(client, login_as):
    factories.make_site()
    created = post_user(client, login_as("admin"), role="admin")
    assert created.status_code == 201 and created.get_json()["sites"] == []
    admin = db.session.get(User, created.get_json()["id"])
    assert works_everywhere(admin) and site_ids_of(admin) is None


def test_an_administrator_may_be_kept_to_some_sites(client, login_as):
    lyon = factories.make_site()
    created = post_user(client, login_as("admin"), role="admin", sites=[lyon.id])
    admin = db.session.get(User, created.get_json()["id"])
    assert not works_everywhere(admin) and site_ids_of(admin) == [lyon.id]


@pytest.mark.parametrize("sites", [[999999], [1, 1], [0], ["one"], 3])
def test_sites_that_are_not_a_list_of_known_ids_are_a_422_naming_sites(client, login_as, sites):
    def names_sites(response) -> bool:
        fields = response.get_json()["errors"]  # an item of the list is named sites.0
        return response.status_code == 422 and all(f.split(".")[0] == "sites" for f in fields)

    headers = login_as("admin")
    assert names_sites(post_user(client, headers, sites=sites))
    user = factories.make_user(role="doctor")
    assert names_sites(
        client.patch(f"/api/users/{user.id}", json={"sites": sites}, headers=headers)
    )


def test_patching_sites_replaces_them_and_the_log_says_added_and_removed(client, login_as):
    first, lyon = factories.clinic_site(), factories.make_site()
    user = factories.make_user(role="pharmacist")
    patch = client.patch(
        f"/api/users/{user.id}", json={"sites": [lyon.id]}, headers=login_as("admin")
    )
    assert patch.status_code == 200 and patch.get_json()["sites"] == [lyon.id]
    update = audit_entries("users", user.id)[-1]
    assert update.changes == {"sites": {"added": [str(lyon.id)], "removed": [str(first.id)]}}


def test_a_patch_of_other_fields_leaves_the_sites_as_they_are(client, login_as):
    lyon = factories.make_site()
    user = factories.make_user(role="doctor", sites=[lyon])
    headers = login_as("admin")
    patch = client.patch(f"/api/users/{user.id}", json={"email": None}, headers=headers)
    assert patch.status_code == 200 and patch.get_json()["sites"] == [lyon.id]


def test_an_administrator_of_every_site_made_a_doctor_works_at_the_only_site():
    admin, by = factories.make_user(role="admin"), factories.make_user(role="admin")
    update_user(admin, {"role": "doctor"}, by=by)
    assert admin.sites == [factories.clinic_site()]
    factories.make_site()
    other = factories.make_user(role="admin")
    with pytest.raises(Invalid) as refused:
        update_user(other, {"role": "pharmacist"}, by=by)
    assert set(refused.value.errors) == {"sites"}


def test_a_pharmacists_sites_cannot_be_emptied_in_a_chain(client, login_as):
    factories.make_site()
    user = factories.make_user(role="pharmacist")
    patch = client.patch(f"/api/users/{user.id}", json={"sites": []}, headers=login_as("admin"))
    assert patch.status_code == 422 and "sites" in patch.get_json()["errors"]


def test_with_no_site_in_the_database_a_pharmacist_works_nowhere_yet():
    db.session.execute(delete(Site))
    user = create_user("no-site-yet", "pharmacist", password=PASSWORD)
    assert user.sites == []


def test_the_user_list_reads_everyones_sites_in_the_same_number_of_queries(
    login_as, queries_of_get
):
    headers = login_as("admin")

    def measure():
        return queries_of_get("/api/users?page_size=100", headers=headers)[0]

    few = measure()
    lyon = factories.make_site()
    for _ in range(8):
        factories.make_user(role="doctor", sites=[factories.clinic_site(), lyon])
    assert measure() == few


# --- the access rules ------------------------------------------------------------------------


def test_someone_outside_a_site_is_refused_it_with_a_403():
    lyon = factories.make_site(name="Lyon")
    pharmacist = factories.make_user(role="pharmacist")
    with pytest.raises(Forbidden) as refused:
        require_site(pharmacist, lyon.id)
    assert refused.value.status == 403 and "Lyon" in refused.value.message
    assert require_site(pharmacist, factories.clinic_site().id) == factories.clinic_site()
    assert require_site(factories.make_user(role="admin"), lyon.id) == lyon


def test_a_new_record_goes_to_the_users_only_site_or_the_one_they_name():
    first, lyon = factories.clinic_site(), factories.make_site()
    pharmacist = factories.make_user(role="pharmacist")
    assert site_for_new_record(pharmacist, None) == first
    with pytest.raises(Forbidden):
        site_for_new_record(pharmacist, lyon.id)
    both = factories.make_user(role="pharmacist", sites=[first, lyon])
    assert site_for_new_record(both, lyon.id) == lyon
    with pytest.raises(Invalid) as refused:
        site_for_new_record(both, None)
    assert set(refused.value.errors) == {"site_id"}
    with pytest.raises(Invalid):
        site_for_new_record(factories.make_user(role="admin"), None)


# --- the migration ---------------------------------------------------------------------------


def revision_before(revision: str) -> str:
    config = current_app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_revision(revision).down_revision


def add_user_row(username: str, role: str, *, active: bool = True) -> None:
    db.session.execute(
        text(
            "INSERT INTO users (username, role, active, alert_emails, password_hash, created_at)"
            " VALUES (:username, :role, :active, false, 'x', CURRENT_TIMESTAMP)"
        ),
        {"username": username, "role": role, "active": active},
    )


@pytest.mark.own_database
def test_the_migration_puts_an_existing_clinic_and_its_people_at_one_site(scratch_db):
    config = {
        "CONFIG": "testing",
        "SQLALCHEMY_DATABASE_URI": driver_url(scratch_db),
        "CLINIC_NAME": "Clínica Capilar Porto",
        "CLINIC_ADDRESS": "Rua das Flores 12",
        "CLINIC_PHONE": "",
        "CLINIC_TIMEZONE": "Europe/Lisbon",
    }
    app = create_app(config)
    with app.app_context():
        try:
            before = revision_before(SITES_REVISION)
            flask_migrate.upgrade(revision=before)
            for username, role, active in [
                ("ana", "pharmacist", True),
                ("bruno", "doctor", True),
                ("carla", "doctor", False),
                ("chief", "admin", True),
            ]:
                add_user_row(username, role, active=active)
            db.session.commit()

            flask_migrate.upgrade(revision=SITES_REVISION)
            [site] = db.session.execute(select(Site)).scalars().all()
            assert (site.code, site.name, site.address, site.phone, site.timezone) == (
                "MAIN", "Clínica Capilar Porto", "Rua das Flores 12", None, "Europe/Lisbon"
            )  # fmt: skip
            at_site = db.session.execute(
                text(
                    "SELECT users.username FROM user_sites JOIN users ON users.id = user_id"
                    " WHERE site_id = :site ORDER BY users.username"
                ),
                {"site": site.id},
            ).scalars()
            assert list(at_site) == ["ana", "bruno", "carla"]
            # The next site gets a fresh id (PostgreSQL's sequence knows of the first).
            second = create_site(code="LYON", name="Lyon", timezone="Europe/Paris")
            db.session.commit()
            assert second.id != site.id

            db.session.remove()
            flask_migrate.downgrade(revision=before)
            with db.engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                users = connection.execute(text("SELECT count(*) FROM users")).scalar()
            assert not {"sites", "user_sites"} & tables and users == 4
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.mark.own_database
def test_a_new_database_gets_the_clinics_first_site(scratch_db):
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(scratch_db)})
    with app.app_context():
        try:
            flask_migrate.upgrade()
            [site] = db.session.scalars(select(Site)).all()
            assert (site.code, site.name, site.timezone) == ("MAIN", "Main site", "UTC")
            pharmacist = create_user("first-pharmacist", "pharmacist", password=PASSWORD)
            assert pharmacist.sites == [site]
        finally:
            db.session.remove()
            db.engine.dispose()


# --- the command line ------------------------------------------------------------------------


def test_seed_makes_the_clinics_first_site_when_the_database_has_none(runner, app):
    db.session.execute(delete(Site))
    made = runner.invoke(args=["seed"])
    assert made.exit_code == 0, made.output
    [site] = db.session.scalars(select(Site)).all()
    assert (site.code, site.timezone) == ("MAIN", app.config["CLINIC_TIMEZONE"])
    assert "Site: " in made.output
    again = runner.invoke(args=["seed"])
    assert "Site: " not in again.output
    assert db.session.scalar(select(func.count()).select_from(Site)) == 1


def test_users_create_takes_the_sites_by_code(runner):
    lyon = factories.make_site(code="LYON-1")
    command = ["users", "create", "--role", "doctor", "--password", PASSWORD]
    made = runner.invoke(args=[*command, "--username", "dr-lyon", "--site", "LYON-1"])
    assert made.exit_code == 0, made.output
    doctor = db.session.scalar(select(User).where(User.username == "dr-lyon"))
    assert doctor.sites == [lyon]
    unknown = runner.invoke(args=[*command, "--username", "dr-nowhere", "--site", "NOWHERE"])
    assert unknown.exit_code != 0 and "No site with the code NOWHERE" in unknown.output
    chain = runner.invoke(args=[*command, "--username", "dr-unsaid"])
    assert chain.exit_code != 0 and "sites" in chain.output
