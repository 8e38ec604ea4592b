"""Completing a session: the screen again, the procedure recorded, the serum lot consumed in
the same transaction (or nothing at all); cancelling; side effects; the session list."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic.models import SessionStatus, TreatmentSession
from clinic.sessions import complete_session
from core.audit import AuditEntry
from core.database import db
from core.errors import Conflict, Invalid
from inventory import lots
from inventory.models import Movement, MovementKind
from tests import factories

# Sessions of the default course: 3, 10, 17, 24 March 2025; stock factories act on 1 January.
NOW = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 80}


@pytest.fixture
def stocked():
    """A safe patient's course, and its serum on the shelf in two lots."""
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    late = factories.make_lot(product, quantity="5", expiry_date=date(2026, 6, 30))
    early = factories.make_lot(product, quantity="5", expiry_date=date(2025, 12, 31))
    course = factories.make_course(serum=serum)
    return course, product, early, late


def first_session(course) -> TreatmentSession:
    return course.sessions[0]


def consumed(lot) -> Decimal:
    return -(
        db.session.scalar(
            select(func.coalesce(func.sum(Movement.quantity), 0)).where(
                Movement.lot_id == lot.id, Movement.kind == MovementKind.CONSUME
            )
        )
        or 0
    )


def complete(client, headers, session, **fields):
    body = {**PROCEDURE, **fields}
    return client.post(f"/api/sessions/{session.id}/complete", json=body, headers=headers)


def test_completing_takes_the_doses_from_the_first_expiring_lot_in_the_same_request(
    client, login_as, stocked
):
    course, _, early, late = stocked
    session = first_session(course)
    response = complete(client, login_as("doctor"), session, performed_on="2025-03-03")
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["status"], body["lot_id"], body["performed_on"]) == (
        "completed",
        early.id,
        "2025-03-03",
    )
    assert (body["needle_mm"], body["technique"], body["injection_points"]) == (4, "manual", 80)
    assert (consumed(early), consumed(late)) == (1, 0)
    assert early.quantity_on_hand == 4


def test_completing_defaults_to_the_scheduled_date(stocked):
    course, *_ = stocked
    session = first_session(course)
    complete_session(session, factories.make_user(role="doctor"), fields=dict(PROCEDURE), now=NOW)
    assert session.performed_on == date(2025, 3, 3)


def test_a_session_scheduled_after_today_needs_the_day_it_was_performed(stocked):
    course, *_ = stocked
    later = course.sessions[1]  # 10 March
    with pytest.raises(Invalid) as refused:
        complete_session(later, factories.make_user(role="doctor"), fields=dict(PROCEDURE), now=NOW)
    assert "performed_on" in refused.value.errors


def test_performed_on_cannot_be_in_the_future(client, login_as, stocked):
    course, *_ = stocked
    response = complete(
        client, login_as("doctor"), first_session(course), performed_on="2999-01-01"
    )
    assert response.status_code == 422
    assert "performed_on" in response.json["errors"]


def test_a_lot_usable_on_the_performed_day_but_expired_since_can_be_recorded():
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    lot = factories.make_lot(product, expiry_date=date(2025, 3, 3))
    course = factories.make_course(serum=serum)
    later = datetime(2025, 3, 5, 9, 0, tzinfo=UTC)
    session = complete_session(
        first_session(course), factories.make_user(role="doctor"), fields=dict(PROCEDURE), now=later
    )
    assert session.lot_id == lot.id


def test_fefo_skips_a_lot_already_expired_on_the_sessions_date():
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    factories.make_lot(product, expiry_date=date(2025, 3, 2))
    good = factories.make_lot(product, expiry_date=date(2025, 9, 30))
    course = factories.make_course(serum=serum)
    session = complete_session(
        first_session(course), factories.make_user(role="doctor"), fields=dict(PROCEDURE), now=NOW
    )
    assert session.lot_id == good.id


def test_a_completion_refused_as_contraindicated_consumes_nothing(client, login_as, stocked):
    course, _, early, late = stocked
    # An allergy recorded after the course was planned.
    substance = course.serum.components[0].substance
    factories.make_allergy(course.patient, substance)
    response = complete(client, login_as("doctor"), first_session(course))
    assert response.status_code == 409
    assert response.json["verdict"] == "contraindicated"
    assert response.json["reasons"][0]["component"] == substance.name
    db.session.expire_all()
    assert (consumed(early), consumed(late)) == (0, 0)
    assert first_session(course).status == SessionStatus.PLANNED


def test_a_caution_without_an_override_reason_is_a_409_that_consumes_nothing(
    client, login_as, stocked
):
    course, _, early, _ = stocked
    course.patient.alopecia_stage = None
    course.patient.alopecia_scale = None  # eligibility not assessed: caution
    db.session.commit()
    response = complete(client, login_as("doctor"), first_session(course))
    assert response.status_code == 409
    assert response.json["verdict"] == "caution"
    assert "override_reason" in response.json["errors"]
    assert response.json["reasons"][0]["kind"] == "eligibility"
    db.session.expire_all()
    assert consumed(early) == 0


def test_a_caution_override_reason_is_kept_on_the_session_and_in_the_audit_log(
    client, login_as, stocked
):
    course, _, early, _ = stocked
    course.patient.alopecia_stage = None
    course.patient.alopecia_scale = None
    db.session.commit()
    reason = "Stage assessed at the visit: Norwood III, photo in the file."
    response = complete(client, login_as("doctor"), first_session(course), override_reason=reason)
    assert response.status_code == 200
    assert (response.json["override_reason"], response.json["screen_verdict"]) == (
        reason,
        "caution",
    )
    entry = db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.entity == "sessions", AuditEntry.entity_id == str(first_session(course).id)
        )
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.changes["override_reason"]["new"] == reason
    assert entry.username.startswith("doctor-")
    assert consumed(early) == 1


def test_a_completion_short_of_stock_is_a_409_that_changes_nothing(client, login_as):
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    lot = factories.make_lot(product, quantity="1")
    course = factories.make_course(serum=serum)
    response = complete(client, login_as("doctor"), first_session(course), doses=2)
    assert response.status_code == 409
    db.session.expire_all()
    assert (consumed(lot), first_session(course).status) == (0, SessionStatus.PLANNED)


def test_one_session_draws_from_one_lot_that_holds_all_its_doses():
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    factories.make_lot(product, quantity="1", expiry_date=date(2025, 6, 30))
    big = factories.make_lot(product, quantity="5", expiry_date=date(2025, 9, 30))
    course = factories.make_course(serum=serum, doses_per_session=2)
    session = complete_session(
        first_session(course), factories.make_user(role="doctor"), fields=dict(PROCEDURE), now=NOW
    )
    assert (session.lot_id, session.doses, consumed(big)) == (big.id, 2, 2)


def test_a_serum_product_counted_in_ml_gives_the_dose_volume_per_dose():
    serum = factories.make_approved_serum(dose_volume_ml=Decimal("2.5"))
    product = factories.make_serum_product(serum, unit="mL")
    lot = factories.make_lot(product, quantity="10")
    course = factories.make_course(serum=serum)
    complete_session(
        first_session(course), factories.make_user(role="doctor"), fields=dict(PROCEDURE), now=NOW
    )
    assert (consumed(lot), lot.quantity_on_hand) == (Decimal("2.5"), Decimal("7.5"))


def test_a_given_lot_is_used_when_it_is_usable(client, login_as, stocked):
    course, _, early, late = stocked
    response = complete(client, login_as("doctor"), first_session(course), lot_id=late.id)
    assert response.status_code == 200
    assert (consumed(early), consumed(late)) == (0, 1)


def test_a_session_back_dated_before_a_lot_was_received_cannot_use_it(client, login_as):
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    arrived_later = factories.make_lot(product, now=datetime(2025, 3, 10, 9, tzinfo=UTC))
    course = factories.make_course(serum=serum)  # first session 3 March 2025
    headers = login_as("doctor")
    given = complete(client, headers, first_session(course), lot_id=arrived_later.id)
    assert given.status_code == 409
    assert given.get_json()["errors"] == {"lot_id": ["Received after the session's day."]}
    picked = complete(client, headers, first_session(course))
    assert picked.status_code == 409  # FEFO finds no lot that was on the shelf that day
    assert consumed(arrived_later) == 0


def test_a_given_recalled_lot_is_refused_and_nothing_is_consumed(client, login_as, stocked):
    course, _, early, late = stocked
    lots.recall(late.id, "supplier notice")
    db.session.commit()
    response = complete(client, login_as("doctor"), first_session(course), lot_id=late.id)
    assert response.status_code == 409
    db.session.expire_all()
    assert (consumed(early), consumed(late)) == (0, 0)


def test_a_given_lot_of_another_product_is_a_422_naming_lot_id(client, login_as, stocked):
    course, *_ = stocked
    other = factories.make_lot()
    response = complete(client, login_as("doctor"), first_session(course), lot_id=other.id)
    assert response.status_code == 422
    assert "lot_id" in response.json["errors"]


def test_a_serum_nobody_stocks_cannot_be_completed():
    course = factories.make_course()
    with pytest.raises(Conflict, match="No product stocks"):
        complete_session(
            first_session(course),
            factories.make_user(role="doctor"),
            fields=dict(PROCEDURE),
            now=NOW,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("needle_mm", 3.5), ("needle_mm", 14), ("technique", "laser"), ("injection_points", 0)],
)
def test_the_procedure_is_checked(client, login_as, stocked, field, value):
    course, *_ = stocked
    response = complete(client, login_as("doctor"), first_session(course), **{field: value})
    assert response.status_code == 422
    assert field in response.json["errors"]


@pytest.mark.parametrize("needle", [4, 13])
def test_needles_of_4_and_13_mm_are_accepted(stocked, needle):
    course, *_ = stocked
    fields = {**PROCEDURE, "needle_mm": Decimal(needle), "technique": "gun"}
    session = complete_session(
        first_session(course), factories.make_user(role="doctor"), fields=fields, now=NOW
    )
    assert session.needle_mm == needle


def test_a_session_is_completed_only_once(client, login_as, stocked):
    course, _, early, _ = stocked
    headers = login_as("doctor")
    assert complete(client, headers, first_session(course)).status_code == 200
    assert complete(client, headers, first_session(course)).status_code == 409
    assert consumed(early) == 1


@pytest.mark.parametrize(("role", "status"), [("admin", 403), ("pharmacist", 403)])
def test_only_a_doctor_completes_a_session(client, login_as, stocked, role, status):
    course, *_ = stocked
    assert complete(client, login_as(role), first_session(course)).status_code == status


def test_a_planned_session_is_cancelled_with_its_reason(client, login_as, stocked):
    course, *_ = stocked
    response = client.post(
        f"/api/sessions/{first_session(course).id}/cancel",
        json={"reason": "patient unwell"},
        headers=login_as("doctor"),
    )
    assert response.status_code == 200
    assert (response.json["status"], response.json["cancelled_reason"]) == (
        "cancelled",
        "patient unwell",
    )


def test_a_completed_or_cancelled_session_cannot_be_cancelled(client, login_as, stocked):
    course, *_ = stocked
    headers = login_as("doctor")
    done, dropped = course.sessions[0], course.sessions[1]
    assert complete(client, headers, done).status_code == 200
    assert (
        client.post(f"/api/sessions/{dropped.id}/cancel", json={}, headers=headers).status_code
        == 200
    )
    for session in (done, dropped):
        response = client.post(f"/api/sessions/{session.id}/cancel", json={}, headers=headers)
        assert response.status_code == 409


def test_a_cancelled_session_cannot_be_completed(client, login_as, stocked):
    course, *_ = stocked
    headers = login_as("doctor")
    session = first_session(course)
    client.post(f"/api/sessions/{session.id}/cancel", json={}, headers=headers)
    assert complete(client, headers, session).status_code == 409


def test_side_effects_are_recorded_on_a_completed_session(client, login_as, stocked):
    course, *_ = stocked
    headers = login_as("doctor")
    session = first_session(course)
    complete(client, headers, session)
    response = client.post(
        f"/api/sessions/{session.id}/side-effects",
        json={"kind": "hematoma", "severity": "mild", "note": "left temple"},
        headers=headers,
    )
    assert response.status_code == 201
    assert [(e["kind"], e["severity"]) for e in response.json["side_effects"]] == [
        ("hematoma", "mild")
    ]


def test_a_planned_session_has_no_side_effects_yet(client, login_as, stocked):
    course, *_ = stocked
    response = client.post(
        f"/api/sessions/{first_session(course).id}/side-effects",
        json={"kind": "rash", "severity": "mild"},
        headers=login_as("doctor"),
    )
    assert response.status_code == 409


def test_an_unknown_side_effect_kind_is_a_422(client, login_as, stocked):
    course, *_ = stocked
    response = client.post(
        f"/api/sessions/{first_session(course).id}/side-effects",
        json={"kind": "baldness", "severity": "mild"},
        headers=login_as("doctor"),
    )
    assert response.status_code == 422
    assert "kind" in response.json["errors"]


def test_sessions_are_listed_for_a_patient_between_two_dates(client, login_as):
    course = factories.make_course(maintenance_months=2)
    factories.make_course()  # another patient
    response = client.get(
        "/api/sessions",
        query_string={"patient_id": course.patient_id, "from": "2025-03-10", "to": "2025-04-24"},
        headers=login_as("admin"),
    )
    assert response.status_code == 200
    assert [s["scheduled_date"] for s in response.json] == [
        "2025-03-10",
        "2025-03-17",
        "2025-03-24",
        "2025-04-24",
    ]


def test_a_session_list_with_from_after_to_is_a_422(client, login_as):
    response = client.get(
        "/api/sessions",
        query_string={"from": "2025-04-01", "to": "2025-03-01"},
        headers=login_as("doctor"),
    )
    assert response.status_code == 422
    assert "from" in response.json["errors"]


def test_the_session_list_takes_the_same_queries_for_few_sessions_or_many(
    client, login_as, queries_of_get
):
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    factories.make_lot(product, quantity="100", now=datetime(2024, 1, 1, tzinfo=UTC))
    doctor = factories.make_user(role="doctor")
    headers = login_as(doctor)
    patient = factories.make_safe_patient()
    first = factories.make_course(patient, serum, doctor=doctor)
    complete_session(first.sessions[0], doctor, fields=dict(PROCEDURE), now=NOW)
    db.session.commit()

    def measured():
        query = {"patient_id": patient.id}
        count, response = queries_of_get("/api/sessions", query_string=query, headers=headers)
        return count, len(response.json)

    few, few_rows = measured()
    for month in (5, 7, 9):
        course = factories.make_course(
            patient, serum, start_date=date(2024, month, 1), doctor=doctor
        )
        session = course.sessions[0]
        complete_session(session, doctor, fields=dict(PROCEDURE), now=NOW)
        db.session.commit()
        client.post(
            f"/api/sessions/{session.id}/side-effects",
            json={"kind": "redness", "severity": "mild"},
            headers=headers,
        )
    many, many_rows = measured()
    assert many_rows > few_rows
    assert many == few
