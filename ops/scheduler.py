"""When the alert jobs run (APScheduler 3); what they do lives in `ops.jobs`.

A deployment runs the scheduler as its own process: `flask scheduler run` (a
BlockingScheduler). On PostgreSQL it may run two or more of them against one database: one
works, the others stand by and take over when it dies (`ops.leader`: a session advisory lock).
On SQLite it runs exactly one. The development server (`flask run`) may run the same jobs
in-process with a BackgroundScheduler when SCHEDULER_ENABLED; gunicorn workers never do (they
are not `flask run`, and production leaves SCHEDULER_ENABLED off).

Jobs have fixed ids and are registered with `replace_existing`, so registering twice never
doubles them:
- `daily-scan`: the alert scan every day at SCAN_TIME in CLINIC_TIMEZONE;
- `outbox-retry`: the outbox delivery every OUTBOX_RETRY_SECONDS (5 minutes; digests whose
  send failed, and recall notices queued by requests);
- `patient-reminders`: the patient reminders due, every REMINDER_INTERVAL_SECONDS (10
  minutes), then the outbox delivery; a run missed is caught up by the next (each reminder
  is queued once, whenever the job finds it due).

On start, and on taking over from a scheduler that died, a scan missed while no scheduler
worked (decided from the recorded runs) runs once.
"""

import atexit
import logging
import signal
import sys
from datetime import datetime, time, timedelta, tzinfo
from time import sleep
from zoneinfo import ZoneInfo

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app
from flask.cli import AppGroup
from flask.helpers import get_debug_flag

from core.clock import utcnow
from core.database import db
from inventory.alerts import last_successful_scan
from ops.jobs import deliver_job, run_reminders_job, run_scan_job
from ops.leader import AloneOnSQLite, SchedulerLock, scheduler_lock

log = logging.getLogger(__name__)

DAILY_SCAN = "daily-scan"
OUTBOX_RETRY = "outbox-retry"
PATIENT_REMINDERS = "patient-reminders"
CATCH_UP = "catch-up"
LOCK_WATCH = "scheduler-lock-watch"

scheduler_cli = AppGroup("scheduler", help="The alert scheduler.")


def parse_scan_time(text: str) -> time:
    """SCAN_TIME as `HH:MM` (24-hour clock)."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(f"SCAN_TIME must be HH:MM (24-hour clock), got {text!r}") from None


def latest_scheduled_scan(now: datetime, scan_time: time, tz: tzinfo) -> datetime:
    """The most recent moment at or before `now` when the daily scan was due."""
    local_now = now.astimezone(tz)
    due = datetime.combine(local_now.date(), scan_time, tzinfo=tz)
    if due > local_now:
        due = datetime.combine(local_now.date() - timedelta(days=1), scan_time, tzinfo=tz)
    return due


def missed_scan_due(
    last_run_started_at: datetime | None, now: datetime, scan_time: time, tz: tzinfo
) -> bool:
    """Whether a scan must run now to make up for one missed: no successful run recorded, or
    the last one started before the most recent scheduled time."""
    if last_run_started_at is None:
        return True
    return last_run_started_at < latest_scheduled_scan(now, scan_time, tz)


def catch_up(app: Flask, now: datetime | None = None) -> bool:
    """Run the scan once if the recorded runs show that one was missed; True if it ran.
    Only successful runs count: a scan that failed before the scheduler stopped is retried."""
    now = now or utcnow()
    with app.app_context():
        last = last_successful_scan()
        due = missed_scan_due(
            last.started_at if last is not None else None,
            now,
            parse_scan_time(app.config["SCAN_TIME"]),
            ZoneInfo(app.config["CLINIC_TIMEZONE"]),
        )
        if not due:
            return False
        log.info("catching up a missed alert scan")
        run_scan_job(now=now)
        return True


def scheduled_scan(app: Flask) -> None:
    with app.app_context():
        run_scan_job()


def scheduled_delivery(app: Flask) -> None:
    with app.app_context():
        deliver_job()


def scheduled_reminders(app: Flask) -> None:
    with app.app_context():
        run_reminders_job()


def scheduled_catch_up(app: Flask) -> None:
    catch_up(app)


def build_scheduler(app: Flask, scheduler_class: type[BaseScheduler] = BackgroundScheduler):
    """A scheduler holding the recurring jobs, not started."""
    tz = ZoneInfo(app.config["CLINIC_TIMEZONE"])
    scan_time = parse_scan_time(app.config["SCAN_TIME"])
    scheduler = scheduler_class(
        timezone=tz,
        # A run late by less than an hour (a busy machine) still runs, once.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    scheduler.add_job(
        scheduled_scan,
        CronTrigger(hour=scan_time.hour, minute=scan_time.minute, timezone=tz),
        args=[app],
        id=DAILY_SCAN,
        name="Daily alert scan",
        replace_existing=True,
    )
    scheduler.add_job(
        scheduled_delivery,
        IntervalTrigger(seconds=app.config["OUTBOX_RETRY_SECONDS"], timezone=tz),
        args=[app],
        id=OUTBOX_RETRY,
        name="Outbox delivery retry",
        replace_existing=True,
    )
    scheduler.add_job(
        scheduled_reminders,
        IntervalTrigger(seconds=app.config["REMINDER_INTERVAL_SECONDS"], timezone=tz),
        args=[app],
        id=PATIENT_REMINDERS,
        name="Patient reminders",
        replace_existing=True,
    )
    return scheduler


def in_process_scheduler_wanted(config, command: str | None, reload: bool) -> bool:
    """Whether this process should run the scheduler beside the web app: only the development
    server (`flask run`) with SCHEDULER_ENABLED, and with the reloader only in its child (the
    watching parent serves nothing, and two schedulers would scan twice)."""
    if not config.get("SCHEDULER_ENABLED") or not config.get("RUN_FROM_CLI"):
        return False
    if command != "run":
        return False
    return not reload or config.get("RELOADER_CHILD", False)


def register_scheduler(app: Flask) -> None:
    """Start the in-process scheduler when this process is the development server."""
    context = click.get_current_context(silent=True)
    command = context.info_name if context is not None else None
    reload = context.params.get("reload") if context is not None else None
    if reload is None:
        reload = get_debug_flag()  # `flask run` reloads by default in debug mode
    if not in_process_scheduler_wanted(app.config, command, reload):
        return
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.add_job(scheduled_catch_up, args=[app], id=CATCH_UP, replace_existing=True)
    scheduler.start()
    atexit.register(lambda: scheduler.shutdown(wait=False))
    app.extensions["scheduler"] = scheduler
    log.info("alert scheduler running in the development server")


def wait_for_the_lock(lock: SchedulerLock | AloneOnSQLite, poll_seconds: float) -> None:
    """Return once this process holds the scheduler lock, trying every `poll_seconds`."""
    if not lock.shared:
        click.echo("SQLite: this scheduler works alone (run only one).")
        return
    if not lock.try_take():
        click.echo(
            f"Another scheduler works; this one stands by and tries every {poll_seconds:g} s."
        )
        while not lock.try_take():
            sleep(poll_seconds)
    click.echo("This scheduler works: it holds the scheduler lock.")


def watch_the_lock(scheduler: BaseScheduler, lock: SchedulerLock, lost: list) -> None:
    """Stop working the moment the lock's session is found gone: a standby may hold it now."""
    if lock.still_held():
        return
    log.error("the scheduler lock was lost; stopping so that one scheduler works")
    lost.append(True)
    scheduler.shutdown(wait=False)


@scheduler_cli.command("run")
def run_scheduler_command():
    """Run the scheduler in the foreground; on PostgreSQL, once it holds the scheduler lock."""
    app = current_app._get_current_object()
    poll_seconds = app.config["SCHEDULER_LEADER_POLL_SECONDS"]

    def stop(signum, frame):
        sys.exit(0)  # unwinds out of the wait or start(); the finally blocks shut down cleanly

    signal.signal(signal.SIGTERM, stop)
    lock = scheduler_lock(db.engine.url)
    lost = []
    try:
        try:
            wait_for_the_lock(lock, poll_seconds)
        except (KeyboardInterrupt, SystemExit):
            click.echo("Scheduler stopped.")
            return
        scheduler = build_scheduler(app, BlockingScheduler)
        if lock.shared:
            scheduler.add_job(
                watch_the_lock,
                IntervalTrigger(seconds=poll_seconds),
                args=[scheduler, lock, lost],
                id=LOCK_WATCH,
                replace_existing=True,
            )
        _catch_up_on_start(app)
        for job in scheduler.get_jobs():
            click.echo(f"{job.id}: {job.trigger}")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=True)
    finally:
        lock.release()
    if lost:
        raise click.ClickException("The scheduler lock was lost; start the scheduler again.")
    click.echo("Scheduler stopped.")


def _catch_up_on_start(app: Flask) -> None:
    try:
        ran = catch_up(app)
    except Exception as error:  # noqa: BLE001 - recorded as a failed run; keep scheduling
        click.echo(f"The catch-up scan failed ({error}); the daily scan will try again.")
    else:
        click.echo("Caught up a missed scan." if ran else "No scan was missed.")
