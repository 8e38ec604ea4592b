"""The forms of the stock pages."""

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.widgets import HiddenInput

from core.database import MAX_ID, REASON_LENGTH
from inventory.lots import LotSort, LotState
from inventory.models import (
    LOT_NUMBER_LENGTH,
    PRODUCT_NAME_LENGTH,
    SUPPLIER_LENGTH,
    ProductKind,
    Storage,
)
from inventory.suppliers import (
    DEFAULT_LEAD_TIME_DAYS,
    MAX_LEAD_TIME_DAYS,
    SUPPLIER_EMAIL_LENGTH,
    SUPPLIER_NAME_LENGTH,
    SUPPLIER_PHONE_LENGTH,
)
from web.pages import (
    counted_quantity,
    exact_quantity,
    optional_record_id,
    signed_exact_quantity,
)

EXPIRY_HINT = "YYYY-MM-DD, or YYYY-MM / MM/YYYY when the box shows a month only."


class ReceiveForm(FlaskForm):
    barcode = StringField(
        "Barcode",
        validators=[Optional(), Length(max=200)],
        description="Scan the box (the scanner types the code, then Enter), or type the fields.",
    )
    product_id = SelectField("Product", coerce=optional_record_id, validate_choice=True)
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=LOT_NUMBER_LENGTH)])
    expiry_date = StringField("Expiry date", validators=[Optional()], description=EXPIRY_HINT)
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])
    supplier = StringField("Supplier", validators=[Optional(), Length(max=SUPPLIER_LENGTH)])
    storage = SelectField(
        "Storage",
        choices=[SelectChoice("", "where the product is usually kept"),
                 *(SelectChoice(s.value) for s in Storage)],
        default="",
    )  # fmt: skip
    quarantine = BooleanField("Receive into quarantine (release after inspection)")
    purchase_order_line_id = SelectField(
        "Against a purchase order",
        coerce=optional_record_id,
        validate_choice=True,
        validators=[Optional()],
        description="The order line this delivery brings: its received quantity grows.",
    )


class DispenseForm(FlaskForm):
    PREFIX = "dispense"  # it shares the board with the receive form
    product_id = SelectField("Product", coerce=optional_record_id, validators=[DataRequired()])
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=REASON_LENGTH)])


# --- a lot's transitions (each form has its prefix: they share the lot page) ------------------

REASON_REQUIRED = "Say why: the ledger keeps the reason."


class ReleaseForm(FlaskForm):
    PREFIX = "release"


class OpenForm(FlaskForm):
    PREFIX = "open"
    opened_at = DateTimeLocalField(
        "Opened at",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description="When the vial was first opened; earlier today or a past day, never later "
        "than now. Its opened life starts that day.",
    )


class AdjustForm(FlaskForm):
    PREFIX = "adjust"
    quantity = DecimalField(
        "Correction",
        validators=[InputRequired("Write the correction: +2 found, -2 missing."),
                    signed_exact_quantity],
        description="What the count differs by: +2 when you found 2 more, -2 when 2 are missing.",
    )  # fmt: skip
    reason = StringField(
        "Reason", validators=[DataRequired(REASON_REQUIRED), Length(max=REASON_LENGTH)]
    )


class DisposeForm(FlaskForm):
    PREFIX = "dispose"
    quantity = DecimalField(
        "Quantity to dispose of",
        validators=[Optional(), exact_quantity],
        description="Leave empty to dispose of everything on hand.",
    )
    reason = StringField(
        "Reason", validators=[DataRequired(REASON_REQUIRED), Length(max=REASON_LENGTH)]
    )


class QuarantineForm(FlaskForm):
    PREFIX = "quarantine"
    reason = StringField(
        "Reason for the quarantine",
        validators=[DataRequired("Say why the lot is held back."), Length(max=REASON_LENGTH)],
    )


class RecallForm(FlaskForm):
    PREFIX = "recall"
    reason = TextAreaField(
        "Reason for the recall", validators=[DataRequired("Say why the lot is recalled.")]
    )


# --- the stock lists (GET filters change nothing: no CSRF token) -------------------------------

STATE_LABELS = {
    LotState.QUARANTINE: "In quarantine",
    LotState.AVAILABLE: "Available",
    LotState.EMPTY: "Empty",
    LotState.RECALLED: "Recalled",
    LotState.DISPOSED: "Disposed of",
}
SORT_LABELS = {
    LotSort.EXPIRY: "Last day of use",
    LotSort.LOT_NUMBER: "Lot",
    LotSort.PRODUCT: "Product",
    LotSort.ON_HAND: "On hand",
    LotSort.RECEIVED: "Received",
}
ASCENDING, DESCENDING = "asc", "desc"


class LotFilterForm(FlaskForm):
    class Meta:
        csrf = False

    lot_number = StringField("Lot number", validators=[Optional(), Length(max=LOT_NUMBER_LENGTH)])
    product_id = SelectField(
        "Product", coerce=optional_record_id, validate_choice=True, validators=[Optional()]
    )
    state = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status"),
                 *(SelectChoice(state.value, label) for state, label in STATE_LABELS.items())],
        default="",
    )  # fmt: skip
    storage = SelectField(
        "Storage",
        choices=[SelectChoice("", "Any storage"), *(SelectChoice(s.value) for s in Storage)],
        default="",
    )
    expires_from = DateField("Last day of use from", validators=[Optional()])
    expires_to = DateField("Last day of use to", validators=[Optional()])
    sort = SelectField(
        "Sort by",
        choices=[SelectChoice(sort.value, label) for sort, label in SORT_LABELS.items()],
        default=LotSort.EXPIRY.value,
    )
    order = SelectField(
        "Order",
        choices=[SelectChoice(ASCENDING, "Ascending"), SelectChoice(DESCENDING, "Descending")],
        default=ASCENDING,
    )


class ProductFilterForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Product name", validators=[Optional(), Length(max=PRODUCT_NAME_LENGTH)])
    kind = SelectField(
        "Kind",
        choices=[SelectChoice("", "Every kind"), *(SelectChoice(k.value) for k in ProductKind)],
        default="",
    )
    low = BooleanField("Only products low in stock")


class BatchForm(FlaskForm):
    # Any id is accepted here: the compounding rules refuse a serum that is not an approved
    # compounded one, with their own message.
    serum_id = SelectField(
        "Serum", coerce=optional_record_id, validate_choice=False, validators=[DataRequired()]
    )
    doses = DecimalField("Doses", validators=[InputRequired(), exact_quantity])
    storage = SelectField(
        "Storage",
        choices=[SelectChoice(s.value) for s in Storage],
        default=Storage.REFRIGERATED.value,
        description="Sets the beyond-use date: 1 day at room temperature, 4 refrigerated.",
    )
    # Only needed when several products stock the serum; the rules say so when it is.
    product_id = SelectField(
        "Stocked as", coerce=optional_record_id, validate_choice=False, validators=[Optional()]
    )
    lot_number = StringField(
        "Lot number (optional)", validators=[Optional(), Length(max=LOT_NUMBER_LENGTH)]
    )


# --- a batch's second check (each form has its prefix: they share the batch page) -------------


class VerifyBatchForm(FlaskForm):
    PREFIX = "verify"


class RejectBatchForm(FlaskForm):
    PREFIX = "reject"
    reason = StringField(
        "What is wrong",
        validators=[DataRequired("Say what the check found wrong."), Length(max=REASON_LENGTH)],
        description="The whole lot is disposed of with this reason.",
    )


class NewTransferForm(FlaskForm):
    to_site_id = SelectField("Send to", coerce=optional_record_id, validators=[DataRequired()])


class TransferLotForm(FlaskForm):
    barcode = StringField(
        "Lot",
        validators=[DataRequired("Scan the lot's barcode or type its lot number."),
                    Length(max=200)],
        description="Scan the lot's label or the box (the scanner types the code), or type "
        "its lot number.",
    )  # fmt: skip
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])


class ScanArrivalForm(FlaskForm):
    barcode = StringField(
        "Scan a lot as you unpack it",
        validators=[DataRequired("Scan the lot's barcode or type its lot number."),
                    Length(max=200)],
        description="Its barcode, or its lot number typed.",
    )  # fmt: skip


class LineArrivalForm(Form):
    lot_id = HiddenField()
    received_quantity = DecimalField("Arrived", validators=[InputRequired(), counted_quantity])
    reason = StringField("Why less (if so)", validators=[Optional(), Length(max=REASON_LENGTH)])


class ReceiveTransferForm(FlaskForm):
    lines = FieldList(FormField(LineArrivalForm))


class CancelTransferForm(FlaskForm):
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=REASON_LENGTH)])


# --- purchasing --------------------------------------------------------------------------------


class SupplierForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired("A supplier has a name."), Length(max=SUPPLIER_NAME_LENGTH)],
    )
    email = StringField(
        "E-mail",
        validators=[Optional(), Length(max=SUPPLIER_EMAIL_LENGTH)],
        description="A submitted order is e-mailed here; without one, print the order.",
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=SUPPLIER_PHONE_LENGTH)])
    lead_time_days = IntegerField(
        "Lead time (days)",
        default=DEFAULT_LEAD_TIME_DAYS,
        validators=[InputRequired("How many days a delivery takes."),
                    NumberRange(min=0, max=MAX_LEAD_TIME_DAYS)],
        description="Days from an order to its delivery.",
    )  # fmt: skip


class SupplierProductForm(FlaskForm):
    PREFIX = "offer"
    product_id = SelectField(
        "Product", coerce=optional_record_id, validate_choice=True, validators=[DataRequired()]
    )
    pack_size = DecimalField(
        "Pack size",
        default=Decimal(1),
        validators=[InputRequired(), exact_quantity],
        description="Units of the product in one pack: orders are whole packs.",
    )
    unit_price = DecimalField(
        "Price of one unit",
        validators=[Optional(), NumberRange(min=0)],
        description="Leave empty when not known.",
    )
    gtin = StringField(
        "Supplier's GTIN (optional)", validators=[Optional(), Length(max=14)],
        description="8, 12, 13 or 14 digits.",
    )  # fmt: skip


class OrderActionForm(FlaskForm):
    """Submitting, cancelling or ordering the suggestions: nothing to fill in."""


class OrderReceiveForm(FlaskForm):
    PREFIX = "receive"
    barcode = StringField(
        "Barcode",
        validators=[Optional(), Length(max=200)],
        description="Scan the box, or type the lot number and expiry.",
    )
    line_id = SelectField(
        "Order line",
        coerce=optional_record_id,
        validators=[Optional()],
        description="Found from the barcode's product when left to choose.",
    )
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=LOT_NUMBER_LENGTH)])
    expiry_date = StringField("Expiry date", validators=[Optional()], description=EXPIRY_HINT)
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])


# --- stock counts ----------------------------------------------------------------------------


STORAGE_PLACES = {
    Storage.ROOM: "Lots kept at room temperature",
    Storage.REFRIGERATED: "Lots kept in the fridge",
    Storage.FROZEN: "Lots kept in the freezer",
}


class CountStartForm(FlaskForm):
    storage = SelectField(
        "What to count",
        choices=[SelectChoice("", "Every lot of the site"),
                 *(SelectChoice(s.value, label) for s, label in STORAGE_PLACES.items())],
        default="",
    )  # fmt: skip


class CountEntryForm(FlaskForm):
    """A box scanned (or a lot of the sheet) and how many of it are on the shelf."""

    barcode = StringField(
        "Barcode",
        validators=[Optional(), Length(max=500)],
        description="Scan the box (the scanner types the code, then Enter).",
    )
    lot_id = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(1, MAX_ID)])
    counted = DecimalField(
        "How many are on the shelf",
        validators=[Optional(), counted_quantity],
        description="All of this lot on the shelf, in the product's unit; 0 when there is none.",
    )


class CountStepForm(FlaskForm):
    """Submitting, approving or cancelling a count: nothing to fill in but the token."""
