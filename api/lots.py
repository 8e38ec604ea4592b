"""Lots: receipt (fields, GS1 barcode or Digital Link), lists with expiry filters,
transitions, the ledger of one lot, its recall trace and its printable label."""

from flask import current_app, render_template

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, AfterSchema, paginate_after
from api.schemas.lots import (
    LOT_ROW,
    AdjustSchema,
    DisposeSchema,
    LotQuerySchema,
    LotReceiveSchema,
    LotSchema,
    MovementSchema,
    OpenSchema,
    QuarantineSchema,
    RecallSchema,
    TraceSchema,
)
from clinic.recall import trace_to_patients
from core.accounts import ALL_ROLES, PHARMACY_ROLES, Role
from core.clock import utcnow
from core.sites import require_site, site_for_new_record, sites_listed
from inventory import lots
from inventory.labels import lot_label
from inventory.ledger import lot_ledger

blp = Blueprint("lots", __name__, url_prefix="/api", description="Stock lots and their ledger.")


@blp.route("/lots", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(LotQuerySchema, location="query")
@blp.response(200, LotSchema(many=True))
@blp.paginate(**PAGINATION)
def list_lots(filters, pagination_parameters):
    """Earliest effective expiry first, unless sorted otherwise (then by id)."""
    after = filters.pop("after", None)
    filters["site_ids"] = sites_listed(current_api_user(), filters.pop("site_id", None))
    listed = lots.lot_list(**filters)
    return paginate_after(listed, pagination_parameters, after=after, columns=LOT_ROW)


@blp.route("/lots", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(LotReceiveSchema)
@blp.response(201, LotSchema)
@blp.alt_response(200, schema=LotSchema, description="More of a lot already on the shelf.")
def receive_lot(fields):
    """Receive a new lot (201) or more of an existing one (200, a `receive` movement)."""
    user = current_api_user()
    site = site_for_new_record(user, fields.pop("site_id", None))
    fields.update(user_id=user.id, now=utcnow(), site_id=site.id)
    if "barcode" in fields:
        fields["expiry"] = fields.pop("expiry_date", None)
        receipt = lots.receive_scanned(fields.pop("barcode"), **fields)
    else:
        fields["expiry"] = fields.pop("expiry_date")
        receipt = lots.receive(**fields)
    return receipt.lot, 201 if receipt.created else 200


@blp.route("/lots/<id:lot_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, LotSchema)
def get_lot(lot_id):
    return _at_my_site(lot_id)


@blp.route("/lots/<id:lot_id>/label", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(
    200,
    {"type": "string"},
    content_type="text/html",
    description="The label as an HTML page made to print (the page /stock/lots/{id}/label).",
)
def lot_label_page(lot_id):
    """The lot's printable label.

    Product, lot, expiry (a compounded batch's beyond-use date), storage, who compounded it
    when, and a GS1 DataMatrix carrying the lot's `gs1_element_string`."""
    _at_my_site(lot_id)
    return current_app.response_class(
        render_template("stock/label.html", label=lot_label(lot_id)), mimetype="text/html"
    )


@blp.route("/lots/<id:lot_id>/release", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.response(200, LotSchema)
def release_lot(lot_id):
    """A quarantined lot becomes available.

    A compounded batch's lot is released by its second check: by a pharmacist other than the
    one who prepared it (by the preparer it is a 409), who is recorded as having verified the
    batch (`verified_by`, `verified_at` on `GET /api/batches/{id}`)."""
    _at_my_site(lot_id)
    return lots.release(lot_id, user=current_api_user(), now=utcnow())


@blp.route("/lots/<id:lot_id>/quarantine", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(QuarantineSchema)
@blp.response(200, LotSchema)
def quarantine_lot(fields, lot_id):
    """Hold an available lot back from use (an adverse signal, a doubt) until it is released;
    the reason stays on the lot (`status_reason`)."""
    _at_my_site(lot_id)
    return lots.quarantine(lot_id, fields["reason"])


@blp.route("/lots/<id:lot_id>/open", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(OpenSchema)
@blp.response(200, LotSchema)
def open_lot(fields, lot_id):
    """Record the first opening; later ones change nothing."""
    _at_my_site(lot_id)
    return lots.open_lot(lot_id, utcnow(), opened_at=fields.get("opened_at"))


@blp.route("/lots/<id:lot_id>/adjust", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(AdjustSchema)
@blp.response(200, LotSchema)
def adjust_lot(fields, lot_id):
    _at_my_site(lot_id)
    return lots.adjust(
        lot_id,
        fields["quantity"],
        reason=fields["reason"],
        user_id=current_api_user().id,
        now=utcnow(),
    )


@blp.route("/lots/<id:lot_id>/dispose", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(DisposeSchema)
@blp.response(200, LotSchema)
def dispose_lot(fields, lot_id):
    _at_my_site(lot_id)
    return lots.dispose(
        lot_id,
        fields["reason"],
        user_id=current_api_user().id,
        now=utcnow(),
        quantity=fields.get("quantity"),
    )


@blp.route("/lots/<id:lot_id>/recall", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(RecallSchema)
@blp.response(200, LotSchema)
def recall_lot(fields, lot_id):
    _at_my_site(lot_id)
    return lots.recall(lot_id, fields["reason"], now=utcnow())


@blp.route("/lots/<id:lot_id>/movements", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(AfterSchema, location="query")
@blp.response(200, MovementSchema(many=True))
@blp.paginate(**PAGINATION)
def list_movements(query, lot_id, pagination_parameters):
    """The lot's ledger, oldest first."""
    _at_my_site(lot_id)
    return paginate_after(lot_ledger(lot_id), pagination_parameters, after=query.get("after"))


@blp.route("/lots/<id:lot_id>/trace", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, TraceSchema)
def trace_lot(lot_id):
    """Whom to call when this lot is recalled: every batch made from it and every session that
    used it or such a batch, with the patient's MRN."""
    _at_my_site(lot_id)
    return trace_to_patients(lot_id)


def _at_my_site(lot_id: int):
    """The lot, when it is at a site the user works at: a 403 otherwise (a 404 would say it
    does not exist; an empty answer, that it holds nothing)."""
    lot = lots.get_lot(lot_id)
    require_site(current_api_user(), lot.site_id)
    return lot
