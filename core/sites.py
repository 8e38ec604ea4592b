"""The clinic's sites (one clinic, or each clinic of a chain) and who works at which.

A pharmacist or a doctor works at the sites listed on their account; an administrator with no
site listed works at every site. Stock, sessions and alerts belong to a site; the rules here
say which sites a user may read and write, and which site a new record goes to when the
caller names none.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import Column, ForeignKey, Select, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from core.database import db
from core.errors import Conflict, Forbidden, Invalid, NotFound

SITE_CODE_LENGTH = 20
SITE_NAME_LENGTH = 120
SITE_PHONE_LENGTH = 40
TIMEZONE_LENGTH = 64

user_sites = Table(
    "user_sites",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class Site(db.Model):
    """One clinic of the chain, with its own shelves and its own clock."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Short, printed on transfer notes and in CSV files: "PARIS-1".
    code: Mapped[str] = mapped_column(String(SITE_CODE_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(SITE_NAME_LENGTH))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(SITE_PHONE_LENGTH))
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_LENGTH))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def site_list() -> Select:
    return select(Site).order_by(Site.name, Site.id)


def get_site(site_id: int) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound("No such site.")
    return site


def create_site(
    *, code: str, name: str, timezone: str, address: str | None = None, phone: str | None = None
) -> Site:
    _check_timezone(timezone)
    _check_code_free(code)
    site = Site(code=code, name=name, timezone=timezone, address=address, phone=phone)
    db.session.add(site)
    db.session.flush()
    return site


def update_site(site: Site, changes: dict) -> Site:
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    if changes.get("code", site.code) != site.code:
        _check_code_free(changes["code"])
    for name, value in changes.items():
        setattr(site, name, value)
    db.session.flush()
    return site


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid({"timezone": ["Not a time zone (write it as Europe/Paris)."]}) from None


def _check_code_free(code: str) -> None:
    if db.session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise Conflict(f"Another site has the code {code}.")


def works_everywhere(user) -> bool:
    """An administrator with no site listed works at every site."""
    return user.role == "admin" and not user.sites


def site_ids_of(user) -> list[int] | None:
    """The sites the user works at, or None for every site."""
    if works_everywhere(user):
        return None
    return sorted(site.id for site in user.sites)


def require_site(user, site_id: int) -> Site:
    """The site, when the user works there; 403 when they do not (never an empty answer that
    looks like a site without stock)."""
    site = get_site(site_id)
    if not works_everywhere(user) and site not in user.sites:
        raise Forbidden(f"You do not work at {site.name}.")
    return site


def site_for_new_record(user, site_id: int | None) -> Site:
    """The site a record the user makes belongs to: the one named, where they work; without
    one, their only site (or the clinic's only site); asked for when there are several."""
    if site_id is not None:
        return require_site(user, site_id)
    candidates = db.session.scalars(site_list()).all() if works_everywhere(user) else user.sites
    if len(candidates) == 1:
        return candidates[0]
    raise Invalid({"site_id": ["Choose the site: there are several."]})


def default_site_values() -> dict:
    """The site an upgraded database puts everything at: the clinic as configured."""
    config = current_app.config
    return {
        "code": "MAIN",
        "name": config.get("CLINIC_NAME") or "Main site",
        "address": config.get("CLINIC_ADDRESS") or None,
        "phone": config.get("CLINIC_PHONE") or None,
        "timezone": config["CLINIC_TIMEZONE"],
    }
