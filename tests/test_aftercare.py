"""The printable aftercare sheet of a session: SPEC 3.6's advice, the patient, the date and
the serum, for signed-in doctors and administrators."""

import pytest

from tests import factories


def sign_in(client, user):
    response = client.post(
        "/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


@pytest.fixture
def session():
    patient = factories.make_safe_patient(name="Ana Pereira", mrn="MRN-AFTER-1")
    serum = factories.make_approved_serum(name="Biotin revitalising serum")
    return factories.make_course(patient, serum).sessions[0]


@pytest.mark.parametrize("role", ["doctor", "admin"])
def test_the_aftercare_sheet_gives_the_advice_before_and_after_a_session(client, session, role):
    sign_in(client, factories.make_user(role=role))
    page = client.get(f"/sessions/{session.id}/aftercare")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for advice in (
        "Limit aspirin and other blood thinners",
        "Wash your hair the day before or on the morning of the session",
        "Do not wash your hair (no shampoo) for 48 hours",
        "No swimming and no sauna for 48 hours",
    ):
        assert advice in html
    assert "Ana Pereira" in html and "MRN-AFTER-1" in html
    assert "Biotin revitalising serum" in html
    assert 'datetime="2025-03-03"' in html


def test_the_aftercare_sheet_links_its_print_stylesheet(client, session):
    sign_in(client, factories.make_user(role="doctor"))
    html = client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    assert 'href="/static/print.css" media="print"' in html
    stylesheet = client.get("/static/print.css")
    assert stylesheet.status_code == 200
    assert "@media print" in stylesheet.get_data(as_text=True)
    stylesheet.close()


def test_the_aftercare_sheet_needs_a_signed_in_user(client, session):
    response = client.get(f"/sessions/{session.id}/aftercare")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_pharmacist_does_not_read_a_patients_aftercare_sheet(client, session):
    sign_in(client, factories.make_user(role="pharmacist"))
    assert client.get(f"/sessions/{session.id}/aftercare").status_code == 403


def test_the_aftercare_sheet_of_an_unknown_session_is_a_404(client):
    sign_in(client, factories.make_user(role="doctor"))
    assert client.get("/sessions/999999/aftercare").status_code == 404


@pytest.fixture
def letterhead(app):
    keys = ("CLINIC_NAME", "CLINIC_ADDRESS", "CLINIC_PHONE")
    saved = {key: app.config[key] for key in keys}
    app.config.update(
        CLINIC_NAME="Clínica Capilar Porto",
        CLINIC_ADDRESS="Rua das Flores 12, 4050-262 Porto",
        CLINIC_PHONE="+351 22 000 0000",
    )
    yield
    app.config.update(saved)


def test_the_aftercare_sheet_is_on_the_clinic_s_letterhead(client, session, letterhead):
    sign_in(client, factories.make_user(role="doctor"))
    html = client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    head = html[
        html.index('class="letterhead"') : html.index("</header>", html.index("letterhead"))
    ]
    assert "Clínica Capilar Porto" in head
    assert "Rua das Flores 12, 4050-262 Porto" in head
    assert '<a href="tel:+351220000000">+351 22 000 0000</a>' in head
    assert "Call Clínica Capilar Porto at once on +351 22 000 0000 if you notice" in html


def test_without_a_configured_clinic_the_sheet_has_no_letterhead(client, session):
    sign_in(client, factories.make_user(role="doctor"))
    html = client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    assert 'class="letterhead"' not in html
    assert "Call the clinic at once if you notice" in html


def test_the_aftercare_sheet_names_the_doctor_and_the_next_planned_session(client):
    planner = factories.make_user(role="doctor", username="dr-rita")
    patient = factories.make_safe_patient()
    course = factories.make_course(patient, doctor=planner)
    first, last = course.sessions[0], course.sessions[-1]
    sign_in(client, factories.make_user(role="doctor"))

    html = client.get(f"/sessions/{first.id}/aftercare").get_data(as_text=True)
    assert "<dt>Your doctor</dt><dd>dr-rita</dd>" in html
    assert '<dt>Next session</dt><dd><time datetime="2025-03-10">10 Mar 2025</time>' in html
    assert '<time datetime="2025-03-03">3 Mar 2025</time>' in html

    html = client.get(f"/sessions/{last.id}/aftercare").get_data(as_text=True)
    assert "<dt>Next session</dt><dd>none planned yet" in html


def test_the_aftercare_sheet_has_a_print_button_its_script_shows(client, session):
    sign_in(client, factories.make_user(role="doctor"))
    html = client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    head = html[: html.index("</head>")]
    assert '<script src="/static/print.js" defer></script>' in head
    assert '<button type="button" id="print-sheet" hidden>Print</button>' in html
    script = client.get("/static/print.js")
    assert script.status_code == 200 and "window.print()" in script.get_data(as_text=True)
    script.close()


def test_a_french_patients_sheet_is_in_french(client, app, monkeypatch):
    from clinic.models import Language

    monkeypatch.setitem(app.config, "CLINIC_NAME", "Clinique du Marais")
    monkeypatch.setitem(app.config, "CLINIC_PHONE", "+33 1 23 45 67 89")
    patient = factories.make_safe_patient(name="Chloé Martin", language=Language.FR)
    session = factories.make_course(patient).sessions[0]
    sign_in(client, factories.make_user(role="doctor"))
    html = client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    for text in (
        "<h1>Conseils après la séance</h1>",
        '<time datetime="2025-03-03">3 mars 2025</time>',
        "Lavez-vous les cheveux la veille ou le matin de la séance.",
        "Ne lavez pas vos cheveux (pas de shampoing) pendant 48 heures.",
        "Appelez immédiatement Clinique du Marais au +33 1 23 45 67 89",
    ):
        assert text in html
    # The staff's own words on the page stay English.
    assert "Print this page with your browser" in html
