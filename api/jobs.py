"""The alert jobs as the command line, the API and the scheduler run them: each is the boundary
that commits (the domain functions it calls never do).

`run_scan_job` records the run before the work starts (so a run that dies is seen as
`running`), does the scan and queues its digests in one transaction, records a failure in a
transaction of its own, and only then tries to send the outbox: a mail server that is down
never undoes alerts already stored.
"""

import contextlib
import logging
from datetime import date, datetime

from flask import current_app

from clinic.forecast import shortfalls
from core.audit import Actor, acting_as
from core.clock import clinic_today, utcnow
from core.database import db, sqlite_write_intent
from core.mail import deliver_outbox
from inventory.alerts import ScanRun, fail_scan_run, scan, start_scan_run

log = logging.getLogger(__name__)


@contextlib.contextmanager
def writing():
    """On SQLite, begin each transaction with the write lock (as write requests do): a scan
    that read first and wrote later would fail with "database is locked" instead of waiting."""
    token = sqlite_write_intent.set(True)
    try:
        yield
    finally:
        sqlite_write_intent.reset(token)


SCHEDULER = Actor(None, "scheduler")


def run_scan_job(
    as_of: date | None = None, now: datetime | None = None, actor: Actor = SCHEDULER
) -> ScanRun:
    """Scan for `as_of` (default: the clinic's today), commit, then deliver the outbox.
    A failed scan is recorded as failed, with its error, and raised again."""
    now = now or utcnow()
    as_of = as_of or clinic_today(now)
    with writing(), acting_as(actor.user_id, actor.username):
        # A transaction already open (a request's token lookup) would hold a plain BEGIN.
        db.session.commit()
        run = start_scan_run(as_of, now)
        db.session.commit()
        run_id = run.id
        try:
            weeks = current_app.config["SHORTFALL_ALERT_WEEKS"]
            scan(as_of, run=run, now=now, shortfalls=shortfalls(as_of, weeks))
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            log.exception("alert scan %s for %s failed", run_id, as_of)
            fail_scan_run(run_id, error)
            db.session.commit()
            raise
    deliver_job()
    return db.session.get(ScanRun, run_id)


def deliver_job() -> dict:
    """Send what waits in the outbox; a failure leaves the message queued for the next try.
    (No write lock taken up front: it would be held through each SMTP conversation.)"""
    db.session.commit()
    return deliver_outbox()
