"""The database handle shared by every domain package, and the unit of work.

Flask-SQLAlchemy's `db` lives here rather than in `api/` so that `formulary/`, `clinic/` and
`inventory/` can define models without importing a boundary. Domain functions change the
session and flush; only a boundary (a request, a command, a scheduled job) ends the
transaction, through `unit_of_work` or `end_unit_of_work`.
"""

import contextlib
import contextvars
import enum
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, TypeDecorator, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that Alembic can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# One page of a list, in the API and on the pages.
PAGE_SIZE = 50
# Ids are 32-bit integer columns on every database.
MAX_ID = 2**31 - 1


def value_enum(enum_class: type[enum.Enum], length: int = 20):
    """An enum stored as its value in a plain string column with a CHECK, alike on every
    database (no PostgreSQL enum types to migrate)."""
    return db.Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


# Set by the request or command that is about to write. On SQLite a write transaction must
# take the write lock when it begins: a deferred transaction that reads first and writes later
# fails with "database is locked" instead of waiting when another writer got in between.
sqlite_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sqlite_write_intent", default=False
)


@contextlib.contextmanager
def writing():
    """On SQLite, begin each transaction with the write lock (as write requests do): a job
    that read first and wrote later would fail with "database is locked" instead of waiting."""
    token = sqlite_write_intent.set(True)
    try:
        yield
    finally:
        sqlite_write_intent.reset(token)


@contextlib.contextmanager
def unit_of_work(*, commit: bool = True):
    """One transaction for a command or a job: committed when the block ends (rolled back for
    a read, `commit=False`), rolled back when it raises."""
    try:
        yield db.session
    except BaseException:
        end_unit_of_work(commit=False)
        raise
    end_unit_of_work(commit=commit)


def end_unit_of_work(*, commit: bool) -> None:
    """Commit or roll back what the boundary's work wrote. A unit marked with
    `commit_even_if_refused` is committed either way."""
    kept = db.session.info.pop("commit_even_if_refused", False)
    if commit or kept:
        db.session.commit()
    else:
        db.session.rollback()


def commit_even_if_refused() -> None:
    """Have the boundary commit this unit of work even when it refuses (answers an error, or
    its block raises): for the one record a refusal must leave behind, a failed sign-in or a
    failed scan run. The caller has undone (with a savepoint) or never made any other change,
    and takes its locks first, so that what it records is counted by the next request."""
    db.session.info["commit_even_if_refused"] = True


def widen_sqlite_page_cache() -> None:
    """SQLite's default 2 MB page cache spills the indexes to disk over and over when one
    statement inserts tens of thousands of rows (a first alert scan, a lot import); 64 MB keeps
    them in memory (this connection only)."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("PRAGMA cache_size = -65536"))


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented recipe is
    # to switch it off and emit BEGIN ourselves (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 15000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection):
    if connection.dialect.name != "sqlite":
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_write_intent.get() else "BEGIN")


class UTCDateTime(TypeDecorator):
    """A moment stored in UTC and always read back timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: say which timezone the moment is in")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


# The longest free text a person may write, checked at every boundary (the columns are Text):
# a reason for a stock movement, a recall, an override or a cancellation, and a note.
REASON_LENGTH = 500
NOTE_LENGTH = 2000
