"""A brake on password guessing, shared by /login and /api/auth/token: too many failed
sign-ins for one username, or from one address, within FAILED_LOGIN_WINDOW block the next.

The two counts are separate: five failures for one username block that account (from
anywhere), twenty failures from one address block that address (for any account); the
client's address is the one the configured trusted proxies report (`TRUSTED_PROXIES`).

Counting is atomic: sign-ins of one username, and from one address, take a lock first (on
PostgreSQL a transaction-scoped advisory lock; SQLite's write transaction already serialises
them), check, verify the password and record a failure in that same transaction, which the
boundary commits although it answers 401. Sixteen concurrent guesses get five answers, not
sixteen."""

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core.accounts import User, authenticate
from core.clock import utcnow
from core.database import UTCDateTime, commit_even_if_refused, db
from core.errors import SignInRefused, TooManyAttempts

FAILED_LOGIN_LIMIT = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)


class FailedLogin(db.Model):
    """A wrong password, kept for FAILED_LOGIN_WINDOW."""

    __tablename__ = "failed_logins"
    __table_args__ = (
        Index("ix_failed_logins_username_at", "username", "at"),
        Index("ix_failed_logins_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def sign_in(username: str, password: str, *, address: str, now: datetime | None = None) -> User:
    """The active user with these credentials, for the pages and the JSON API alike; refused
    (SignInRefused, TooManyAttempts) while the brake is on or when the credentials are wrong."""
    _one_sign_in_at_a_time(username, address)
    if login_blocked(username, address=address, now=now):
        raise TooManyAttempts("Too many failed sign-ins: wait 15 minutes and try again.")
    user = authenticate(username, password)
    if user is None:
        record_failed_login(username, address=address, now=now)
        raise SignInRefused("Unknown username or wrong password.")
    clear_failed_logins(username)
    return user


def login_blocked(username: str, *, address: str, now: datetime | None = None) -> bool:
    """Too many recent failures for this username, or from this address."""
    since = (now or utcnow()) - FAILED_LOGIN_WINDOW
    recent = select(func.count()).select_from(FailedLogin).where(FailedLogin.at >= since)
    by_name = db.session.scalar(recent.where(FailedLogin.username == username))
    by_address = db.session.scalar(recent.where(FailedLogin.address == address[:64]))
    return by_name >= FAILED_LOGIN_LIMIT or by_address >= FAILED_LOGIN_LIMIT * 4


def record_failed_login(username: str, *, address: str, now: datetime | None = None) -> None:
    """Count a failed sign-in; the refusal's unit of work is committed all the same."""
    now = now or utcnow()
    db.session.execute(delete(FailedLogin).where(FailedLogin.at < now - FAILED_LOGIN_WINDOW))
    db.session.add(FailedLogin(username=username[:80], address=address[:64], at=now))
    db.session.flush()
    commit_even_if_refused()


def clear_failed_logins(username: str) -> None:
    db.session.execute(delete(FailedLogin).where(FailedLogin.username == username))


def _one_sign_in_at_a_time(username: str, address: str) -> None:
    """Serialise sign-ins of one username and from one address until the transaction ends
    (always in this order, so two never wait on each other)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key in (f"username:{username}", f"address:{address}"):
        digest = hashlib.sha256(key.encode()).digest()
        lock = int.from_bytes(digest[:8], "big", signed=True)
        db.session.execute(select(func.pg_advisory_xact_lock(lock)))
