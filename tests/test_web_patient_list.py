"""The patient list: found by part of the name or the record number (the API's search is the
same function), with the birth date, an order to choose, a count and pages of 50; a search it
cannot run is answered next to its field."""

import re
from datetime import date

import pytest

from clinic.models import Patient
from core.database import PAGE_SIZE, db
from tests import factories


def html(response) -> str:
    return response.get_data(as_text=True)


def names(page: str) -> list[str]:
    return re.findall(r'<tr><td><a href="/patients/\d+">([^<]+)</a></td>', page)


@pytest.fixture
def doctor(sign_in_page):
    return sign_in_page("doctor")


@pytest.fixture
def three_patients():
    factories.make_patient(name="Ana Lopez", mrn="MRN-300", birth_date=date(1980, 12, 2))
    factories.make_patient(name="Bruno Diaz", mrn="MRN-100", birth_date=date(1975, 6, 9))
    factories.make_patient(name="Carla Ruiz", mrn="MRN-200")  # no birth date recorded


def test_the_list_shows_each_patient_s_birth_date_as_people_read_it(client, doctor, three_patients):
    page = html(client.get("/patients"))
    assert '<time datetime="1980-12-02">2 Dec 1980</time>' in page
    carla = page[page.index("Carla Ruiz") :]
    assert "not recorded" in carla[: carla.index("</tr>")]


def test_the_list_counts_all_patients_or_those_that_match(client, doctor, three_patients):
    assert "3 patients." in html(client.get("/patients"))
    assert "1 patient match “lop”." in html(client.get("/patients", query_string={"q": "lop"}))
    none = html(client.get("/patients", query_string={"q": "zzz"}))
    assert "No patient match “zzz”." in none and "No patient found." in none


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("name", ["Ana Lopez", "Bruno Diaz", "Carla Ruiz"]),
        ("mrn", ["Bruno Diaz", "Carla Ruiz", "Ana Lopez"]),
        ("born", ["Bruno Diaz", "Ana Lopez", "Carla Ruiz"]),  # unknown birth dates last
        ("youngest", ["Ana Lopez", "Bruno Diaz", "Carla Ruiz"]),
        ("newest", ["Carla Ruiz", "Bruno Diaz", "Ana Lopez"]),
    ],
)
def test_the_list_is_read_in_the_order_chosen(client, doctor, three_patients, order, expected):
    page = html(client.get("/patients", query_string={"sort": order}))
    assert names(page) == expected
    assert re.search(rf'<option selected value="{order}">', page)


def test_an_order_the_list_does_not_offer_is_refused_next_to_its_field(
    client, doctor, three_patients
):
    response = client.get("/patients", query_string={"sort": "salary", "q": "lop"})
    assert response.status_code == 422
    assert re.search(r'id="sort-error">Not a valid choice', html(response))
    assert names(html(response)) == ["Ana Lopez", "Bruno Diaz", "Carla Ruiz"]


def test_a_percent_sign_in_the_search_is_looked_for_as_itself(client, doctor, three_patients):
    factories.make_patient(name="Dora 100% Silva", mrn="MRN-PCT")
    page = html(client.get("/patients", query_string={"q": "0%"}))
    assert names(page) == ["Dora 100% Silva"]


def test_a_long_list_is_paged_and_the_pages_keep_the_search_and_the_order(client, doctor):
    for number in range(PAGE_SIZE + 2):
        factories.make_patient(name=f"Pat {number:03d}", mrn=f"PG-{number:03d}")
    query = {"q": "pat", "sort": "mrn"}
    first = html(client.get("/patients", query_string=query))
    assert len(names(first)) == PAGE_SIZE
    assert f"{PAGE_SIZE + 2} patients match “pat”." in first
    assert "Page 1 of 2" in first
    assert 'href="/patients?q=pat&amp;sort=mrn&amp;page=2" rel="next"' in first
    second = html(client.get("/patients", query_string={**query, "page": 2}))
    assert names(second) == ["Pat 050", "Pat 051"]


def test_the_list_sends_the_same_number_of_queries_for_few_and_many_patients(
    client, doctor, queries_of_get
):
    factories.make_patient()
    few, _ = queries_of_get("/patients", query_string={"sort": "born"})
    for _ in range(20):
        factories.make_patient(birth_date=date(1990, 1, 1))
    many, _ = queries_of_get("/patients", query_string={"sort": "born"})
    assert many == few


def test_the_api_searches_and_orders_patients_with_the_same_function(
    client, login_as, three_patients
):
    headers = login_as("doctor")
    found = client.get("/api/patients", headers=headers, query_string={"q": "MRN-", "sort": "born"})
    assert [p["name"] for p in found.get_json()] == ["Bruno Diaz", "Ana Lopez", "Carla Ruiz"]
    refused = client.get("/api/patients", headers=headers, query_string={"sort": "salary"})
    assert refused.status_code == 422
    assert "sort" in refused.get_json()["errors"]


def test_a_pharmacist_does_not_read_the_patient_list(client, sign_in_page):
    sign_in_page("pharmacist")
    assert client.get("/patients").status_code == 403
    assert db.session.query(Patient).count() == 0
