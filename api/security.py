"""Browser-facing protections: security headers on every answer, and a brake on password
guessing at /login and /api/auth/token."""

from datetime import datetime, timedelta

from flask import Flask, request
from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import UTCDateTime, db

# No inline script anywhere in the app's own pages; Swagger UI (a third-party page) needs its
# inline initialiser, so /api/docs alone gets it.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SWAGGER_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

FAILED_LOGIN_LIMIT = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)


class FailedLogin(db.Model):
    """A wrong password, kept for FAILED_LOGIN_WINDOW so that every worker process sees the
    same count."""

    __tablename__ = "failed_logins"
    __table_args__ = (
        Index("ix_failed_logins_username_at", "username", "at"),
        Index("ix_failed_logins_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def login_blocked(username: str, now: datetime | None = None) -> bool:
    """Too many recent failures for this username, or from this address."""
    since = (now or utcnow()) - FAILED_LOGIN_WINDOW
    recent = select(func.count()).select_from(FailedLogin).where(FailedLogin.at >= since)
    by_name = db.session.scalar(recent.where(FailedLogin.username == username))
    by_address = db.session.scalar(recent.where(FailedLogin.address == _address()))
    return by_name >= FAILED_LOGIN_LIMIT or by_address >= FAILED_LOGIN_LIMIT * 4


def record_failed_login(username: str) -> None:
    """Stored in its own transaction: the request that failed is rolled back, this is not."""
    db.session.rollback()
    db.session.execute(delete(FailedLogin).where(FailedLogin.at < utcnow() - FAILED_LOGIN_WINDOW))
    db.session.add(FailedLogin(username=username[:80], address=_address()))
    db.session.commit()


def clear_failed_logins(username: str) -> None:
    db.session.execute(delete(FailedLogin).where(FailedLogin.username == username))


def _address() -> str:
    return (request.remote_addr or "unknown")[:64]


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        is_docs = request.path.startswith("/api/docs")
        response.headers.setdefault("Content-Security-Policy", SWAGGER_CSP if is_docs else CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
