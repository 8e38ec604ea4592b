"""The alert jobs: the scan and the outbox delivery, as the command line, the scheduler and a
request run them. The domain functions they call never commit; here each step is a unit of
work of its own.

`run_scan_job` (command line, scheduler) records the run before the work starts (so a run that
dies is seen as `running`), does the scan and queues its digests in one transaction, records a
failure in a transaction of its own, and only then delivers the outbox: a mail server that is
down never undoes alerts already stored.

`scan_in_request` (the API's and the overview's "scan now") does the scan inside the request's
own unit of work and leaves delivery to the outbox job, so a click never waits on SMTP.
"""

import logging
from datetime import date, datetime

from flask import current_app

from clinic.forecast import shortfalls
from clinic.reminders import queue_due_reminders
from clinic.vigilance import signals_due_in_scan
from core.audit import Actor, acting_as
from core.clock import clinic_today, utcnow
from core.database import commit_even_if_refused, db, unit_of_work, writing
from core.mail import (
    claim_next,
    compose,
    mail_server_configured,
    queued_count,
    record_attempt,
    send,
)
from inventory.alerts import ScanRun, fail_scan_run, scan, start_scan_run

log = logging.getLogger(__name__)

SCHEDULER = Actor(None, "scheduler")


def run_scan_job(
    as_of: date | None = None, now: datetime | None = None, actor: Actor = SCHEDULER
) -> ScanRun:
    """Scan for `as_of` (default: the clinic's today), commit, then deliver the outbox.
    A failed scan is recorded as failed, with its error, and raised again."""
    now = now or utcnow()
    as_of = as_of or clinic_today(now)
    with writing(), acting_as(actor.user_id, actor.username):
        with unit_of_work():
            run_id = start_scan_run(as_of, now).id
        try:
            with unit_of_work():
                _scan(as_of, run=db.session.get(ScanRun, run_id), now=now)
        except Exception as error:
            log.exception("alert scan %s for %s failed", run_id, as_of)
            with unit_of_work():
                fail_scan_run(run_id, error)
            raise
    deliver_job()
    return db.session.get(ScanRun, run_id)


def scan_in_request(as_of: date, *, now: datetime) -> ScanRun:
    """The scan inside the calling request's unit of work (its actor is the request's user).
    A failure undoes the scan's work, and is raised again with a failed run recorded that the
    request commits although it answers an error."""
    try:
        with db.session.begin_nested():
            run = start_scan_run(as_of, now)
            _scan(as_of, run=run, now=now)
    except Exception as error:
        log.exception("alert scan for %s failed", as_of)
        fail_scan_run(start_scan_run(as_of, now).id, error)
        commit_even_if_refused()
        raise
    return run


def _scan(as_of: date, *, run: ScanRun, now: datetime) -> None:
    weeks = current_app.config["SHORTFALL_ALERT_WEEKS"]
    scan(
        as_of, run=run, now=now, shortfalls=shortfalls(as_of, weeks),
        adverse_signals=signals_due_in_scan(as_of),
    )  # fmt: skip


def deliver_job() -> dict:
    """Send what waits in the outbox, one message per claim, each message at most once per
    call (one that fails waits for the next call); answers counts of sent, failed and still
    queued. Each claim and each outcome is committed on its own, so that a crash mid-way never
    re-sends what went out, and no transaction is open through an SMTP talk. Deliverers running
    at once (two schedulers during a take-over, `flask alerts deliver`) share the queue: each
    message is claimed by one of them (`core.mail.claim_next`)."""
    if not mail_server_configured():
        return {"sent": 0, "failed": 0, "queued": queued_count()}
    sent = failed = 0
    last_id = 0
    while True:
        with writing(), unit_of_work():
            message = claim_next(last_id)
            if message is None:
                break
            last_id, email = message.id, compose(message)
        error = send(email)
        with writing(), unit_of_work():
            record_attempt(last_id, error)
        sent, failed = (sent + 1, failed) if error is None else (sent, failed + 1)
    return {"sent": sent, "failed": failed, "queued": queued_count()}


def run_reminders_job(now: datetime | None = None, actor: Actor = SCHEDULER) -> dict:
    """Queue the patient reminders due at `now` (default: this moment) in one transaction, then
    deliver the outbox; answers how many of each kind were queued. Run again, it queues none of
    them twice (clinic.reminders records each one under a unique key)."""
    now = now or utcnow()
    with writing(), acting_as(actor.user_id, actor.username), unit_of_work():
        counts = queue_due_reminders(now=now)
    deliver_job()
    return counts
