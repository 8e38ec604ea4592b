"""GET /api/health tells whether the service can do its job: the database answers and a scan
succeeded within 26 hours, so that a silently dead scheduler is seen."""

from datetime import date, datetime, timedelta

import pytest

from app import create_app
from inventory.alerts import scans as scan_module
from inventory.alerts.health import service_health
from ops.jobs import run_scan_job


def test_health_answers_ok_when_the_database_is_reachable(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["status"] in {"ok", "degraded"}
    assert "last_scan_at" in body


def test_health_needs_no_credentials(client):
    assert client.get("/api/health").status_code == 200


def test_a_fresh_install_that_never_scanned_is_degraded(client):
    body = client.get("/api/health").get_json()
    assert body == {
        "status": "degraded",
        "database": "ok",
        "last_scan_at": None,
        "scan_overdue": True,
        "last_run_outcome": None,
        "mail_queued": 0,
    }


def test_health_is_ok_after_a_successful_scan_and_names_when_it_finished(client):
    run = run_scan_job(date(2025, 6, 1))
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and body["last_run_outcome"] == "succeeded"
    assert datetime.fromisoformat(body["last_scan_at"]) == run.finished_at


def test_health_is_degraded_26_hours_after_the_last_successful_scan():
    run = run_scan_job(date(2025, 6, 1))
    finished = run.finished_at
    assert service_health(finished + timedelta(hours=26))["status"] == "ok"
    overdue = service_health(finished + timedelta(hours=26, seconds=1))
    assert overdue["status"] == "degraded" and overdue["scan_overdue"] is True
    assert overdue["last_scan_at"] == finished


def test_a_failed_scan_leaves_health_on_the_last_successful_one(monkeypatch):
    good = run_scan_job(date(2025, 6, 1))
    monkeypatch.setattr(scan_module, "_raise_expiry_alerts", _broken)
    with pytest.raises(RuntimeError):
        run_scan_job(date(2025, 6, 2))
    health = service_health(good.finished_at + timedelta(hours=27))
    assert health["status"] == "degraded" and health["last_scan_at"] == good.finished_at
    assert health["last_run_outcome"] == "failed"


@pytest.mark.own_database
def test_health_is_degraded_when_the_database_cannot_be_reached(tmp_path):
    unreachable = f"sqlite:///{tmp_path / 'no such folder' / 'formulary.sqlite3'}"
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": unreachable})
    response = app.test_client().get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["database"], body["mail_queued"]) == ("degraded", "error", None)


def _broken(*args):
    raise RuntimeError("database went away")
