"""The alert scheduler (SPEC 3.7): fixed jobs, the daily scan at SCAN_TIME in the clinic's
timezone, the catch-up of a scan missed while no scheduler ran, and who may run one."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.engine import make_url

from core.database import db
from inventory.alerts import ScanOutcome, ScanRun
from ops.leader import scheduler_lock
from ops.scheduler import (
    DAILY_SCAN,
    OUTBOX_RETRY,
    PATIENT_REMINDERS,
    build_scheduler,
    catch_up,
    in_process_scheduler_wanted,
    missed_scan_due,
    parse_scan_time,
)
from tests.servers import ROOT

BERLIN = ZoneInfo("Europe/Berlin")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SIX = clock(6, 0)
DEV_SERVER = {"SCHEDULER_ENABLED": True, "RUN_FROM_CLI": True}


def next_fire(app, monkeypatch, timezone: str, scan_time: str, now: datetime, job_id=DAILY_SCAN):
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", timezone)
    monkeypatch.setitem(app.config, "SCAN_TIME", scan_time)
    scheduler = build_scheduler(app, BackgroundScheduler)
    return scheduler.get_job(job_id).trigger.get_next_fire_time(None, now)


def test_the_daily_scan_fires_at_scan_time_in_the_clinic_timezone_across_a_dst_change(
    app, monkeypatch
):
    # Berlin moves to summer time at 02:00 on 30 March 2025: 06:00 is then 04:00 UTC, not 05:00.
    saturday_noon = datetime(2025, 3, 29, 12, tzinfo=UTC)
    fire = next_fire(app, monkeypatch, "Europe/Berlin", "06:00", saturday_noon)
    assert fire == datetime(2025, 3, 30, 4, 0, tzinfo=UTC)
    assert fire.astimezone(BERLIN).time() == SIX


def test_the_daily_scan_in_sao_paulo_fires_at_nine_utc(app, monkeypatch):
    now = datetime(2025, 7, 10, 8, 59, tzinfo=UTC)  # 05:59 in Sao Paulo
    fire = next_fire(app, monkeypatch, "America/Sao_Paulo", "06:00", now)
    assert fire == datetime(2025, 7, 10, 9, 0, tzinfo=UTC)
    later = next_fire(app, monkeypatch, "America/Sao_Paulo", "06:00", fire + timedelta(seconds=1))
    assert later == datetime(2025, 7, 11, 9, 0, tzinfo=UTC)


def test_the_scheduler_holds_three_jobs_with_fixed_ids_and_the_outbox_retry_every_five_minutes(
    app, monkeypatch
):
    scheduler = build_scheduler(app, BackgroundScheduler)
    build_again = build_scheduler(app, BackgroundScheduler)
    assert sorted(job.id for job in scheduler.get_jobs()) == [
        DAILY_SCAN,
        OUTBOX_RETRY,
        PATIENT_REMINDERS,
    ]
    assert len(build_again.get_jobs()) == 3
    retry = scheduler.get_job(OUTBOX_RETRY).trigger
    assert retry.interval == timedelta(minutes=5)


def test_a_malformed_scan_time_is_refused_with_its_name():
    assert parse_scan_time("06:30") == clock(6, 30)
    with pytest.raises(ValueError, match="SCAN_TIME"):
        parse_scan_time("6 am")


def may(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 5, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_started", "now", "tz", "due"),
    [
        (None, may(1, 12), UTC, True),
        # ran today after 06:00: nothing missed
        (may(1, 6, 0, 5), may(1, 23), UTC, False),
        # ran yesterday at 06:00; today's is not due before 06:00
        (may(1, 6, 0, 5), may(2, 5, 59), UTC, False),
        (may(1, 6, 0, 5), may(2, 6), UTC, True),
        # down for three days
        (may(1, 6, 0, 5), may(4, 12), UTC, True),
        # 05:30 in Sao Paulo is before that day's 06:00 there (09:00 UTC)
        (may(1, 8, 30), may(1, 9, 30), SAO_PAULO, True),
        (may(1, 9, 1), may(1, 23), SAO_PAULO, False),
        # 06:00 in Berlin on 1 May is 04:00 UTC: a run at 05:00 UTC counts for it
        (may(1, 5), may(1, 6), BERLIN, False),
    ],
)
def test_a_missed_scan_is_due_when_none_started_since_the_last_scheduled_time(
    last_started, now, tz, due
):
    assert missed_scan_due(last_started, now, SIX, tz) is due


def test_the_catch_up_runs_one_scan_only_when_one_was_missed(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCAN_TIME", "06:00")
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "UTC")
    now = datetime(2025, 5, 2, 7, tzinfo=UTC)
    assert catch_up(app, now) is True
    assert catch_up(app, now + timedelta(hours=1)) is False
    assert catch_up(app, now + timedelta(days=1)) is True
    runs = db.session.scalars(select(ScanRun).order_by(ScanRun.id)).all()
    assert [(run.as_of.isoformat(), run.outcome) for run in runs] == [
        ("2025-05-02", ScanOutcome.SUCCEEDED),
        ("2025-05-03", ScanOutcome.SUCCEEDED),
    ]


def test_a_failed_run_does_not_count_as_done_for_the_catch_up(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCAN_TIME", "06:00")
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "UTC")
    db.session.add(
        ScanRun(
            as_of=datetime(2025, 5, 2).date(),
            started_at=datetime(2025, 5, 2, 6, tzinfo=UTC),
            outcome=ScanOutcome.FAILED,
            counts={},
        )
    )
    db.session.commit()
    assert catch_up(app, datetime(2025, 5, 2, 7, tzinfo=UTC)) is True


@pytest.mark.parametrize(
    ("config", "command", "reload", "wanted"),
    [
        (DEV_SERVER, "run", False, True),
        # the reloader's watching parent serves nothing; only its child schedules
        (DEV_SERVER, "run", True, False),
        ({**DEV_SERVER, "RELOADER_CHILD": True}, "run", True, True),
        # other commands (`flask alerts scan`, `flask db upgrade`) never start one
        (DEV_SERVER, "alerts", False, False),
        # gunicorn workers are not started from the flask command line
        ({"SCHEDULER_ENABLED": True, "RUN_FROM_CLI": False}, None, False, False),
        ({"SCHEDULER_ENABLED": False, "RUN_FROM_CLI": True}, "run", False, False),
    ],
)  # fmt: skip
def test_only_the_development_server_runs_the_scheduler_in_process(config, command, reload, wanted):
    assert in_process_scheduler_wanted(config, command, reload) is wanted


def test_on_sqlite_one_scheduler_works_alone_and_takes_no_lock():
    lock = scheduler_lock(make_url("sqlite:///instance/formulary.sqlite3"))
    assert (lock.shared, lock.try_take(), lock.still_held()) == (False, True, True)


def test_the_outbox_retry_interval_and_the_standby_poll_come_from_the_configuration(
    app, monkeypatch
):
    from config import BaseConfig

    assert BaseConfig.SCHEDULER_LEADER_POLL_SECONDS == 15
    monkeypatch.setitem(app.config, "OUTBOX_RETRY_SECONDS", 1)
    retry = build_scheduler(app, BackgroundScheduler).get_job(OUTBOX_RETRY).trigger
    assert retry.interval == timedelta(seconds=1)


def test_production_leaves_the_in_process_scheduler_off_by_default():
    from config import ProductionConfig

    if os.environ.get("SCHEDULER_ENABLED"):
        pytest.skip("SCHEDULER_ENABLED is set in this environment")
    assert ProductionConfig.SCHEDULER_ENABLED is False


@pytest.mark.server
def test_flask_scheduler_run_catches_up_a_missed_scan_on_start(live_app, scratch_db):
    env = {
        **os.environ,
        "FLASK_CONFIG": "production",
        "SECRET_KEY": "scheduler-test-secret-" + "s" * 32,
        "DATABASE_URL": scratch_db,
        "CLINIC_TIMEZONE": "Europe/Berlin",
    }
    env.pop("SCHEDULER_ENABLED", None)
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        runs = _wait_for_a_finished_run(live_app, process)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert [run.outcome for run in runs] == [ScanOutcome.SUCCEEDED], output
    assert "Caught up a missed scan." in output
    alone = scratch_db.startswith("sqlite")
    assert ("works alone" if alone else "holds the scheduler lock") in output
    assert "daily-scan: cron[hour='6', minute='0']" in output


def _wait_for_a_finished_run(app, process, timeout: float = 60) -> list[ScanRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read())
        with app.app_context():
            runs = db.session.scalars(select(ScanRun)).all()
            if runs and runs[0].outcome != ScanOutcome.RUNNING:
                db.session.expunge_all()
                return runs
        time.sleep(0.2)
    raise AssertionError("no scan run was recorded")
