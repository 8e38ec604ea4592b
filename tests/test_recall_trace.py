"""The recall trace: batches made from a lot (at any depth) and every session that used the
lot or such a batch, with the patient's MRN."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clinic.sessions import complete_session
from core.database import db
from inventory.compounding import compound
from inventory.lots import recall
from inventory.models import BatchConsumption
from inventory.trace import trace_recall
from tests import factories

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
PROCEDURE = {"needle_mm": 6, "technique": "gun", "injection_points": 60}


@pytest.fixture
def compounded():
    """A compounded serum made from one biotin lot, and a patient treated with the batch."""
    biotin = factories.make_substance("biotin-t")
    serum = factories.make_approved_serum(components=[(biotin, 10, "mg")], code="TRACE")
    serum_product = factories.make_serum_product(serum)
    component = factories.make_product("component", substance_id=biotin.id, unit="mg")
    biotin_lot = factories.make_lot(component, quantity="1000")
    pharmacist = factories.make_user(role="pharmacist")
    batch = compound(serum, Decimal(5), user=pharmacist, now=NOW, storage="refrigerated")
    factories.check_batch(batch)
    patient = factories.make_safe_patient(mrn="MRN-TRACE-1")
    course = factories.make_course(patient, serum, start_date=date(2025, 3, 3))
    doctor = factories.make_user(role="doctor")
    complete_session(course.sessions[0], doctor, fields=dict(PROCEDURE), now=NOW)
    db.session.commit()
    return {
        "biotin_lot": biotin_lot,
        "batch": batch,
        "serum_product": serum_product,
        "patient": patient,
        "session": course.sessions[0],
    }


def test_a_trace_goes_through_a_batch_to_the_patient_treated_with_it(client, login_as, compounded):
    response = client.get(
        f"/api/lots/{compounded['biotin_lot'].id}/trace", headers=login_as("pharmacist")
    )
    assert response.status_code == 200
    body = response.json
    assert body["lot_id"] == compounded["biotin_lot"].id
    assert [lot["id"] for lot in body["batches"]] == [compounded["batch"].lot_id]
    assert body["sessions"] == [
        {
            "session_id": compounded["session"].id,
            "patient_id": compounded["patient"].id,
            "mrn": "MRN-TRACE-1",
            "patient_name": compounded["patient"].name,
            "date": "2025-03-03",
            "lot_id": compounded["batch"].lot_id,
        }
    ]


def test_a_trace_lists_a_session_that_used_the_lot_itself(compounded):
    from clinic.sessions import sessions_using_lots

    batch_lot = compounded["batch"].lot_id
    trace = trace_recall(batch_lot)
    assert trace.batches == ()
    assert [s.session_id for s in sessions_using_lots(trace.lot_ids)] == [compounded["session"].id]


def test_a_trace_follows_a_batch_made_from_another_batch():
    """A batch that drew on another batch's lot (a dilution of a concentrate): the trace of the
    concentrate's component lot reaches the second batch too. Compounding draws only component
    products today, so the link is recorded directly; the trace must not care how it came."""
    biotin = factories.make_substance("biotin-deep")
    concentrate = factories.make_approved_serum(components=[(biotin, 10, "mg")], code="CONC")
    factories.make_serum_product(concentrate)
    biotin_lot = factories.make_lot(
        factories.make_product("component", substance_id=biotin.id, unit="mg"), quantity="1000"
    )
    saline = factories.make_substance("saline-deep", "excipient")
    diluted = factories.make_approved_serum(components=[(saline, 1, "mL")], code="DIL")
    factories.make_serum_product(diluted)
    saline_lot = factories.make_lot(
        factories.make_product("component", substance_id=saline.id, unit="mL"), quantity="50"
    )
    pharmacist = factories.make_user(role="pharmacist")
    first = compound(concentrate, Decimal(10), user=pharmacist, now=NOW, storage="refrigerated")
    second = compound(diluted, Decimal(3), user=pharmacist, now=NOW, storage="refrigerated")
    db.session.add(
        BatchConsumption(batch_id=second.id, lot_id=first.lot_id, quantity=Decimal(1), unit="dose")
    )
    db.session.commit()
    trace = trace_recall(biotin_lot.id)
    assert [lot.id for lot in trace.batches] == sorted([first.lot_id, second.lot_id])
    assert [lot.id for lot in trace_recall(saline_lot.id).batches] == [second.lot_id]


def test_a_lot_nothing_was_made_from_traces_to_nothing(client, login_as):
    lot = factories.make_lot()
    response = client.get(f"/api/lots/{lot.id}/trace", headers=login_as("admin"))
    assert response.json == {"lot_id": lot.id, "batches": [], "copies": [], "sessions": []}


def test_a_trace_of_an_unknown_lot_is_a_404(client, login_as):
    assert client.get("/api/lots/999999/trace", headers=login_as("admin")).status_code == 404


def test_a_trace_is_for_pharmacists_and_admins(client, login_as):
    lot = factories.make_lot()
    assert client.get(f"/api/lots/{lot.id}/trace", headers=login_as("doctor")).status_code == 403


def test_a_trace_takes_the_same_queries_for_one_patient_or_many(
    login_as, queries_of_get, compounded
):
    headers = login_as("pharmacist")
    url = f"/api/lots/{compounded['biotin_lot'].id}/trace"

    def measured():
        count, response = queries_of_get(url, headers=headers)
        return count, len(response.json["sessions"])

    few, one = measured()
    serum = compounded["batch"].lot.product.serum
    doctor = factories.make_user(role="doctor")
    for _ in range(3):
        course = factories.make_course(serum=serum, start_date=date(2025, 3, 3), doctor=doctor)
        complete_session(course.sessions[0], doctor, fields=dict(PROCEDURE), now=NOW)
        db.session.commit()
    many, four = measured()
    assert (one, four) == (1, 4)
    assert many == few


# --- the trace page and its CSV download (the same domain function as the API) -------------


def sign_in_page(client, role: str):
    user = factories.make_user(role=role)
    response = client.post(
        "/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    return user


def test_the_trace_page_links_each_patient_to_their_page_for_an_administrator(client, compounded):
    sign_in_page(client, "admin")
    page = client.get(f"/stock/lots/{compounded['biotin_lot'].id}/trace").get_data(as_text=True)
    patient, session = compounded["patient"], compounded["session"]
    assert f'<a href="/patients/{patient.id}#session-{session.id}">{patient.name}</a>' in page
    assert '<time datetime="2025-03-03">3 Mar 2025</time>' in page
    assert compounded["batch"].lot.lot_number in page


def test_a_pharmacist_reads_the_names_without_links_to_pages_they_cannot_open(client, compounded):
    sign_in_page(client, "pharmacist")
    page = client.get(f"/stock/lots/{compounded['biotin_lot'].id}/trace").get_data(as_text=True)
    assert compounded["patient"].name in page
    assert f'href="/patients/{compounded["patient"].id}' not in page


def test_the_trace_downloads_as_csv_with_formula_cells_neutralised(client, compounded):
    compounded["patient"].name = '=HYPERLINK("http://evil.example","call")'
    db.session.commit()
    sign_in_page(client, "pharmacist")
    lot = compounded["biotin_lot"]
    page = client.get(f"/stock/lots/{lot.id}/trace").get_data(as_text=True)
    assert f'href="/stock/lots/{lot.id}/trace.csv"' in page

    response = client.get(f"/stock/lots/{lot.id}/trace.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [
        ["date", "record_number", "patient", "lot_used", "product", "site"],
        [
            "2025-03-03",
            "MRN-TRACE-1",
            '\'=HYPERLINK("http://evil.example","call")',
            compounded["batch"].lot.lot_number,
            compounded["serum_product"].name,
            "Main site",
        ],
    ]


def test_the_trace_page_is_for_pharmacists_and_administrators_as_the_api(client, compounded):
    sign_in_page(client, "doctor")
    lot_id = compounded["biotin_lot"].id
    assert client.get(f"/stock/lots/{lot_id}/trace").status_code == 403
    assert client.get(f"/stock/lots/{lot_id}/trace.csv").status_code == 403


def test_a_session_that_used_a_recalled_lot_says_so_on_the_patient_page(client, compounded):
    recall(compounded["batch"].lot_id, reason="supplier notice")
    db.session.commit()
    sign_in_page(client, "admin")
    patient, batch_lot = compounded["patient"], compounded["batch"].lot_id
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f'href="/stock/lots/{batch_lot}/trace" class="recalled-lot">recalled' in page
    client.post("/logout")
    sign_in_page(client, "doctor")
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert '<strong class="recalled-lot">recalled</strong>' in page
