"""The doctor's home: the sessions planned today and in the days after it, across patients,
each with its patient, serum and the verdict of the safety screen now, linking to the patient.

`?as_of=YYYY-MM-DD` looks at the agenda as of another day (the clinic's today by default).
The sessions are those of the site chosen in the header, else of every site the doctor works
at, each then saying which site it is at.
"""

from flask import Blueprint, render_template

from clinic.agenda import agenda_entries, planned_sessions_query, week_from
from core.accounts import CLINICAL_ROLES
from core.clock import clinic_today
from core.sites import in_a_chain
from web.pages import as_of_argument, page_of, role_page
from web.sites import shown_site_ids

bp = Blueprint("doctor_today", __name__)


@bp.route("/today")
@role_page(*CLINICAL_ROLES)
def today():
    as_of = as_of_argument(clinic_today())
    first, last = week_from(as_of)
    site_ids = shown_site_ids()
    page = page_of(planned_sessions_query(first=first, last=last, site_ids=site_ids))
    entries = agenda_entries(page.items)
    return render_template(
        "doctor/today.html",
        as_of=as_of,
        last=last,
        page=page,
        today_entries=[e for e in entries if e.session.scheduled_date == as_of],
        week_entries=[e for e in entries if e.session.scheduled_date != as_of],
        # Several sites shown: each session says which it is at.
        show_sites=in_a_chain() and (site_ids is None or len(site_ids) > 1),
    )
