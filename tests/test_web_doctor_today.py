"""The doctor's home, Today: the sessions planned today and in the six days after it, across
patients, each with its patient, its serum and the serum's verdict for the patient now,
linking to the patient's page; `?as_of=` looks at another day; the screens are set-based."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clinic.conditions import seed_condition_rules
from clinic.models import PatientCondition
from clinic.sessions import cancel_session, complete_session
from core.database import db
from tests import factories

MONDAY = date(2025, 3, 3)
AS_OF = {"as_of": MONDAY.isoformat()}
LATER = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
DONE = {"needle_mm": Decimal(6), "technique": "gun", "injection_points": 80}


def html(response) -> str:
    return response.get_data(as_text=True)


def section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


def entry(page: str, session_id: int) -> str:
    start = page.index(f'id="agenda-{session_id}"')
    return page[start : page.index("</tr>", start)]


@pytest.fixture
def doctor(sign_in_page):
    return sign_in_page("doctor")


@pytest.fixture
def serum():
    return factories.make_approved_serum(code="VIT-T", name="Vitamin serum")


def test_the_doctor_signs_in_to_today_and_finds_it_in_the_menu(client, doctor):
    home = client.get("/", follow_redirects=True)
    assert home.request.path == "/today"
    menu = html(home)[html(home).index('aria-label="Main"') :]
    assert '<a href="/today">Today</a>' in menu and '<a href="/patients">Patients</a>' in menu


def test_today_lists_the_sessions_planned_today_and_this_week_across_patients(
    client, doctor, serum
):
    ana = factories.make_safe_patient(name="Ana Reis", mrn="MRN-T1")
    bruno = factories.make_safe_patient(name="Bruno Sá", mrn="MRN-T2")
    # Weekly sessions: Ana on 3, 10, 17 and 24 March; Bruno on 24 Feb, 3, 10 and 17 March.
    ana_sessions = factories.make_course(ana, serum, start_date=MONDAY).sessions
    bruno_sessions = factories.make_course(bruno, serum, start_date=date(2025, 2, 24)).sessions

    page = html(client.get("/today", query_string=AS_OF))

    today = section(page, "today")
    assert f'id="agenda-{ana_sessions[0].id}"' in today
    assert f'id="agenda-{bruno_sessions[1].id}"' in today
    assert today.index("Ana Reis") < today.index("Bruno Sá")  # by patient name
    week = section(page, "week")
    assert "to 9 Mar 2025" in week
    assert f'id="agenda-{ana_sessions[1].id}"' not in page  # 10 March: next week
    assert f'id="agenda-{bruno_sessions[0].id}"' not in page  # 24 February: past
    row = entry(page, ana_sessions[0].id)
    assert f'href="/patients/{ana.id}#session-{ana_sessions[0].id}">Ana Reis</a>' in row
    assert "MRN-T1" in row and "Vitamin serum" in row and "badge-safe" in row
    assert "2 sessions planned from 3 Mar 2025 to 9 Mar 2025." in page


def test_the_rest_of_the_week_is_listed_by_day_after_today(client, doctor, serum):
    patient = factories.make_safe_patient(name="Carla Nunes")
    session = factories.make_course(patient, serum, start_date=date(2025, 3, 6)).sessions[0]
    page = html(client.get("/today", query_string=AS_OF))
    assert "No session is planned today." in section(page, "today")
    row = entry(section(page, "week"), session.id)
    assert '<time datetime="2025-03-06">6 Mar 2025</time>' in row


def test_completed_and_cancelled_sessions_are_not_on_the_agenda(client, doctor, serum):
    patient = factories.make_safe_patient()
    factories.make_lot(factories.make_serum_product(serum), quantity="10")
    done, cancelled = factories.make_course(patient, serum, start_date=MONDAY).sessions[:2]
    complete_session(done, doctor=doctor, fields=dict(DONE), now=LATER)
    cancel_session(cancelled, reason="travelling", now=LATER)
    db.session.commit()
    page = html(client.get("/today", query_string={"as_of": "2025-03-09"}))
    assert "No session is planned from 9 Mar 2025 to 15 Mar 2025." in page
    assert 'id="agenda-' not in page


def test_each_session_carries_the_verdict_of_its_serum_for_its_patient_now(client, doctor):
    allergen = factories.make_substance("methylparaben-t")
    unsafe = factories.make_approved_serum(components=[(allergen, 1, "mg")], code="PARA-T")
    patient = factories.make_safe_patient(name="Diana Melo")
    session = factories.make_course(patient, unsafe, start_date=MONDAY).sessions[0]
    unknown = factories.make_patient(name="Eva Rocha")  # allergy history not taken: caution
    other = factories.make_course(unknown, unsafe, start_date=MONDAY).sessions[0]
    # The allergy is recorded after the course was planned: the agenda screens now.
    factories.make_allergy(patient, allergen, criticality="high")

    page = html(client.get("/today", query_string=AS_OF))

    row = entry(page, session.id)
    assert "badge-contraindicated" in row
    assert "Allergy to methylparaben-t: the serum contains methylparaben-t." in row
    caution = entry(page, other.id)
    assert "badge-caution" in caution and "Allergy history not taken" in caution


def test_today_is_the_clinic_s_today_unless_as_of_says_otherwise(client, doctor, serum):
    patient = factories.make_safe_patient(name="Fábio Luz")
    session = factories.make_course(patient, serum, start_date=MONDAY).sessions[0]
    assert f'id="agenda-{session.id}"' not in html(client.get("/today"))  # today is not 2025
    assert f'id="agenda-{session.id}"' in html(client.get("/today", query_string=AS_OF))


def test_a_day_that_is_not_a_date_is_refused(client, doctor):
    response = client.get("/today", query_string={"as_of": "3 March"})
    assert response.status_code == 422
    assert "as_of must be a date written YYYY-MM-DD." in html(response)


def test_today_sends_the_same_number_of_queries_for_few_and_many_sessions_and_patients(
    client, doctor, queries_of_get
):
    seed_condition_rules()
    db.session.commit()

    def plan_for_new_patient(allergic: bool):
        allergen = factories.make_substance()
        serum = factories.make_approved_serum(
            components=[(allergen, 1, "mg"), (factories.make_substance(), 2, "mg")]
        )
        conditions = [] if allergic else [PatientCondition(code="blood_thinner_use")]
        patient = factories.make_safe_patient(conditions=conditions)
        factories.make_course(patient, serum, start_date=MONDAY, induction_sessions=4)
        if allergic:  # recorded after planning: the agenda shows it contraindicated
            factories.make_allergy(patient, allergen, criticality="high")

    plan_for_new_patient(allergic=True)
    plan_for_new_patient(allergic=False)
    few, page = queries_of_get("/today", query_string=AS_OF)
    assert html(page).count('class="agenda-entry') == 2
    for number in range(8):
        plan_for_new_patient(allergic=number % 2 == 0)
    many, page = queries_of_get("/today", query_string=AS_OF)
    assert html(page).count('class="agenda-entry') == 10
    assert html(page).count("badge-contraindicated") == 5
    assert many == few


def test_a_long_week_is_paged(client, doctor, serum):
    for number in range(51):
        patient = factories.make_safe_patient(name=f"Patient {number:02d}")
        factories.make_course(patient, serum, start_date=MONDAY)
    first = html(client.get("/today", query_string=AS_OF))
    assert first.count('class="agenda-entry') == 50
    assert "51 sessions planned from 3 Mar 2025" in first
    assert re.search(r'href="/today\?as_of=2025-03-03&amp;page=2" rel="next"', first)
    second = html(client.get("/today", query_string={**AS_OF, "page": 2}))
    assert second.count('class="agenda-entry') == 1


def test_an_administrator_reads_today_and_a_pharmacist_does_not(client, sign_in_page):
    sign_in_page("admin")
    assert client.get("/today").status_code == 200
    client.post("/logout")
    sign_in_page("pharmacist")
    assert client.get("/today").status_code == 403


# --- in a chain ------------------------------------------------------------------------------


def test_today_shows_the_site_chosen_or_all_the_doctors_sites_saying_which(
    client, sign_in_page, serum
):
    main_site = factories.clinic_site()
    lyon = factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    paris = factories.make_site(code=factories.unique("PARIS-"), name="Paris")
    here = factories.make_course(serum=serum, start_date=MONDAY, site_id=main_site.id)
    there = factories.make_course(serum=serum, start_date=MONDAY, site_id=lyon.id)
    elsewhere = factories.make_course(serum=serum, start_date=MONDAY, site_id=paris.id)
    sign_in_page(factories.make_user(role="doctor", sites=[main_site, lyon]))

    def listed():
        page = html(client.get("/today", query_string=AS_OF))
        return page, {int(found) for found in re.findall(r'id="agenda-(\d+)"', page)}

    page, ids = listed()
    assert ids == {here.sessions[0].id, there.sessions[0].id}
    assert elsewhere.sessions[0].id not in ids  # Paris is not the doctor's
    assert '<th scope="col">Site</th>' in page
    assert '<td data-label="Site" class="agenda-site">Lyon</td>' in entry(
        page, there.sessions[0].id
    )
    client.post("/site", data={"site_id": lyon.id})
    page, ids = listed()
    assert ids == {there.sessions[0].id}
    assert '<th scope="col">Site</th>' not in page


def test_today_at_a_doctors_only_site_names_no_site(client, doctor, serum):
    factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    course = factories.make_course(serum=serum, start_date=MONDAY,
                                   site_id=factories.clinic_site().id)  # fmt: skip
    page = html(client.get("/today", query_string=AS_OF))
    assert f'id="agenda-{course.sessions[0].id}"' in page
    assert '<th scope="col">Site</th>' not in page
