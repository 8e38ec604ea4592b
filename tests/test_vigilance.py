"""Vigilance: side effects per serum, lot and month (those entered in error not counted), over
a bounded window; the adverse signal, raised once per lot and window when the lot's allergic
reactions or severe side effects reach the clinic's count, with the sessions behind it, from
which the pharmacist recalls the lot."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import flask_migrate
import marshmallow as ma
import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from playwright.sync_api import expect
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from api.schemas.lean import LeanSchema
from app import create_app
from clinic.models import TreatmentSession
from clinic.sessions import complete_session, mark_side_effect_entered_in_error, record_side_effect
from clinic.vigilance import side_effects_by_lot
from config import database_url as driver_url
from core.accounts import Role, create_user
from core.clock import clinic_today, utcnow
from core.database import db
from core.mail import OutboxMessage
from inventory import lots
from inventory.alerts import Alert, AlertKind
from inventory.models import LotStatus
from ops.jobs import run_scan_job
from tests import factories
from tests.test_browser import PASSWORD, sign_in
from tests.test_browser_pages import PHONE, problems_of

# Sessions are performed in spring 2025; the side effects are recorded at the end of June.
NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 80}


@pytest.fixture
def shelf():
    """A serum on the shelf in two lots, and the doctor who treats with it."""
    serum = factories.make_approved_serum(name="Revitalising serum")
    product = factories.make_serum_product(serum)
    return SimpleNamespace(
        serum=serum,
        product=product,
        lot=factories.make_lot(product, quantity="100", lot_number="VIG-A"),
        other=factories.make_lot(product, quantity="100", lot_number="VIG-B"),
        doctor=factories.make_user(role=Role.DOCTOR),
    )


def treated(shelf, day: date, lot=None):
    """A patient's session with the lot (the shelf's first unless given), performed on `day`."""
    return treated_on(SimpleNamespace(**{**vars(shelf), "lot": lot or shelf.lot}), day, now=NOW)


def treated_on(shelf, day: date, *, now: datetime):
    course = factories.make_course(serum=shelf.serum, doctor=shelf.doctor, start_date=day)
    session = course.sessions[0]
    fields = {**PROCEDURE, "performed_on": day, "lot_id": shelf.lot.id}
    complete_session(session, shelf.doctor, fields=fields, now=now)
    db.session.commit()
    return session


def side_effect(shelf, session, kind="redness", severity="mild", now=NOW):
    effect = record_side_effect(
        session, kind, severity=severity, note=None, doctor=shelf.doctor, now=now
    )
    db.session.commit()
    return effect


def signals(lot=None) -> list[Alert]:
    stmt = select(Alert).where(Alert.kind == AlertKind.ADVERSE_SIGNAL).order_by(Alert.id)
    if lot is not None:
        stmt = stmt.where(Alert.lot_id == lot.id)
    return db.session.scalars(stmt).all()


def allergic_sessions(shelf, days: list[date], lot=None) -> list:
    sessions = [treated(shelf, day, lot) for day in days]
    for session in sessions:
        side_effect(shelf, session, "allergic_reaction", "moderate")
    return sessions


# --- the counts ---------------------------------------------------------------------------------


def test_side_effects_are_counted_per_serum_lot_and_month_without_those_entered_in_error(shelf):
    march = [treated(shelf, date(2025, 3, d)) for d in (3, 10, 17)]
    april = treated(shelf, date(2025, 4, 7))
    other = treated(shelf, date(2025, 3, 5), shelf.other)
    side_effect(shelf, march[0], "redness", "mild")
    side_effect(shelf, march[0], "local_pain", "moderate")
    side_effect(shelf, march[1], "hematoma", "mild")
    mistaken = side_effect(shelf, march[2], "rash", "severe")
    mark_side_effect_entered_in_error(mistaken, doctor=shelf.doctor, now=NOW)
    side_effect(shelf, april, "rash", "severe")
    side_effect(shelf, other, "redness", "mild")
    db.session.commit()

    rows = db.session.execute(side_effects_by_lot(date(2025, 1, 1), date(2025, 6, 30))).all()

    assert [(r.lot_number, r.month, r.sessions, r.side_effects) for r in rows] == [
        ("VIG-A", "2025-03", 3, 3),
        ("VIG-A", "2025-04", 1, 1),
        ("VIG-B", "2025-03", 1, 1),
    ]
    march_row = rows[0]
    assert (march_row.mild, march_row.moderate, march_row.severe) == (2, 1, 0)
    assert (march_row.redness, march_row.local_pain, march_row.hematoma, march_row.rash) == (
        1, 1, 1, 0,
    )  # fmt: skip
    assert rows[1].severe == rows[1].rash == 1
    assert {r.serum_name for r in rows} == {"Revitalising serum"}


def test_the_counts_keep_to_the_window_asked_for(shelf):
    before, within = treated(shelf, date(2025, 2, 28)), treated(shelf, date(2025, 3, 1))
    side_effect(shelf, before)
    side_effect(shelf, within)

    rows = db.session.execute(side_effects_by_lot(date(2025, 3, 1), date(2025, 3, 31))).all()

    assert [(r.month, r.sessions, r.side_effects) for r in rows] == [("2025-03", 1, 1)]


# --- the adverse signal -------------------------------------------------------------------------


def test_three_allergic_reactions_with_one_lot_within_30_days_raise_one_signal(shelf):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 12)])
    assert signals() == []

    allergic_sessions(shelf, [date(2025, 3, 31)])

    (signal,) = signals()
    assert (signal.lot_id, signal.site_id, signal.window_start, signal.window_end) == (
        shelf.lot.id, shelf.lot.site_id, date(2025, 3, 3), date(2025, 4, 1),
    )  # fmt: skip
    assert signal.product_id == shelf.product.id
    assert "3 sessions with an allergic reaction or a severe side effect" in signal.message


def test_a_signal_is_raised_once_per_lot_and_window(shelf):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    allergic_sessions(shelf, [date(2025, 3, 6), date(2025, 3, 20)])
    run_scan_job(date(2025, 3, 25), now=NOW)

    assert len(signals()) == 1


def test_a_later_window_raises_a_new_signal(shelf):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    # One more within the first window (it raises nothing), then three after it ends.
    allergic_sessions(shelf, [date(2025, 3, 20), date(2025, 4, 3), date(2025, 4, 10)])
    assert len(signals()) == 1
    allergic_sessions(shelf, [date(2025, 4, 20)])

    assert [s.window_start for s in signals()] == [date(2025, 3, 3), date(2025, 4, 3)]
    assert signals()[1].window_end == date(2025, 5, 2)


def test_no_signal_below_the_count_or_spread_over_more_than_the_window(shelf):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 4, 2)])
    allergic_sessions(shelf, [date(2025, 4, 3)])  # 31 days after the first
    allergic_sessions(shelf, [date(2025, 3, 10)], shelf.other)

    assert signals() == []


def test_mild_side_effects_do_not_signal_but_severe_ones_do(shelf):
    for day in (3, 4, 5):
        side_effect(shelf, treated(shelf, date(2025, 3, day)), "redness", "moderate")
    assert signals() == []

    for day in (6, 7):
        side_effect(shelf, treated(shelf, date(2025, 3, day)), "hematoma", "severe")
    assert signals() == []
    side_effect(shelf, treated(shelf, date(2025, 3, 8)), "local_pain", "severe")

    assert [s.window_start for s in signals()] == [date(2025, 3, 6)]


def test_two_reactions_of_one_session_are_one_patient_for_the_signal(shelf):
    first, _second = allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4)])
    side_effect(shelf, first, "rash", "severe")

    assert signals() == []


@pytest.fixture
def count_of_four(app):
    """The clinic's signal count at 4 while side effects are recorded (the test sets it back
    to 3 to see what the scan makes of them)."""
    app.config["VIGILANCE_SIGNAL_COUNT"] = 4
    yield app.config
    app.config["VIGILANCE_SIGNAL_COUNT"] = 3


def test_a_side_effect_entered_in_error_does_not_count_towards_the_signal(shelf, count_of_four):
    sessions = allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4)])
    mistaken = side_effect(shelf, treated(shelf, date(2025, 3, 5)), "allergic_reaction", "mild")
    mark_side_effect_entered_in_error(mistaken, doctor=shelf.doctor, now=NOW)
    db.session.commit()
    count_of_four["VIGILANCE_SIGNAL_COUNT"] = 3

    run_scan_job(date(2025, 3, 6), now=NOW)
    side_effect(shelf, sessions[0], "rash", "severe")  # the same patient again

    assert signals() == []


def test_the_daily_scan_raises_a_signal_the_recording_did_not(shelf, count_of_four):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    assert signals() == []
    count_of_four["VIGILANCE_SIGNAL_COUNT"] = 3  # the clinic lowered its count

    run = run_scan_job(date(2025, 3, 10), now=NOW)
    again = run_scan_job(date(2025, 3, 11), now=NOW)

    (signal,) = signals()
    assert signal.scan_run_id == run.id
    assert run.counts["adverse_signal"] == 1
    assert again.counts["adverse_signal"] == 0


def test_a_signal_the_scan_raises_is_in_its_digest(shelf, count_of_four):
    factories.make_user(role=Role.PHARMACIST, email="pharmacy@clinic.example", alert_emails=True)
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    count_of_four["VIGILANCE_SIGNAL_COUNT"] = 3

    run_scan_job(date(2025, 3, 10), now=NOW)

    (digest,) = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == "pharmacy@clinic.example")
    ).all()
    assert "1 adverse_signal" in digest.subject
    assert f"- adverse_signal: {shelf.product.name}; lot VIG-A;" in digest.body


def test_a_signal_raised_by_a_side_effect_is_mailed_at_once(shelf):
    factories.make_user(role=Role.PHARMACIST, email="pharmacy@clinic.example", alert_emails=True)
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])

    subjects = db.session.scalars(
        select(OutboxMessage.subject).where(OutboxMessage.recipient == "pharmacy@clinic.example")
    ).all()
    assert subjects == [f"Adverse signal: lot VIG-A of {shelf.product.name}"]


def test_the_signal_lists_the_sessions_behind_it(client, login_as, shelf):
    sessions = allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    side_effect(shelf, treated(shelf, date(2025, 3, 6)), "redness", "mild")  # not behind it
    (signal,) = signals()

    answer = client.get(f"/api/alerts/{signal.id}", headers=login_as(Role.PHARMACIST))

    assert answer.status_code == 200
    assert answer.json["kind"] == "adverse_signal"
    assert answer.json["lot_id"] == shelf.lot.id
    assert answer.json["window_start"] == "2025-03-03"
    assert [s["session_id"] for s in answer.json["sessions"]] == [s.id for s in sessions]
    assert answer.json["sessions"][0]["side_effects"] == [
        {"kind": "allergic_reaction", "severity": "moderate"}
    ]
    assert answer.json["sessions"][0]["patient_mrn"] == sessions[0].patient.mrn


# --- the API ------------------------------------------------------------------------------------


def test_the_api_answers_side_effects_per_serum_lot_and_month(client, login_as, shelf):
    session = treated(shelf, date(2025, 3, 3))
    side_effect(shelf, session, "allergic_reaction", "moderate")
    side_effect(shelf, session, "redness", "mild")

    answer = client.get(
        "/api/vigilance", query_string={"from": "2025-03-01", "to": "2025-03-31"},
        headers=login_as(Role.DOCTOR),
    )  # fmt: skip

    assert answer.status_code == 200
    (row,) = answer.json
    assert (row["serum_id"], row["lot_id"], row["lot_number"], row["month"]) == (
        shelf.serum.id, shelf.lot.id, "VIG-A", "2025-03",
    )  # fmt: skip
    assert (row["sessions"], row["side_effects"]) == (1, 2)
    assert row["by_severity"] == {"mild": 1, "moderate": 1, "severe": 0}
    assert row["by_kind"]["allergic_reaction"] == row["by_kind"]["redness"] == 1


def test_the_lean_dumps_answer_what_marshmallows_own_dump_gives(
    client, login_as, shelf, monkeypatch
):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    side_effect(shelf, treated(shelf, date(2025, 4, 6), shelf.other), "rash", "severe")
    headers = login_as(Role.ADMIN)
    urls = ["/api/vigilance?from=2025-01-01&to=2025-06-30", "/api/alerts"]
    lean = [client.get(url, headers=headers).get_data() for url in urls]

    monkeypatch.setattr(LeanSchema, "dump", ma.Schema.dump)

    assert [client.get(url, headers=headers).get_data() for url in urls] == lean
    assert b"2025-04" in lean[0] and b'"window_start":"2025-03-03"' in lean[1]


@pytest.mark.parametrize(
    "window",
    [
        {"from": "2025-03-02", "to": "2025-03-01"},  # to before from
        {"from": "2024-01-01", "to": "2025-01-01"},  # 367 days
        {"to": "2025-03-01", "from": "2023-01-01"},
    ],
)
def test_a_window_that_ends_before_it_starts_or_exceeds_a_year_is_a_422_naming_to(
    client, login_as, window
):
    answer = client.get("/api/vigilance", query_string=window, headers=login_as(Role.PHARMACIST))

    assert answer.status_code == 422
    assert list(answer.json["errors"]) == ["to"]


def test_a_window_of_a_year_is_accepted(client, login_as):
    answer = client.get(
        "/api/vigilance", query_string={"from": "2024-01-01", "to": "2024-12-31"},
        headers=login_as(Role.ADMIN),
    )  # fmt: skip

    assert answer.status_code == 200
    assert answer.json == []


# --- the pages ----------------------------------------------------------------------------------


def test_the_page_shows_side_effects_per_serum_and_per_lot_with_links_to_the_lot(
    client, sign_in_page, shelf
):
    side_effect(shelf, treated(shelf, date(2025, 3, 3)), "allergic_reaction", "severe")
    side_effect(shelf, treated(shelf, date(2025, 4, 3), shelf.other), "redness", "mild")
    sign_in_page(Role.PHARMACIST)

    page = client.get("/vigilance", query_string={"from": "2025-01-01", "to": "2025-06-30"})

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('class="serum-row"') == 1
    assert html.count('class="lot-month-row"') == 2
    assert f'href="/stock/lots/{shelf.lot.id}">VIG-A</a>' in html
    assert "March 2025" in html and "April 2025" in html


def test_a_doctor_reads_the_page_without_links_to_the_pharmacy(client, sign_in_page, shelf):
    side_effect(shelf, treated(shelf, date(2025, 3, 3)))
    sign_in_page(Role.DOCTOR)

    window = {"from": "2025-03-01", "to": "2025-03-31"}
    html = client.get("/vigilance", query_string=window).get_data(as_text=True)

    assert "VIG-A" in html and "/stock/lots/" not in html


def test_the_page_says_what_is_wrong_with_the_window_next_to_the_field(client, sign_in_page):
    sign_in_page(Role.DOCTOR)

    page = client.get("/vigilance", query_string={"from": "2025-03-02", "to": "2025-03-01"})

    assert page.status_code == 422
    assert 'id="to-error">Before `from` (2 Mar 2025).' in page.get_data(as_text=True)


def test_the_inbox_shows_the_signal_with_its_sessions_and_the_lots_recall(
    client, sign_in_page, shelf
):
    sessions = allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    sign_in_page(Role.PHARMACIST)

    html = client.get("/alerts").get_data(as_text=True)

    assert "Adverse signal" in html
    assert "The 3 sessions behind it" in html
    assert all(session.patient.name in html for session in sessions)
    assert f'action="/stock/lots/{shelf.lot.id}/recall"' in html


def test_an_administrator_reads_the_signal_without_the_recall(client, sign_in_page, shelf):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    sign_in_page(Role.ADMIN)

    html = client.get("/alerts").get_data(as_text=True)

    assert "The 3 sessions behind it" in html and "/recall" not in html


def test_the_pharmacist_recalls_the_lot_from_the_signal_after_saying_yes(
    client, sign_in_page, shelf
):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    sign_in_page(Role.PHARMACIST)
    reason = {"recall-reason": "Adverse signal: 3 allergic reactions in March."}

    asked = client.post(f"/stock/lots/{shelf.lot.id}/recall", data=reason)
    assert asked.status_code == 200 and "Recall lot VIG-A?" in asked.get_data(as_text=True)
    db.session.refresh(shelf.lot)
    assert shelf.lot.status == LotStatus.AVAILABLE

    done = client.post(f"/stock/lots/{shelf.lot.id}/recall", data={**reason, "confirmed": "yes"})

    assert done.status_code == 302
    db.session.refresh(shelf.lot)
    assert shelf.lot.status == LotStatus.RECALLED
    assert [a.kind for a in db.session.scalars(select(Alert).order_by(Alert.id))] == [
        AlertKind.ADVERSE_SIGNAL, AlertKind.RECALL,
    ]  # fmt: skip


# --- in a browser -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.server
def test_a_pharmacist_opens_the_signal_from_the_inbox_and_recalls_the_lot(
    live_app, browser, live_server
):
    with live_app.app_context():
        create_user("pharmacist-signal", "pharmacist", password=PASSWORD)
        serum = factories.make_approved_serum(name="Revitalising serum")
        product = factories.make_serum_product(serum)
        here = SimpleNamespace(
            serum=serum, doctor=factories.make_user(role=Role.DOCTOR),
            lot=factories.make_lot(
                product, quantity="50", lot_number="SIG-1", now=utcnow() - timedelta(days=10)
            ),
        )  # fmt: skip
        today, now = clinic_today(), utcnow()
        for back in (3, 2, 1):
            session = treated_on(here, today - timedelta(days=back), now=now)
            record_side_effect(
                session, "allergic_reaction", severity="moderate", note=None,
                doctor=here.doctor, now=now,
            )  # fmt: skip
            db.session.commit()
        patients = [s.patient.name for s in db.session.scalars(select(TreatmentSession))]

    # On a phone; axe is injected, so this context lets it past the Content-Security-Policy.
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    sign_in(page, "pharmacist-signal")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    row = page.locator(".alert-row", has_text="Adverse signal")
    expect(row).to_contain_text("Lot SIG-1 of")
    assert problems_of(page, "/alerts") == []
    row.get_by_text("The 3 sessions behind it").click()
    for name in patients:
        expect(row).to_contain_text(name)

    row.get_by_role("button", name="Recall lot SIG-1").click()

    expect(page.locator(".flash-success")).to_contain_text("is recalled")
    assert questions == ["Recall lot SIG-1? It can never be used again."]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Side effects").click()
    expect(page.locator(".lot-month-row")).to_contain_text(["SIG-1"])
    assert problems_of(page, "/vigilance") == []
    context.close()


def test_the_pharmacist_puts_the_lot_in_quarantine_from_the_signal(client, sign_in_page, shelf):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    sign_in_page(Role.PHARMACIST)
    html = client.get("/alerts").get_data(as_text=True)
    assert f'action="/stock/lots/{shelf.lot.id}/quarantine"' in html
    reason = re.search(r'name="quarantine-reason" value="([^"]+)"', html).group(1)

    done = client.post(f"/stock/lots/{shelf.lot.id}/quarantine", data={"quarantine-reason": reason})

    assert done.status_code == 302
    db.session.refresh(shelf.lot)
    assert (shelf.lot.status, shelf.lot.status_reason) == (
        LotStatus.QUARANTINE,
        "Adverse signal: 3 sessions with an allergic reaction or a severe side effect from "
        "3 Mar 2025 to 1 Apr 2025.",
    )


def test_a_quarantined_lot_is_released_again_and_only_an_available_lot_is_quarantined(
    client, login_as, shelf
):
    headers = login_as(Role.PHARMACIST)
    url = f"/api/lots/{shelf.lot.id}"

    held = client.post(f"{url}/quarantine", json={"reason": "adverse signal"}, headers=headers)
    again = client.post(f"{url}/quarantine", json={"reason": "adverse signal"}, headers=headers)
    released = client.post(f"{url}/release", headers=headers)

    assert (held.status_code, held.json["status"], held.json["status_reason"]) == (
        200, "quarantine", "adverse signal",
    )  # fmt: skip
    assert again.status_code == 409
    assert (released.json["status"], released.json["status_reason"]) == ("available", None)
    no_reason = client.post(f"{url}/quarantine", json={"reason": " "}, headers=headers)
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]


def test_the_signal_offers_only_what_its_lot_can_still_go_through(client, sign_in_page, shelf):
    allergic_sessions(shelf, [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)])
    lots.quarantine(shelf.lot.id, "adverse signal")
    db.session.commit()
    sign_in_page(Role.PHARMACIST)

    html = client.get("/alerts").get_data(as_text=True)

    assert "/quarantine" not in html and f"/stock/lots/{shelf.lot.id}/recall" in html


# --- at once ------------------------------------------------------------------------------------

AT_ONCE = 6


@pytest.mark.server
def test_reactions_recorded_at_once_raise_the_signal_once_and_never_lose_it(live_app, live_server):
    """Each recording locks the lot before it counts: the last to count sees the others, and
    a signal raised keeps the window's other reactions from raising a second one."""
    with live_app.app_context():
        create_user("racing-doctor", "doctor", password=PASSWORD)
        serum = factories.make_approved_serum(name="Revitalising serum")
        product = factories.make_serum_product(serum)
        today, now = clinic_today(), utcnow()
        here = SimpleNamespace(
            serum=serum, doctor=factories.make_user(role=Role.DOCTOR),
            lot=factories.make_lot(product, quantity="50", now=now - timedelta(days=20)),
        )  # fmt: skip
        session_ids = [
            treated_on(here, today - timedelta(days=day), now=now).id for day in range(AT_ONCE)
        ]
        lot_id, first_day = here.lot.id, today - timedelta(days=AT_ONCE - 1)
    token = live_server.token("racing-doctor", PASSWORD)

    def react(session_id):
        body = {"kind": "allergic_reaction", "severity": "moderate"}
        return live_server.request(
            "POST", f"/api/sessions/{session_id}/side-effects", body, token=token
        )

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        answers = list(pool.map(react, session_ids))

    assert [status for status, _ in answers] == [201] * AT_ONCE, answers
    with live_app.app_context():
        (signal,) = db.session.scalars(
            select(Alert).where(Alert.kind == AlertKind.ADVERSE_SIGNAL, Alert.lot_id == lot_id)
        ).all()
        # Its window starts on a reaction's day: the earliest one committed when the count was
        # reached (the order they commit in is the race's).
        assert first_day <= signal.window_start <= first_day + timedelta(days=AT_ONCE - 3)


# --- the migration ------------------------------------------------------------------------------


def signal_revisions() -> tuple[str, str]:
    """(the revision before this feature's migration, its own), found by its file name."""
    config = current_app.extensions["migrate"].migrate.get_config()
    for script in ScriptDirectory.from_config(config).walk_revisions():
        if Path(script.path).name.endswith("_adverse_signals.py"):
            return script.down_revision, script.revision
    raise AssertionError("the adverse signals migration is missing")


SIGNAL_ROW = (
    "INSERT INTO alerts (kind, product_id, lot_id, site_id, threshold_days, window_start,"
    " resolved, status, as_of, created_at) VALUES ('adverse_signal', 1, 7, 1, 30, '2025-03-03',"
    " false, 'open', '2025-03-05', CURRENT_TIMESTAMP)"
)


@pytest.mark.own_database
def test_the_migration_keeps_the_alerts_and_tells_a_signal_once_per_lot_and_window(scratch_db):
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(scratch_db)})
    with app.app_context():
        try:
            before, revision = signal_revisions()
            flask_migrate.upgrade(revision=before)
            db.session.execute(text(
                "INSERT INTO alerts (kind, product_id, lot_id, site_id, threshold_days, resolved,"
                " status, as_of, created_at) VALUES ('expiring', 1, 7, 1, 30, false, 'open',"
                " '2025-03-05', CURRENT_TIMESTAMP)"
            ))  # fmt: skip
            db.session.commit()
            flask_migrate.upgrade(revision=revision)
            assert db.session.execute(text("SELECT kind, window_start FROM alerts")).all() == [
                ("expiring", None)
            ]
            db.session.execute(text(SIGNAL_ROW))
            db.session.commit()
            with pytest.raises(IntegrityError):
                db.session.execute(text(SIGNAL_ROW))
            db.session.rollback()
            db.session.remove()
            flask_migrate.downgrade(revision=before)
            kinds = db.session.scalars(text("SELECT kind FROM alerts ORDER BY id")).all()
            assert kinds == ["expiring", "adverse_signal"]
            db.session.remove()
            flask_migrate.upgrade()
        finally:
            db.session.remove()
            db.engine.dispose()
