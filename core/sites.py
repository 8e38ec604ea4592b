"""The clinic's sites (one clinic, or each clinic of a chain) and who works at which.

A pharmacist or a doctor works at the sites listed on their account; an administrator with no
site listed works at every site. Stock, sessions and alerts belong to a site; the rules here
say which sites a user may read and write, and which site a new record goes to when the
caller names none.
"""

import re
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app
from sqlalchemy import Column, ForeignKey, Select, String, Table, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core.database import db
from core.errors import Conflict, Forbidden, Invalid, NotFound

SITE_CODE_LENGTH = 20
SITE_NAME_LENGTH = 120
SITE_ADDRESS_LENGTH = 500
SITE_PHONE_LENGTH = 40
TIMEZONE_LENGTH = 64
# Short, printed on transfer notes and written in CSV files: "PARIS-1".
SITE_CODE = re.compile(rf"[A-Z0-9][A-Z0-9_-]{{0,{SITE_CODE_LENGTH - 1}}}")
SITE_CODE_HINT = "Capital letters, digits, - and _, up to 20 (PARIS-1)."
# The IANA names the server's time zone database knows, less the two that name no place:
# the server's own zone ("localtime") and tzdata's placeholder ("Factory").
TIMEZONE_NAMES = tuple(sorted(available_timezones() - {"localtime", "Factory"}))
TIMEZONE_HINT = "An IANA time zone name, such as Europe/Paris."
# What an administrator may change about a site.
SITE_FIELDS = frozenset({"code", "name", "address", "phone", "timezone"})
# The one role that may work at every site, by listing none (core.accounts.Role.ADMIN; this
# module sits below accounts and cannot import it).
ADMINISTRATOR = "admin"

user_sites = Table(
    "user_sites",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # A site someone works at is never deleted from under them.
    Column("site_id", ForeignKey("sites.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class Site(db.Model):
    """One clinic of the chain, with its own shelves and its own clock."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
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


def in_a_chain() -> bool:
    """Whether the clinic has several sites (pages then say which site a record is at)."""
    return len(db.session.scalars(select(Site.id).limit(2)).all()) > 1


def get_site(site_id: int) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound(f"No site with id {site_id}.")
    return site


def site_with_code(code: str) -> Site | None:
    """The site a file or a command names by its code (spelt in any case), or None."""
    return db.session.scalar(select(Site).where(Site.code == code.strip().upper()))


def create_site(
    *, code: str, name: str, timezone: str, address: str | None = None, phone: str | None = None
) -> Site:
    _check_code(code)
    _check_timezone(timezone)
    _check_code_free(code)
    site = Site(code=code, name=name, timezone=timezone, address=address, phone=phone)
    db.session.add(site)
    db.session.flush()
    return site


def update_site(site: Site, changes: dict) -> Site:
    unknown = sorted(set(changes) - SITE_FIELDS)
    if unknown:
        raise Invalid({name: ["Cannot be changed."] for name in unknown})
    if "code" in changes:
        _check_code(changes["code"])
        if changes["code"] != site.code:
            _check_code_free(changes["code"])
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    for name, value in changes.items():
        setattr(site, name, value)
    db.session.flush()
    return site


def _check_code(code: str) -> None:
    if not SITE_CODE.fullmatch(code or ""):
        raise Invalid({"code": [f"Not a site code. {SITE_CODE_HINT}"]})


def _check_timezone(timezone: str) -> None:
    # Looked up in the list, not opened: ZoneInfo reads a file named by the text it is given.
    if timezone not in TIMEZONE_NAMES:
        raise Invalid({"timezone": [f"Not a time zone. {TIMEZONE_HINT}"]})


def _check_code_free(code: str) -> None:
    if db.session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise Conflict(f"Another site has the code {code}.", {"code": ["Taken."]})


def sites_to_work_at(role: str, site_ids: list[int] | None) -> list[Site]:
    """The sites an account of this role works at, from the ids an administrator gave. A
    pharmacist or a doctor works at one site at least: given none, at the clinic's only site
    (and at none while the clinic has no site at all). An administrator given none works at
    every site."""
    if site_ids:
        return _sites_named(site_ids)
    if role == ADMINISTRATOR:
        return []
    sites = db.session.scalars(site_list().limit(2)).all()
    if len(sites) > 1:
        raise Invalid({"sites": ["Choose the sites they work at: a pharmacist or a doctor "
                                 "works at one at least."]})  # fmt: skip
    return list(sites)


def _sites_named(site_ids: list[int]) -> list[Site]:
    wanted = set(site_ids)
    sites = db.session.scalars(site_list().where(Site.id.in_(wanted))).all()
    unknown = sorted(wanted - {site.id for site in sites})
    if unknown:
        listed = ", ".join(map(str, unknown))
        raise Invalid({"sites": [f"No site with id {listed}."]})
    return list(sites)


def accounts_per_site() -> dict[int, int]:
    """How many accounts list each site (a site nobody works at is missing)."""
    counts = select(user_sites.c.site_id, func.count()).group_by(user_sites.c.site_id)
    return dict(db.session.execute(counts).all())


def works_everywhere(user) -> bool:
    """An administrator with no site listed works at every site."""
    return user.role == ADMINISTRATOR and not user.sites


def site_ids_of(user) -> list[int] | None:
    """The sites the user works at, or None for every site."""
    if works_everywhere(user):
        return None
    return sorted(site.id for site in user.sites)


def sites_listed(user, site_id: int | None) -> list[int] | None:
    """The sites a list shows: the one asked for (403 outside the user's), else every site
    the user works at (None: every site)."""
    if site_id is not None:
        return [require_site(user, site_id).id]
    return site_ids_of(user)


def works_at(user, site_id: int) -> bool:
    return works_everywhere(user) or site_id in {site.id for site in user.sites}


def require_site(user, site_id: int) -> Site:
    """The site, when the user works there; 403 when they do not (never an empty answer that
    looks like a site without stock)."""
    site = get_site(site_id)
    if not works_at(user, site.id):
        raise Forbidden(f"You do not work at {site.name}.")
    return site


def site_for_new_record(user, site_id: int | None, *, field: str = "site_id") -> Site:
    """The site a record the user makes belongs to: the one named, where they work; without
    one, their only site (or the clinic's only site); asked for (a 422 naming `field`) when
    there are several."""
    if site_id is not None:
        return require_site(user, site_id)
    candidates = db.session.scalars(site_list()).all() if works_everywhere(user) else user.sites
    return _the_only_one(candidates, field=field)


def stock_site_id(site_id: int | None, *, field: str = "site_id") -> int:
    """The site a domain call works at: the one named (which must exist), or the clinic's only
    site when it names none; in a chain, the caller must say which (a 422 naming `field`)."""
    if site_id is not None:
        if db.session.get(Site, site_id) is None:
            raise Invalid({field: [f"No site with id {site_id}."]})
        return site_id
    ids = db.session.scalars(select(Site.id).order_by(Site.id).limit(2)).all()
    return _the_only_one(ids, field=field)


def _the_only_one(candidates: list, *, field: str):
    """The one site (or its id) a record can go to without being told; a 422 naming `field`
    when there is none or there are several."""
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise Invalid({field: ["No site to put it at: an administrator adds one first."]})
    raise Invalid({field: ["Choose the site: there are several."]})


def default_site_values() -> dict:
    """The clinic's first site, as configured (CLINIC_NAME, CLINIC_ADDRESS, CLINIC_PHONE and
    CLINIC_TIMEZONE)."""
    config = current_app.config
    return {
        "code": "MAIN",
        "name": config.get("CLINIC_NAME") or "Main site",
        "address": config.get("CLINIC_ADDRESS") or None,
        "phone": config.get("CLINIC_PHONE") or None,
        "timezone": config["CLINIC_TIMEZONE"],
    }


def ensure_a_site() -> Site | None:
    """The clinic's first site, made from its configuration when the database has no site yet
    (one built without the migrations, which make it); None when there already is one."""
    if db.session.scalar(select(Site.id).limit(1)) is not None:
        return None
    return create_site(**default_site_values())
