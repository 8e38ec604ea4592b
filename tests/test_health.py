"""GET /api/health tells whether the service can do its job: the database answers and a scan
succeeded within 26 hours, so that a silently dead scheduler is seen."""

from datetime import UTC, date, datetime, timedelta

import pytest

from api import health as health_module
from api.health import service_health
from api.jobs import run_scan_job
from inventory import alerts


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
    monkeypatch.setattr(alerts, "_raise_expiry_alerts", _broken)
    with pytest.raises(RuntimeError):
        run_scan_job(date(2025, 6, 2))
    health = service_health(good.finished_at + timedelta(hours=27))
    assert health["status"] == "degraded" and health["last_scan_at"] == good.finished_at
    assert health["last_run_outcome"] == "failed"


def test_health_is_degraded_when_the_database_fails(monkeypatch):
    monkeypatch.setattr(health_module, "database_reachable", lambda: False)
    body = service_health(datetime.now(UTC))
    assert (body["status"], body["database"]) == ("degraded", "error")


def _broken(*args):
    raise RuntimeError("database went away")
