"""Users, their roles and their API tokens."""

import enum
import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, bindparam, delete, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.clock import utcnow
from core.database import UTCDateTime, db
from core.errors import Conflict, Invalid, NotFound
from core.sites import Site, sites_to_work_at, user_sites

PASSWORD_MIN_LENGTH = 12


class Role(enum.StrEnum):
    PHARMACIST = "pharmacist"
    DOCTOR = "doctor"
    ADMIN = "admin"


ALL_ROLES = tuple(Role)
# Who keeps the stock and the formulary; who sees patients. The administrator is in both.
PHARMACY_ROLES = (Role.PHARMACIST, Role.ADMIN)
CLINICAL_ROLES = (Role.DOCTOR, Role.ADMIN)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[Role] = mapped_column(
        db.Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(default=True)
    alert_emails: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    web_sessions: Mapped[list["WebSession"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    # Where they work (core.sites); none, for an administrator, means every site.
    sites: Mapped[list[Site]] = relationship(secondary=user_sites, order_by=Site.name)

    # Flask-Login reads `is_active`; the column is named as the API names it.
    @property
    def is_active(self) -> bool:
        return self.active

    def set_password(self, password: str) -> None:
        if len(password) < PASSWORD_MIN_LENGTH:
            raise Invalid(
                {"password": [f"Must be at least {PASSWORD_MIN_LENGTH} characters long."]}
            )
        self.password_hash = generate_password_hash(
            password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        )
        # Whoever knew the old password may hold a token or a signed-in browser: both end.
        revoke_sign_ins(self)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A bearer token. Only its SHA-256 is stored: a leaked table hands out no sessions."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class WebSession(db.Model):
    """A browser signed in to the pages. The session cookie carries the key; only its SHA-256
    is stored. Signing out, a password change or a deactivation deletes the row, and the cookie
    then opens nothing (Flask's cookie alone cannot be taken back)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="web_sessions")


@functools.cache
def _decoy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    username: str,
    role: Role | str,
    *,
    password: str,
    email: str | None = None,
    active: bool = True,
    alert_emails: bool = False,
    site_ids: list[int] | None = None,
) -> User:
    """A new account; `site_ids` are where they work (core.sites.sites_to_work_at)."""
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"A user named {username!r} already exists.", {"username": ["Taken."]})
    user = User(
        username=username,
        role=Role(role),
        email=email,
        active=active,
        alert_emails=alert_emails,
        sites=sites_to_work_at(Role(role), site_ids),
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


USER_FIELDS = frozenset({"role", "email", "active", "alert_emails", "password", "sites"})


def update_user(user: User, changes: dict, *, by: User) -> User:
    """Change what an administrator may change about an account, and nothing else. Nobody
    switches themselves off or takes away their own administration: a clinic must not lose its
    last administrator to a slip of the finger."""
    unknown = sorted(set(changes) - USER_FIELDS)
    if unknown:
        raise Invalid(
            "These cannot be changed.", {name: ["Cannot be changed."] for name in unknown}
        )
    if user.id == by.id:
        _refuse_locking_oneself_out(user, changes)
    if "role" in changes:
        user.role = Role(changes["role"])
    # `sites` are ids; an administrator of every site made a pharmacist or a doctor needs one.
    if "sites" in changes or ("role" in changes and not user.sites):
        sites = sites_to_work_at(user.role, changes.get("sites"))
        if set(sites) != set(user.sites):
            user.sites = sites
    if "email" in changes:
        user.email = changes["email"] or None
    if "alert_emails" in changes:
        user.alert_emails = bool(changes["alert_emails"])
    if changes.get("password") is not None:
        user.set_password(changes["password"])
    if "active" in changes and bool(changes["active"]) != user.active:
        user.active = bool(changes["active"])
        if not user.active:
            revoke_sign_ins(user)  # reactivating later never revives them
    db.session.flush()
    return user


def _refuse_locking_oneself_out(user: User, changes: dict) -> None:
    if "active" in changes and not changes["active"]:
        raise Conflict("You cannot deactivate your own account.", {"active": ["That is you."]})
    if "role" in changes and Role(changes["role"]) != user.role:
        raise Conflict(
            "You cannot change your own role; ask another administrator.",
            {"role": ["That is you."]},
        )


def revoke_sign_ins(user: User) -> None:
    """End every token and every signed-in browser of the user."""
    if user.id is None:
        return
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    db.session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    db.session.expire(user, ["tokens", "web_sessions"])


def revoke_token(token: str) -> None:
    """End one bearer token (the caller's own, at sign-out)."""
    db.session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_token(token)))


def start_web_session(user: User) -> str:
    """A new signed-in browser; the key is returned once, for the session cookie."""
    key = secrets.token_urlsafe(32)
    db.session.add(WebSession(user=user, key_hash=hash_token(key)))
    db.session.flush()
    return key


def end_web_session(key: str | None) -> None:
    if key:
        db.session.execute(delete(WebSession).where(WebSession.key_hash == hash_token(key)))


def web_session_user(user_id: int, key: str | None) -> User | None:
    """The active user a browser's session cookie stands for, while its sign-in lasts."""
    if not key:
        return None
    return db.session.scalar(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(User.id == user_id, User.active.is_(True), WebSession.key_hash == hash_token(key))
    )


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None (the caller does not learn which part
    was wrong)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        # Check a hash anyway so that an unknown name takes as long as a wrong password.
        check_password_hash(_decoy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def issue_token(
    user: User, lifetime: timedelta, *, now: datetime | None = None
) -> tuple[str, ApiToken]:
    """A new random token for the user; the clear text is returned once and never stored."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    record = ApiToken(user=user, token_hash=hash_token(token), expires_at=now + lifetime)
    db.session.add(record)
    db.session.flush()
    return token, record


# The look-up every API request starts with, built once: a request pays for its query, not
# for building and keying the statement again.
_TOKEN_OWNER = (
    select(User, ApiToken.expires_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def user_for_token(token: str, now: datetime | None = None) -> User | None:
    """The active user a token belongs to, unless the token has expired: one indexed query
    (the token by its hash, its user joined), the cost every API request starts with."""
    now = now or utcnow()
    found = db.session.execute(_TOKEN_OWNER, {"token_hash": hash_token(token)}).first()
    if found is None or found.expires_at <= now or not found.User.active:
        return None
    return found.User
