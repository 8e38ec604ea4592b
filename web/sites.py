"""The site switcher: someone who works at several sites chooses which one the stock pages
show (or all of theirs), and that choice is kept in their session. The site chosen is also
where the board receives and dispenses."""

from flask import Blueprint, abort, redirect, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from core.database import db
from core.errors import Invalid
from core.sites import (
    Site,
    site_for_new_record,
    site_list,
    sites_listed,
    works_at,
    works_everywhere,
)
from web.auth import _safe_next

bp = Blueprint("sites_switch", __name__)

# The session's key for the chosen site's id; missing: every site of the user's.
CHOSEN = "site_id"
ALL_MY_SITES = ""


def sites_to_choose() -> list[Site]:
    """The sites the signed-in user works at, by name (every site for an administrator of
    all sites)."""
    if works_everywhere(current_user):
        return list(db.session.scalars(site_list()))
    return sorted(current_user.sites, key=lambda site: (site.name, site.id))


def chosen_site_id() -> int | None:
    """The site the user chose, while they still work there; None: all their sites."""
    chosen = session.get(CHOSEN)
    if chosen is None:
        return None
    if works_everywhere(current_user):
        exists = db.session.scalar(select(Site.id).where(Site.id == chosen))
        return chosen if exists is not None else None
    return chosen if chosen in {site.id for site in current_user.sites} else None


def shown_site_ids() -> list[int] | None:
    """The sites the stock pages show: the chosen one, else every site of the user's (None:
    every site)."""
    return sites_listed(current_user, chosen_site_id())


def site_for_the_page() -> Site:
    """Where the board receives and dispenses: the chosen site, else the user's only site;
    with several and none chosen, a 422 asking for one (core.sites.site_for_new_record)."""
    try:
        return site_for_new_record(current_user, chosen_site_id())
    except Invalid as error:
        raise Invalid(error.errors, message="Choose a site in the header first.") from None


@bp.app_context_processor
def site_switcher():
    # A function, not a list: only the header of a signed-in user pays for its query.
    return {"site_switcher": _switcher}


def _switcher() -> dict | None:
    """What the header's switcher shows, or None for someone at one site only."""
    sites = sites_to_choose()
    if len(sites) < 2:
        return None
    return {"sites": sites, "chosen": chosen_site_id()}


@bp.route("/site", methods=["POST"])
@login_required
def choose_site():
    """Keep the site chosen (blank: all my sites) and go back to the page it was chosen on."""
    choice = request.form.get("site_id", ALL_MY_SITES)
    if choice == ALL_MY_SITES:
        session.pop(CHOSEN, None)
    else:
        if not choice.isdigit() or int(choice) not in {site.id for site in sites_to_choose()}:
            abort(403)
        session[CHOSEN] = int(choice)
    return redirect(_safe_next(request.form.get("next")) or url_for("web.home"))


def refuse_outside_its_site(site_id: int | None) -> None:
    """A record of a site the signed-in user does not work at is a 403 on every page and
    action of it (None: no such record, left to the page's own 404)."""
    if site_id is None or not current_user.is_authenticated:
        return
    if not works_at(current_user, site_id):
        abort(403)
