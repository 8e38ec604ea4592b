"""Which of several `flask scheduler run` processes works: the one that holds the scheduler lock.

On PostgreSQL a deployment may run two schedulers (or more) against one database, so that one
can stop, crash or lose its host without the daily scan and the outbox stopping too. Each takes
the lock with `pg_try_advisory_lock` on a connection of its own, held open for the process's
life; the one that gets it works, every other one stands by and tries again every
SCHEDULER_LEADER_POLL_SECONDS. PostgreSQL releases a session's advisory lock when the session
ends however it ends (a clean stop, `kill -9`, a crashed host once the server's TCP keepalives
give up on it), so a standby takes over within a poll interval of that, with no lease to expire
and no clocks to agree. A working scheduler checks as often that its session still holds the
lock, and stops when it does not (the database restarted, an administrator ended the session),
for its supervisor to start it again as a standby.

An advisory lock rather than a lease row: no table, no heartbeat writes, no expiry to tune
against pauses, and a dead holder is noticed by the database itself. It needs a session of its
own: behind PgBouncer the scheduler must connect in session mode (or directly), never through
transaction pooling, which would hand the lock's session to other clients.

SQLite has no such lock: a SQLite deployment runs one scheduler, and this module lets it work
without asking.
"""

import contextlib
import logging
import os
import socket

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# Beside inventory.alerts.scans.SCAN_LOCK, in the same key space of advisory locks.
SCHEDULER_LOCK = 7_300_002

# The lock's session tells who holds it (pg_stat_activity.application_name), and both ends
# give up on a silent peer within about 30 s: the server then ends the session of a vanished
# host (releasing the lock for a standby), and the client stops waiting on a vanished server.
_KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
_CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

HOLDER_QUERY = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
    " AND pid = pg_backend_pid() AND granted AND classid = 0 AND objid = :key AND objsubid = 1)"
)


def holder_name() -> str:
    """How the lock's session names itself: the host and process id of this scheduler."""
    return f"scheduler {socket.gethostname()}:{os.getpid()}"[:63]


class SchedulerLock:
    """The PostgreSQL session advisory lock that lets one scheduler work."""

    shared = True

    def __init__(self, url: URL):
        self._engine = create_engine(
            url,
            poolclass=NullPool,
            # The lock belongs to the session; no transaction is ever left open on it.
            isolation_level="AUTOCOMMIT",
            connect_args={
                "application_name": holder_name(),
                "options": _KEEPALIVES,
                **_CLIENT_KEEPALIVES,
            },
        )
        self._connection: Connection | None = None

    def try_take(self) -> bool:
        """Take the lock if no other session holds it; False when another does or the database
        cannot be reached (the next try reconnects)."""
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
            return bool(
                self._connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK}
                )
            )
        except DBAPIError as error:
            log.warning("could not ask for the scheduler lock: %s", error)
            self._drop_connection()
            return False

    def still_held(self) -> bool:
        """Whether this process's session still holds the lock. A session that ended (and any
        new one SQLAlchemy would open in its place) does not."""
        if self._connection is None:
            return False
        try:
            return bool(self._connection.scalar(HOLDER_QUERY, {"key": SCHEDULER_LOCK}))
        except DBAPIError as error:
            log.error("the scheduler lock's session failed: %s", error)
            self._drop_connection()
            return False

    def release(self) -> None:
        """Give the lock up by ending its session."""
        self._drop_connection()
        self._engine.dispose()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            # A session that is gone already took the lock with it.
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None


class AloneOnSQLite:
    """SQLite's stand-in: one scheduler per deployment, which always works."""

    shared = False

    def try_take(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def scheduler_lock(url: URL) -> SchedulerLock | AloneOnSQLite:
    """The lock for the database at `url`."""
    if url.get_backend_name() == "postgresql":
        return SchedulerLock(url)
    return AloneOnSQLite()
