"""The alert pages of the web interface: the inbox (administrators and pharmacists), its filters
and acknowledgements, and the administrator's overview with open alerts, scan history, health
and a scan on demand. The clinic's today is fixed with time-machine where a page scans."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app import create_app
from config import database_url as driver_url
from core.database import db
from inventory.alerts import Alert, AlertStatus, ScanOutcome, ScanRun
from tests import factories

TODAY = date(2025, 6, 1)
# Morning in the clinic (UTC by default): the clinic's today is TODAY.
NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def html(response) -> str:
    return response.get_data(as_text=True)


def sign_in_as(client, user) -> None:
    """Sign out whoever is signed in, then sign in as this user (Flask-Login keeps the user
    of the first sign-in on a client otherwise)."""
    client.post("/logout")
    response = client.post(
        "/login", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def alert_at(moment: datetime, kind: str = "expiring", **fields) -> Alert:
    return factories.make_alert(kind, created_at=moment, **fields)


def acknowledged(user, **fields) -> Alert:
    return factories.make_alert(
        status=AlertStatus.ACKNOWLEDGED,
        acknowledged_by_id=user.id,
        acknowledged_at=datetime(2025, 5, 30, 14, 5, tzinfo=UTC),
        **fields,
    )


def inbox_ids(client, **query) -> list[int]:
    page = html(client.get("/alerts", query_string=query))
    return [int(found) for found in re.findall(r'<tr id="alert-(\d+)"', page)]


def scan_runs() -> list[ScanRun]:
    db.session.expire_all()
    return db.session.scalars(select(ScanRun).order_by(ScanRun.id)).all()


# --- who reads the inbox -----------------------------------------------------------------------


def test_doctors_get_a_403_page_for_the_inbox_and_its_acknowledgement(client, sign_in_page):
    alert = factories.make_alert()
    sign_in_page("doctor")
    response = client.get("/alerts")
    assert response.status_code == 403
    assert "This page is for administrators and pharmacists." in html(response)
    assert client.post(f"/alerts/{alert.id}/ack").status_code == 403
    assert db.session.get(Alert, alert.id).status == AlertStatus.OPEN


def test_only_an_administrator_runs_the_scan_from_the_web(client, sign_in_page):
    sign_in_page("pharmacist")
    assert client.post("/admin/scan").status_code == 403
    assert scan_runs() == []


def test_the_inbox_asks_a_visitor_to_sign_in(client):
    response = client.get("/alerts")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_pharmacist_reads_each_alert_with_a_link_to_its_lot(client, sign_in_page):
    product = factories.make_product(kind="consumable", name="Needle 30G 4 mm", unit="piece")
    lot = factories.make_lot(product, lot_number="N-24", expiry_date=date(2025, 6, 20))
    factories.make_alert(lot=lot, threshold_days=30)
    sign_in_page("pharmacist")
    page = html(client.get("/alerts"))
    assert "Lot N-24 of Needle 30G 4 mm reaches its last day of use on 2025-06-20" in page
    assert f'<a href="/stock/lots/{lot.id}">N-24</a>' in page
    assert "Expiring · 30 d" in page and "<td>Needle 30G 4 mm</td>" in page


def test_an_administrators_lot_link_leads_to_the_lot_page_read_only(client, sign_in_page):
    lot = factories.make_lot(lot_number="HA-1")
    factories.make_alert("expired", lot=lot)
    sign_in_page("admin")
    page = html(client.get("/alerts"))
    assert f'<a href="/stock/lots/{lot.id}">HA-1</a>' in page
    lot_page = client.get(f"/stock/lots/{lot.id}")
    assert lot_page.status_code == 200
    assert "Read only: pharmacists release" in html(
        lot_page
    ) and '<form method="post" action="/stock/lots/' not in html(lot_page)


def test_a_low_stock_alert_names_its_product_and_no_lot(client, sign_in_page):
    product = factories.make_product(kind="consumable", name="Syringe 3 mL", unit="piece")
    factories.make_low_stock_alert(product, quantity="4")
    sign_in_page("pharmacist")
    page = html(client.get("/alerts"))
    assert "the usable stock of Syringe 3 mL was 4 piece, below its reorder point" in page
    assert re.search(r"<td>Syringe 3 mL</td>\s*<td>—</td>", page)


# --- filters and order -------------------------------------------------------------------------


def test_the_inbox_shows_open_alerts_newest_first_by_default(client, sign_in_page):
    older = alert_at(datetime(2025, 5, 1, tzinfo=UTC))
    newer = alert_at(datetime(2025, 5, 2, tzinfo=UTC), "expired")
    seen = acknowledged(factories.make_user(role="pharmacist"))
    sign_in_page("admin")
    assert inbox_ids(client) == [newer.id, older.id]
    assert seen.id in inbox_ids(client, status="all")


def test_the_inbox_filters_by_status_and_kind(client, sign_in_page):
    expiring = factories.make_alert()
    expired = factories.make_alert("expired")
    seen = acknowledged(factories.make_user(role="pharmacist"), kind="expired")
    sign_in_page("pharmacist")
    assert set(inbox_ids(client, kind="expired", status="all")) == {expired.id, seen.id}
    assert set(inbox_ids(client, status="open")) == {expiring.id, expired.id}
    assert inbox_ids(client, status="acknowledged", kind="expired") == [seen.id]
    assert inbox_ids(client, status="acknowledged", kind="expiring") == []


def test_an_unknown_filter_value_is_refused_next_to_its_field(client, sign_in_page):
    sign_in_page("admin")
    response = client.get("/alerts", query_string={"kind": "overdue"})
    assert response.status_code == 422
    assert 'id="kind-error">Not a valid choice.' in html(response)


def test_the_inbox_is_paginated_newest_first(client, sign_in_page):
    first = datetime(2025, 1, 1, tzinfo=UTC)
    made = [alert_at(first + timedelta(hours=hour)) for hour in range(52)]
    sign_in_page("admin")
    assert inbox_ids(client) == [alert.id for alert in reversed(made)][:50]
    assert inbox_ids(client, page=2) == [made[1].id, made[0].id]
    assert "Page 1 of 2 (52)" in html(client.get("/alerts"))


def test_a_page_past_the_last_sends_the_reader_to_the_last_page(client, sign_in_page):
    first = datetime(2025, 1, 1, tzinfo=UTC)
    made = [alert_at(first + timedelta(hours=hour)) for hour in range(51)]
    sign_in_page("admin")
    response = client.post(f"/alerts/{made[0].id}/ack?page=2")
    assert response.headers["Location"] == "/alerts?page=2"
    emptied = client.get("/alerts?page=2")
    assert emptied.status_code == 302 and emptied.headers["Location"] == "/alerts?page=1"
    assert client.get("/alerts?kind=expired&page=3").headers["Location"] == (
        "/alerts?kind=expired&page=1"
    )


# --- acknowledging -----------------------------------------------------------------------------


def test_acknowledging_shows_who_and_when_and_a_second_acknowledgement_keeps_the_first(
    client, sign_in_page
):
    alert = factories.make_alert()
    pharmacist = sign_in_page("pharmacist")
    with time_machine.travel(NOW, tick=False):
        response = client.post(f"/alerts/{alert.id}/ack", follow_redirects=True)
    assert response.status_code == 200
    assert "Acknowledged: Lot " in html(response)
    assert alert.id not in inbox_ids(client)  # the open alerts, by default
    page = html(client.get("/alerts", query_string={"status": "acknowledged"}))
    assert f"Acknowledged by <strong>{pharmacist.username}</strong>" in page
    assert '<time datetime="2025-06-01T09:30:00+00:00">1 Jun 2025, 09:30</time>' in page

    sign_in_as(client, factories.make_user(role="admin"))
    again = client.post(f"/alerts/{alert.id}/ack", follow_redirects=True)
    assert f"Already acknowledged by {pharmacist.username} on 1 Jun 2025, 09:30." in html(again)
    db.session.expire_all()
    stored = db.session.get(Alert, alert.id)
    assert stored.acknowledged_by_id == pharmacist.id
    assert stored.acknowledged_at == NOW


def test_acknowledging_returns_to_the_same_view_of_the_inbox(client, sign_in_page):
    alert = factories.make_alert("expired")
    sign_in_page("admin")
    page = html(client.get("/alerts", query_string={"kind": "expired", "status": "open"}))
    assert f'action="/alerts/{alert.id}/ack?status=open&amp;kind=expired"' in page
    response = client.post(f"/alerts/{alert.id}/ack?status=open&kind=expired&evil=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/alerts?status=open&kind=expired"


def test_acknowledging_an_unknown_alert_is_a_404_page(client, sign_in_page):
    sign_in_page("admin")
    response = client.post("/alerts/999999/ack")
    assert response.status_code == 404 and "No alert with id 999999." in html(response)


def test_an_acknowledgement_is_in_the_audit_log_with_its_user(client, sign_in_page):
    alert = factories.make_alert()
    admin = sign_in_page("admin")
    client.post(f"/alerts/{alert.id}/ack")
    page = html(client.get("/admin/audit", query_string={"entity": "alerts"}))
    assert "Changed alert " in page and "Status: open → acknowledged" in page
    assert f"· {admin.username}</p>" in page


def test_several_selected_alerts_are_acknowledged_at_once(client, sign_in_page):
    first, second, untouched = (factories.make_alert() for _ in range(3))
    pharmacist = sign_in_page("pharmacist")
    response = client.post(
        "/alerts/ack", data={"which": "selected", "alert_id": [first.id, second.id]}
    )
    assert response.status_code == 302
    assert "Acknowledged 2 alerts." in html(client.get(response.headers["Location"]))
    db.session.expire_all()
    assert [first.status, second.status, untouched.status] == [
        AlertStatus.ACKNOWLEDGED,
        AlertStatus.ACKNOWLEDGED,
        AlertStatus.OPEN,
    ]
    assert first.acknowledged_by_id == second.acknowledged_by_id == pharmacist.id


def test_all_shown_acknowledges_the_open_alerts_the_page_showed_and_no_other(client, sign_in_page):
    expired = [factories.make_alert("expired") for _ in range(2)]
    other_kind = factories.make_alert("low_stock", lot=None)
    sign_in_page("admin")
    page = html(client.get("/alerts", query_string={"kind": "expired"}))
    assert "Acknowledge all 2 open alerts shown" in page
    shown = [int(i) for i in re.findall(r'name="shown" value="(\d+)"', page)]
    assert sorted(shown) == sorted(alert.id for alert in expired)
    raised_since = factories.make_alert("expired")
    client.post("/alerts/ack?kind=expired", data={"which": "shown", "shown": shown})
    db.session.expire_all()
    assert {alert.status for alert in expired} == {AlertStatus.ACKNOWLEDGED}
    assert other_kind.status == raised_since.status == AlertStatus.OPEN


def test_acknowledging_none_selected_is_refused_with_a_message_and_changes_nothing(
    client, sign_in_page
):
    alert = factories.make_alert()
    sign_in_page("admin")
    response = client.post("/alerts/ack", data={"which": "selected"})
    assert response.status_code == 422
    assert "Select at least one alert." in html(response)
    db.session.expire_all()
    assert alert.status == AlertStatus.OPEN


def test_a_bulk_acknowledgement_keeps_the_first_acknowledgement_of_an_alert(client, sign_in_page):
    first_reader = factories.make_user(role="pharmacist")
    seen = acknowledged(first_reader)
    fresh = factories.make_alert()
    sign_in_page("admin")
    response = client.post("/alerts/ack", data={"alert_id": [seen.id, fresh.id]})
    assert "Acknowledged 1 alert." in html(client.get(response.headers["Location"]))
    db.session.expire_all()
    assert seen.acknowledged_by_id == first_reader.id


def test_the_api_acknowledges_several_alerts_with_the_same_rule(client, login_as):
    alerts = [factories.make_alert() for _ in range(2)]
    auth = login_as("pharmacist")
    response = client.post(
        "/api/alerts/ack", json={"alert_ids": [a.id for a in alerts]}, headers=auth
    )
    assert response.status_code == 200
    assert sorted(a["id"] for a in response.get_json()) == sorted(a.id for a in alerts)
    again = client.post("/api/alerts/ack", json={"alert_ids": [alerts[0].id]}, headers=auth)
    assert again.status_code == 200 and again.get_json() == []
    refused = client.post("/api/alerts/ack", json={"alert_ids": []}, headers=auth)
    assert refused.status_code == 422 and "alert_ids" in refused.get_json()["errors"]
    unknown = client.post(
        "/api/alerts/ack", json={"alert_ids": [alerts[0].id, 999999]}, headers=auth
    )
    assert unknown.status_code == 404


# --- CSRF --------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(database_url):
    app = create_app(
        {
            "CONFIG": "testing",
            "SQLALCHEMY_DATABASE_URI": driver_url(database_url),
            "WTF_CSRF_ENABLED": True,
        }
    )
    return app.test_client()


def csrf_sign_in(csrf_client, role: str) -> None:
    username = factories.make_user(role=role).username
    login = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    response = csrf_client.post(
        "/login",
        data={"username": username, "password": factories.DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302


def test_the_acknowledge_and_scan_forms_carry_a_csrf_token_and_are_refused_without_it(
    csrf_client,
):
    alert_id = factories.make_alert().id
    csrf_sign_in(csrf_client, "admin")
    inbox = html(csrf_client.get("/alerts"))
    form = re.search(rf'action="/alerts/{alert_id}/ack".*?</form>', inbox, re.S).group(0)
    assert re.search(r'name="csrf_token" value="[^"]+"', form)
    home = html(csrf_client.get("/admin"))
    scan_form = re.search(r'action="/admin/scan".*?</form>', home, re.S).group(0)
    assert re.search(r'name="csrf_token" value="[^"]+"', scan_form)

    assert csrf_client.post(f"/alerts/{alert_id}/ack").status_code == 400
    assert csrf_client.post("/admin/scan").status_code == 400
    db.session.expire_all()
    assert db.session.get(Alert, alert_id).status == AlertStatus.OPEN
    assert scan_runs() == []


# --- the administrator's overview --------------------------------------------------------------


def test_run_the_scan_now_raises_the_alerts_due_today_and_flashes_the_counts(client, sign_in_page):
    soon = factories.make_lot(lot_number="SOON-5", expiry_date=TODAY + timedelta(days=5))
    factories.make_lot(lot_number="FAR-200", expiry_date=TODAY + timedelta(days=200))
    admin = sign_in_page("admin")
    with time_machine.travel(NOW, tick=False):
        response = client.post("/admin/scan", follow_redirects=True)
    assert response.status_code == 200
    assert "The scan of 1 Jun 2025 created 1 alert(s): 1 expiring." in html(response)
    (run,) = scan_runs()
    assert (run.as_of, run.outcome, run.counts["expiring"]) == (TODAY, ScanOutcome.SUCCEEDED, 1)
    (alert,) = db.session.scalars(select(Alert)).all()
    assert (alert.lot_id, alert.threshold_days) == (soon.id, 7)
    assert re.search(r"<td>1 Jun 2025</td>.*?succeeded.*?<td>1 expiring</td>", html(response), re.S)
    audit = html(client.get("/admin/audit", query_string={"entity": "alerts"}))
    assert re.search(rf"Ran the alert scan.*?· {admin.username}</p>", audit, re.S)

    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        again = client.post("/admin/scan", follow_redirects=True)
    assert "The scan of 1 Jun 2025 found nothing new." in html(again)
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 1


def test_a_failed_scan_is_shown_with_its_error_in_the_scan_history(
    client, sign_in_page, monkeypatch
):
    def broken_scan(*args, **kwargs):
        raise RuntimeError("lots table unreadable")

    monkeypatch.setattr("ops.jobs.scan", broken_scan)
    sign_in_page("admin")
    response = client.post("/admin/scan", follow_redirects=True)
    assert response.status_code == 200
    page = html(response)
    assert "failed (RuntimeError): see the scan history below" in page
    assert "RuntimeError: lots table unreadable" in page
    assert [run.outcome for run in scan_runs()] == [ScanOutcome.FAILED]


def test_the_overview_shows_the_health_before_and_after_a_scan(client, sign_in_page):
    sign_in_page("admin")
    before = html(client.get("/admin"))
    assert "badge-health-degraded" in before and "No scan has run yet." in before
    assert re.search(r"<dt>Last successful scan</dt><dd>never</dd>", before)
    client.post("/admin/scan")
    after = html(client.get("/admin"))
    assert "badge-health-ok" in after and "<dt>Scan overdue</dt><dd>no</dd>" in after
    assert "<dt>Last run</dt><dd>succeeded</dd>" in after


def test_the_overview_counts_open_alerts_by_kind_with_links_to_the_inbox(client, sign_in_page):
    factories.make_alert()
    factories.make_alert()
    factories.make_alert("recall")
    acknowledged(factories.make_user(role="pharmacist"), kind="expired")
    sign_in_page("admin")
    page = html(client.get("/admin"))
    assert re.search(r'<strong class="big">3</strong> open alerts', page)
    assert re.search(r'href="/alerts\?kind=expiring">.*?Expiring</span> 2</a>', page)
    assert re.search(r'href="/alerts\?kind=recall">.*?Recall</span> 1</a>', page)
    assert 'href="/alerts?kind=expired"' not in page


def test_the_scan_history_lists_the_last_ten_runs_latest_first(client, sign_in_page):
    for day in range(12):
        db.session.add(
            ScanRun(
                as_of=date(2025, 5, 1) + timedelta(days=day),
                started_at=datetime(2025, 5, 1, 6, tzinfo=UTC) + timedelta(days=day),
                finished_at=datetime(2025, 5, 1, 6, 1, tzinfo=UTC) + timedelta(days=day),
                outcome=ScanOutcome.SUCCEEDED,
                counts={"expiring": day % 2, "low_stock": 0},
            )
        )
    db.session.commit()
    sign_in_page("admin")
    page = html(client.get("/admin"))
    history = re.search(r'<table class="scans">.*?</table>', page, re.S).group(0)
    days = re.findall(r"<tr><td>(\d+ May 2025)</td>", history)
    assert days == [f"{day} May 2025" for day in range(12, 2, -1)]
    assert "<td>1 expiring</td>" in history and "<td>none</td>" in history


def test_the_stock_board_links_to_the_inbox_with_the_open_count(client, sign_in_page):
    factories.make_alert()
    factories.make_low_stock_alert()
    sign_in_page("pharmacist")
    page = html(client.get("/stock"))
    assert '<a href="/alerts">Alert inbox</a>' in page
    assert "<strong>2 open alerts</strong> (1 expiring, 1 low stock)" in page


# --- query counts ------------------------------------------------------------------------------


def test_the_inbox_sends_the_same_number_of_queries_for_few_and_many_alerts(
    client, sign_in_page, queries_of_get
):
    sign_in_page("pharmacist")

    def measure(query):
        return queries_of_get("/alerts", query_string=query)[0]

    def add(count):
        for _ in range(count):
            lot = factories.make_lot(factories.make_product(kind="consumable"))
            factories.make_alert(lot=lot)
            acknowledged(factories.make_user(role="pharmacist"), lot=lot, threshold_days=60)

    add(2)
    few = [measure({}), measure({"status": "all"}), measure({"status": "acknowledged"})]
    add(30)
    assert [measure({}), measure({"status": "all"}), measure({"status": "acknowledged"})] == few


def test_the_overview_sends_the_same_number_of_queries_for_few_and_many_alerts_and_runs(
    client, sign_in_page, queries_of_get
):
    sign_in_page("admin")

    def measure():
        return queries_of_get("/admin")[0]

    for _ in range(2):
        factories.make_alert()
        client.post("/admin/scan")
    few = measure()  # record names are read with one query per kind of record shown
    for _ in range(12):
        factories.make_alert()
        client.post("/admin/scan")
    assert measure() == few
