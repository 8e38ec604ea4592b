"""Two schedulers on one PostgreSQL database (issue 18): the one holding the scheduler lock
works and the other stands by; when the working one is killed the other takes over, the day's
scan still runs once and every digest goes out once; deliverers running at once never claim
one message twice, nor wait on each other's claims."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from config import database_url as driver_url
from core.accounts import Role, create_user
from core.audit import acting_as
from core.clock import clinic_today, utcnow
from core.database import db, unit_of_work
from core.mail import OutboxMessage, OutboxStatus, queue_message
from formulary.seed import seed_catalogue, seed_demo_serums
from inventory.alerts import ScanOutcome, ScanRun
from inventory.alerts.notifications import alert_recipients
from inventory.demo import seed_demo_stock
from ops.cli import DEMO_USERS
from ops.jobs import deliver_job
from ops.leader import SCHEDULER_LOCK, SchedulerLock
from ops.scheduler import watch_the_lock
from tests.mailserver import smtp_server
from tests.servers import ROOT

SUITE_URL = os.environ.get("TEST_DATABASE_URL")
ON_POSTGRESQL = bool(SUITE_URL) and make_url(driver_url(SUITE_URL)).get_backend_name() == (
    "postgresql"
)

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not ON_POSTGRESQL,
        reason="several schedulers need PostgreSQL (its advisory lock and SKIP LOCKED); "
        "SQLite runs one. Set TEST_DATABASE_URL=postgresql://... to run these.",
    ),
]

# Generous bounds on waiting, never measured against.
WAIT_SECONDS = 30
POLL_SECONDS = 0.5

HOLDER = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :key"
)


class SchedulerProcess:
    """`flask scheduler run` as a real process, its output collected line by line."""

    def __init__(self, database_url: str, mail_port: int, scan_time: str):
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "FLASK_CONFIG": "production",
            "SECRET_KEY": "scale-out-test-secret-" + "s" * 32,
            "DATABASE_URL": database_url,
            "CLINIC_TIMEZONE": "UTC",
            "SCAN_TIME": scan_time,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(mail_port),
            "SCHEDULER_LEADER_POLL_SECONDS": str(POLL_SECONDS),
            "OUTBOX_RETRY_SECONDS": "1",
        }
        env.pop("SCHEDULER_ENABLED", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def said(self, words: str) -> bool:
        return any(words in line for line in self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        self.process.stdout.close()
        return self.process.returncode


def wait_for(condition, what: str, processes=()):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    outputs = "\n---\n".join(process.output for process in processes)
    raise AssertionError(f"{what} did not happen within {WAIT_SECONDS} s\n{outputs}")


def lock_holder_pid(app) -> int | None:
    """The process id of the scheduler whose session holds the lock (its application_name)."""
    with app.app_context():
        name = db.session.scalar(HOLDER, {"key": SCHEDULER_LOCK})
        db.session.rollback()
    match = re.search(r":(\d+)$", name or "")
    return int(match.group(1)) if match else None


def a_clinic_with_alerts_due(app) -> list[str]:
    """The demo catalogue, serums, users and stock (lots expiring within weeks), and a second
    pharmacist who asked for alert e-mail; answers the addresses a digest goes to."""
    with app.app_context(), acting_as(None, "test"), unit_of_work():
        report = seed_catalogue()
        users = {
            username: create_user(username, role, password=password, email=email)
            for username, role, password, email in DEMO_USERS
        }
        seed_demo_serums(users["pharmacist"], users["admin"], report=report)
        seed_demo_stock(utcnow())
        create_user(
            "chief-pharmacist",
            Role.PHARMACIST,
            password="chief-pharmacist-pass",
            email="chief@clinic.example",
            alert_emails=True,
        )
        db.session.flush()
        return alert_recipients()


def all_digests_sent(app, count: int) -> bool:
    """The scan's digests are all sent (the demo's other mail, its order to the supplier, is
    not counted)."""
    with app.app_context():
        digests = select(OutboxMessage.status).where(OutboxMessage.subject.startswith("Alerts of "))
        statuses = db.session.scalars(digests).all()
        db.session.rollback()
    return len(statuses) == count and set(statuses) == {OutboxStatus.SENT}


def test_the_standby_scheduler_takes_over_when_the_working_one_is_killed_and_nothing_runs_twice(
    live_app, scratch_db
):
    recipients = a_clinic_with_alerts_due(live_app)
    assert len(recipients) == 2
    # Six hours ago: the catch-up finds today's scan missed, and the cron never fires mid-test.
    scan_time = (utcnow() - timedelta(hours=6)).strftime("%H:%M")
    with smtp_server() as (port, mailbox):
        schedulers = [SchedulerProcess(scratch_db, port, scan_time) for _ in range(2)]
        try:
            wait_for(lambda: all_digests_sent(live_app, len(recipients)), "the digests", schedulers)
            holder = wait_for(lambda: lock_holder_pid(live_app), "a lock holder", schedulers)
            (working,) = [s for s in schedulers if s.process.pid == holder]
            (standby,) = [s for s in schedulers if s is not working]
            wait_for(lambda: standby.said("stands by"), "the standby's wait", schedulers)
            assert working.said("This scheduler works") and working.said("Caught up a missed")
            assert not standby.said("This scheduler works"), standby.output

            working.process.kill()  # SIGKILL: no clean shutdown, its session just ends
            working.process.wait()
            killed_at = time.monotonic()
            with live_app.app_context(), unit_of_work():
                queue_message("admin@clinic.example", "Recall: lot R-1", body="A lot recalled.")
            wait_for(lambda: standby.said("This scheduler works"), "the take-over", schedulers)
            took_over_after = time.monotonic() - killed_at
            wait_for(
                lambda: any(m["Subject"] == "Recall: lot R-1" for m in mailbox.messages),
                "the recall notice's delivery by the new working scheduler",
                schedulers,
            )
            assert lock_holder_pid(live_app) == standby.process.pid
        finally:
            codes = [scheduler.stop() for scheduler in schedulers]
    print(f"take-over {took_over_after:.2f} s after kill -9 (poll every {POLL_SECONDS} s)")
    assert codes == [-signal.SIGKILL if s is working else 0 for s in schedulers], standby.output
    assert standby.said("No scan was missed."), standby.output
    with live_app.app_context():
        runs = db.session.scalars(select(ScanRun)).all()
        assert [(run.as_of, run.outcome) for run in runs] == [
            (clinic_today(), ScanOutcome.SUCCEEDED)
        ]
    digests = [m["To"] for m in mailbox.messages if m["Subject"].startswith("Alerts of ")]
    assert sorted(digests) == sorted(recipients)
    assert [m["Subject"] for m in mailbox.messages].count("Recall: lot R-1") == 1


def test_one_session_holds_the_scheduler_lock_and_its_scheduler_stops_once_that_session_ends(
    scratch_db,
):
    url = make_url(driver_url(scratch_db))
    working, standby = SchedulerLock(url), SchedulerLock(url)
    try:
        assert working.try_take() is True
        assert standby.try_take() is False
        assert working.still_held() and not standby.still_held()
        # An administrator ends the working scheduler's session: it must stop, not go on.
        administrator = create_engine(url, isolation_level="AUTOCOMMIT")
        with administrator.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND objid = :key AND granted"
                ),
                {"key": SCHEDULER_LOCK},
            )
        administrator.dispose()
        scheduler = BackgroundScheduler()
        scheduler.start()
        lost = []
        watch_the_lock(scheduler, working, lost)
        assert (lost, scheduler.running) == ([True], False)
        assert standby.try_take() is True
    finally:
        working.release()
        standby.release()


def queued(app, count: int) -> list[int]:
    with app.app_context(), unit_of_work():
        ids = [
            queue_message(f"user{n}@clinic.example", f"Digest {n}", body="body").id
            for n in range(count)
        ]
    return ids


def delivering(app, port: int, results: list):
    def run():
        with app.app_context():
            results.append(deliver_job())

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    return threading.Thread(target=run)


def test_a_message_another_deliverer_is_claiming_is_passed_over_not_waited_on(live_app):
    first, _, _ = queued(live_app, 3)
    with smtp_server() as (port, mailbox):
        with live_app.app_context(), db.engine.connect() as other:
            claiming = other.begin()  # another deliverer, between its SELECT and its commit
            other.execute(
                select(OutboxMessage.id).where(OutboxMessage.id == first).with_for_update()
            )
            results = []
            deliverer = delivering(live_app, port, results)
            deliverer.start()
            deliverer.join(timeout=WAIT_SECONDS)
            assert not deliverer.is_alive(), "the deliverer waited on a message claimed elsewhere"
            claiming.rollback()
        assert results == [{"sent": 2, "failed": 0, "queued": 1}]
        assert sorted(m["Subject"] for m in mailbox.messages) == ["Digest 1", "Digest 2"]
        with live_app.app_context():
            assert deliver_job()["sent"] == 1
    assert sorted(m["Subject"] for m in mailbox.messages) == ["Digest 0", "Digest 1", "Digest 2"]


def test_two_deliverers_at_once_send_each_message_once(live_app):
    queued(live_app, 40)
    with smtp_server() as (port, mailbox):
        results = []
        deliverers = [delivering(live_app, port, results) for _ in range(2)]
        for deliverer in deliverers:
            deliverer.start()
        for deliverer in deliverers:
            deliverer.join(timeout=WAIT_SECONDS)
    assert sum(result["sent"] for result in results) == 40
    subjects = [m["Subject"] for m in mailbox.messages]
    assert sorted(subjects) == sorted(f"Digest {n}" for n in range(40))
