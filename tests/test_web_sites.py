"""The administrator's sites pages (list, add, edit) and the sites on the user forms."""

import re

import pytest
from sqlalchemy import select

from core.accounts import User
from core.database import db
from core.sites import Site
from tests import factories

PASSWORD = "a long enough password"


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def admin(sign_in_page):
    return sign_in_page("admin")


def site_form(**fields) -> dict:
    return {"code": "lyon-1", "name": "Lyon Part-Dieu", "timezone": "Europe/Paris", **fields}


def site_named(name: str) -> Site:
    return db.session.scalar(select(Site).where(Site.name == name))


def test_the_sites_pages_are_for_administrators(client, sign_in_page):
    site = factories.clinic_site()
    sign_in_page("pharmacist")
    for path in ("/admin/sites", f"/admin/sites/{site.id}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "This page is for administrators." in html(response)
    assert client.post("/admin/sites", data=site_form()).status_code == 403


def test_the_navigation_leads_an_administrator_to_the_sites(client, admin):
    page = html(client.get("/admin"))
    assert '<a href="/admin/sites">Sites</a>' in page


def test_an_administrator_adds_a_site_and_finds_it_listed_by_name(client, admin):
    response = client.post(
        "/admin/sites",
        data=site_form(address="5 place Charles Béraudier", phone=" +33 4 00 00 00 00 "),
    )
    assert response.status_code == 302
    site = site_named("Lyon Part-Dieu")
    assert (site.code, site.timezone, site.phone) == ("LYON-1", "Europe/Paris", "+33 4 00 00 00 00")
    listed = html(client.get("/admin/sites"))
    assert "Lyon Part-Dieu" in listed and "<code>LYON-1</code>" in listed
    assert f'href="/admin/sites/{site.id}"' in listed
    assert factories.clinic_site().name in listed


def test_the_add_form_offers_the_clinics_time_zone_first(client, admin, app, monkeypatch):
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Europe/Lisbon")
    page = html(client.get("/admin/sites"))
    assert re.search(
        r'<option selected value="Europe/Lisbon">|<option value="Europe/Lisbon" selected', page
    )


def test_site_form_errors_are_shown_next_to_their_fields(client, admin):
    wrong = client.post("/admin/sites", data=site_form(code="lyon 1", name="", timezone="Mars"))
    assert wrong.status_code == 422
    page = html(wrong)
    assert 'id="code-error">Not a site code.' in page
    assert 'id="name-error">' in page and 'id="timezone-error">' in page
    factories.make_site(code="TAKEN-1")
    taken = client.post("/admin/sites", data=site_form(code="taken-1"))
    assert taken.status_code == 409 and 'id="code-error">Taken.' in html(taken)
    assert site_named("Lyon Part-Dieu") is None


def test_an_administrator_edits_a_site_on_its_page(client, admin):
    site = factories.make_site(name="Porto Boavista", code="PORTO-1", timezone="Europe/Lisbon")
    page = html(client.get(f"/admin/sites/{site.id}"))
    assert 'value="Porto Boavista"' in page and "History of this site" in page
    saved = client.post(
        f"/admin/sites/{site.id}",
        data={"code": "PORTO-1", "name": "Porto Foz", "timezone": "Europe/Lisbon", "phone": ""},
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert (site.name, site.phone) == ("Porto Foz", None)
    other = factories.make_site(code="OTHER-1")
    taken = client.post(f"/admin/sites/{other.id}", data=site_form(code="PORTO-1", name=other.name))
    assert taken.status_code == 409 and 'id="code-error">Taken.' in html(taken)
    history = html(client.get("/admin/audit", query_string={"entity": "sites"}))
    assert "Changed site Porto Foz" in history and "Created site Porto Foz" in history


def test_the_user_form_ticks_sites_by_name_and_explains_every_site(client, admin):
    lyon = factories.make_site(name="Lyon Part-Dieu")
    page = html(client.get("/admin/users"))
    assert re.search(rf'<input id="site_ids-\d+" name="site_ids" type="checkbox" value="{lyon.id}">'
                     r'\s*<label for="site_ids-\d+">Lyon Part-Dieu</label>', page)  # fmt: skip
    assert "An administrator with none ticked works at every site." in page


def test_an_administrator_creates_a_doctor_at_two_sites(client, admin):
    first, lyon = factories.clinic_site(), factories.make_site(name="Lyon Part-Dieu")
    response = client.post(
        "/admin/users",
        data={"username": "dr-two-sites", "role": "doctor", "password": PASSWORD,
              "site_ids": [str(first.id), str(lyon.id)]},
    )  # fmt: skip
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "dr-two-sites"))
    assert {site.id for site in user.sites} == {first.id, lyon.id}
    listed = html(client.get("/admin/users"))
    assert re.search(r"dr-two-sites</a></td><td>doctor</td>\s*<td>Lyon Part-Dieu, ", listed)
    assert re.search(rf"{admin.username}</a></td><td>admin</td>\s*<td>every site</td>", listed)


def test_in_a_chain_a_pharmacist_without_a_site_is_refused_next_to_the_sites(client, admin):
    factories.make_site()
    response = client.post(
        "/admin/users", data={"username": "no-site", "role": "pharmacist", "password": PASSWORD}
    )
    assert response.status_code == 422
    assert re.search(r'id="site_ids-error">Choose the sites they work at', html(response))
    assert db.session.scalar(select(User).where(User.username == "no-site")) is None


def test_the_user_page_shows_their_sites_ticked_and_saves_new_ones(client, admin):
    first, lyon = factories.clinic_site(), factories.make_site(name="Lyon Part-Dieu")
    doctor = factories.make_user(role="doctor")
    page = html(client.get(f"/admin/users/{doctor.id}"))
    assert re.search(rf'<input checked id="site_ids-\d+" name="site_ids" type="checkbox" '
                     rf'value="{first.id}">', page)  # fmt: skip
    assert f"at {first.name}." in page
    saved = client.post(
        f"/admin/users/{doctor.id}", data={"role": "doctor", "site_ids": [str(lyon.id)]}
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert [site.id for site in doctor.sites] == [lyon.id]
    emptied = client.post(f"/admin/users/{doctor.id}", data={"role": "doctor"})
    assert emptied.status_code == 422 and 'id="site_ids-error">' in html(emptied)


def test_the_users_page_reads_everyones_sites_in_the_same_number_of_queries(
    client, admin, queries_of_get
):
    def measure():
        return queries_of_get("/admin/users")[0]

    few = measure()
    lyon = factories.make_site()
    for _ in range(8):
        factories.make_user(role="pharmacist", sites=[factories.clinic_site(), lyon])
    assert measure() == few
