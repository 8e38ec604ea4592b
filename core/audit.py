"""The audit log, written centrally from the ORM's flush: every insert, update and delete of
an audited model is recorded with the acting user, whichever route, command or job made it.

The acting user is a context variable that the request or command sets (`acting_as`).
Writes made with bulk Core statements bypass the flush; such operations (a CSV import) record
one summary entry themselves with `record`.
"""

import contextlib
import contextvars
import dataclasses
import datetime as dt
import decimal
import enum
from datetime import datetime

from sqlalchemy import JSON, Index, Select, String, event, func, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from core.clock import clinic_timezone, utcnow
from core.database import UTCDateTime, db
from core.errors import Invalid

# Never copied into the log.
SECRET_COLUMNS = {"password_hash", "token_hash"}
# Bookkeeping tables whose rows are not business writes.
UNAUDITED_TABLES = {"audit_log", "api_tokens", "outbox", "failed_logins", "scan_runs"}


@dataclasses.dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str


SYSTEM = Actor(None, "system")
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("audit_actor", default=SYSTEM)


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_user_id_at", "user_id", "at"),
        Index("ix_audit_log_username_at", "username", "at"),
        Index("ix_audit_log_entity_at", "entity", "entity_id", "at"),
        Index("ix_audit_log_at_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No foreign key: the log outlives what it describes, users included.
    user_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)


def current_actor() -> Actor:
    return _actor.get()


@contextlib.contextmanager
def acting_as(user_id: int | None, username: str):
    token = _actor.set(Actor(user_id, username))
    try:
        yield
    finally:
        _actor.reset(token)


def set_actor(user_id: int | None, username: str) -> None:
    """For a request: the actor holds until the request's context ends."""
    _actor.set(Actor(user_id, username))


def record(action: str, entity: str, *, entity_id=None, changes: dict | None = None) -> None:
    """An entry for a write that bypasses the ORM flush (bulk statements)."""
    entry = _entry(db.session(), action, entity, entity_id, changes or {})
    db.session.execute(insert(AuditEntry).values(entry))


def audit_entries(
    username: str | None = None,
    user_id: int | None = None,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Select:
    """The log, newest first, narrowed by who, what and which clinic days (both included)."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    return _narrowed(
        stmt,
        username=username,
        user_id=user_id,
        entity=entity,
        entity_id=entity_id,
        date_from=date_from,
        date_to=date_to,
    )


def audit_writes(
    *,
    username: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Select:
    """One row (`at`, `username`, `records`) per write (a transaction: its entries share one
    moment and one actor), newest first: the writes that touched what the filters name."""
    stmt = (
        select(AuditEntry.at, AuditEntry.username, func.count().label("records"))
        .group_by(AuditEntry.at, AuditEntry.username)
        .order_by(AuditEntry.at.desc(), AuditEntry.username)
    )
    return _narrowed(
        stmt,
        username=username,
        entity=entity,
        entity_id=entity_id,
        date_from=date_from,
        date_to=date_to,
    )


def entries_of_writes(writes) -> list[AuditEntry]:
    """Every entry of the given writes (rows of `audit_writes`), in the order they were made."""
    keys = {(write.at, write.username) for write in writes}
    if not keys:
        return []
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.at.in_({at for at, _ in keys})).order_by(AuditEntry.id)
    )
    return [entry for entry in entries if (entry.at, entry.username) in keys]


def _narrowed(
    stmt: Select,
    *,
    username=None,
    user_id=None,
    entity=None,
    entity_id=None,
    date_from=None,
    date_to=None,
) -> Select:
    if date_from is not None and date_to is not None and date_from > date_to:
        message = "The end of the period comes before its start."
        raise Invalid({"date_to": [message]}, message)
    if username:
        stmt = stmt.where(AuditEntry.username == username)
    if user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == user_id)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if date_from is not None:
        stmt = stmt.where(AuditEntry.at >= _start_of_clinic_day(date_from))
    if date_to is not None:
        stmt = stmt.where(AuditEntry.at < _start_of_clinic_day(date_to + dt.timedelta(days=1)))
    return stmt


def _start_of_clinic_day(day: dt.date) -> datetime:
    return datetime.combine(day, dt.time.min, tzinfo=clinic_timezone())


def _entry(session: Session, action: str, entity: str, entity_id, changes: dict) -> dict:
    actor = current_actor()
    return {
        "at": _moment_of_write(session),
        "user_id": actor.user_id,
        "username": actor.username,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "changes": changes,
    }


def _entry_of(session: Session, action: str, obj, changes: dict) -> dict:
    return _entry(session, action, obj.__tablename__, _identity(obj), changes)


def _moment_of_write(session: Session) -> datetime:
    # Every entry of one transaction shares its moment, so the log reads a write as one row.
    return session.info.setdefault("audit_moment", utcnow())


@event.listens_for(Session, "after_transaction_end")
def _forget_the_moment_of_write(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("audit_moment", None)


def _jsonable(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, db.Model):
        return _identity(value)
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return value


def _identity(obj) -> str | None:
    # Read from the attributes: during a flush a new row has its key but no identity yet.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    if any(part is None for part in key):
        return None
    return ",".join(str(part) for part in key)


def _column_values(obj) -> dict:
    state = inspect(obj)
    return {
        attr.key: _jsonable(getattr(obj, attr.key))
        for attr in state.mapper.column_attrs
        if attr.key not in SECRET_COLUMNS
    }


def _created_values(obj) -> dict:
    """A new row's columns, and the ids each many-to-many collection starts with (a user's
    sites: rows of an association table, which the flush writes without an object of their
    own)."""
    values = _column_values(obj)
    state = inspect(obj)
    for prop in state.mapper.relationships:
        if prop.uselist and prop.secondary is not None:
            added = state.attrs[prop.key].history.added
            if added:
                values[prop.key] = {"added": [_identity(o) for o in added], "removed": []}
    return values


def _changed_values(obj) -> dict:
    """Old and new value of each changed column, and ids added to or removed from each
    many-to-many collection."""
    state = inspect(obj)
    changes = {}
    for attr in state.attrs:
        history = attr.history
        if not history.has_changes():
            continue
        if attr.key in SECRET_COLUMNS:
            changes[attr.key] = "changed"
            continue
        prop = state.mapper.attrs[attr.key]
        if hasattr(prop, "direction"):  # a relationship
            if not prop.uselist or prop.secondary is None:
                continue
            changes[attr.key] = {
                "added": [_identity(o) for o in history.added],
                "removed": [_identity(o) for o in history.deleted],
            }
        else:
            changes[attr.key] = {
                "old": _jsonable(history.deleted[0]) if history.deleted else None,
                "new": _jsonable(history.added[0]) if history.added else None,
            }
    return changes


def _audited(obj) -> bool:
    return isinstance(obj, db.Model) and obj.__tablename__ not in UNAUDITED_TABLES


@event.listens_for(Session, "after_flush")
def _write_audit_entries(session: Session, flush_context) -> None:
    # In after_flush the new rows have their ids and every attribute still holds its history.
    entries = []
    for obj in session.new:
        if _audited(obj):
            entries.append(_entry_of(session, "create", obj, _created_values(obj)))
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj):
            changes = _changed_values(obj)
            if changes:
                entries.append(_entry_of(session, "update", obj, changes))
    # Rows a delete-orphan cascade removed (a serum's replaced components, a substance's
    # replaced synonyms) are deleted by the flush itself and never were in session.deleted.
    deleted = {id(obj): obj for obj in session.deleted}
    deleted.update((id(obj), obj) for obj in session.info.pop("deleted_in_flush", []))
    for obj in deleted.values():
        if _audited(obj):
            entries.append(_entry_of(session, "delete", obj, _column_values(obj)))
    if entries:
        session.connection().execute(insert(AuditEntry), entries)


@event.listens_for(db.Model, "after_delete", propagate=True)
def _remember_deleted_row(mapper, connection, target) -> None:
    session = object_session(target)
    if session is not None:
        session.info.setdefault("deleted_in_flush", []).append(target)
