"""Stock counts: a blind count sheet of a site's lots, what the shelf holds (by lot or
barcode), its submission against the ledger, and its approval into `adjust` movements
(pharmacists)."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.counts import (
    CountCreateSchema,
    CountEntrySchema,
    CountQuerySchema,
    CountSchema,
    CountSummarySchema,
)
from core.accounts import PHARMACY_ROLES, Role
from core.clock import utcnow
from core.sites import site_for_new_record, sites_listed
from inventory import counts

blp = Blueprint(
    "counts",
    __name__,
    url_prefix="/api",
    description="Stock counts: blind cycle counts of a site's shelves, approved into the ledger.",
)


@blp.route("/counts", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(CountQuerySchema, location="query")
@blp.response(200, CountSummarySchema(many=True))
@blp.paginate(**PAGINATION)
def list_counts(filters, pagination_parameters):
    """Newest first, without their lines (`GET /api/counts/{id}` has them)."""
    site_ids = sites_listed(current_api_user(), filters.pop("site_id", None))
    listed = counts.count_list(site_ids=site_ids, **filters)
    return paginate(listed, pagination_parameters)


@blp.route("/counts", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(CountCreateSchema)
@blp.response(201, CountSchema)
def start_count(fields):
    """An open count whose sheet lists the lots to count, without their quantities (a blind
    count: `expected` and `variance` stay null until it is submitted). At most
    500 lots a sheet (a 422: count one storage or some products at a time)."""
    user = current_api_user()
    site = site_for_new_record(user, fields.pop("site_id", None))
    return counts.start_count(site.id, user=user, now=utcnow(), **fields)


@blp.route("/counts/<id:count_id>", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, CountSchema)
def read_count(count_id):
    return _at_my_site(count_id)


@blp.route("/counts/<id:count_id>/lines", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(CountEntrySchema(many=True))
@blp.response(200, CountSchema)
def enter_counts(entries, count_id):
    """What the shelf holds, lot by lot, as a list of entries (errors name each by its place
    in the list: `0.barcode`). A lot of the site that the sheet did not list joins it (`added`);
    a lot of another site is a 422 naming the entry."""
    _at_my_site(count_id)
    counts.record_counts(
        count_id,
        [counts.Entry(field=str(n), **entry) for n, entry in enumerate(entries)],
        user=current_api_user(),
        now=utcnow(),
    )
    return counts.get_count(count_id)


@blp.route("/counts/<id:count_id>/submit", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.response(200, CountSchema)
def submit_count(count_id):
    """Compare with the ledger now: `expected` is each lot's quantity on hand at this moment
    (what moved during the count is accounted for), a line never entered is counted 0 (not
    found on the shelf), `variance` is counted - expected."""
    _at_my_site(count_id)
    return counts.submit_count(count_id, user=current_api_user(), now=utcnow())


@blp.route("/counts/<id:count_id>/approve", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.response(200, CountSchema)
def approve_count(count_id):
    """One `adjust` movement per non-zero variance, of the variance recorded at submission
    (what moved since is already in the ledger), its reason naming the count's reference.
    When `needs_second_approval`, the pharmacist who submitted it gets a 409. Of two
    approvals at once, one adjusts and the other is a 409."""
    _at_my_site(count_id)
    return counts.approve_count(count_id, user=current_api_user(), now=utcnow())


@blp.route("/counts/<id:count_id>/cancel", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.response(200, CountSchema)
def cancel_count(count_id):
    """Drop an open or submitted count; nothing is adjusted."""
    _at_my_site(count_id)
    return counts.cancel_count(count_id, user=current_api_user(), now=utcnow())


def _at_my_site(count_id: int):
    return counts.count_for(current_api_user(), count_id)
