"""The forms of the stock pages."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from inventory.models import (
    Storage,
)
from web.pages import (
    exact_quantity,
    optional_record_id,
)

EXPIRY_HINT = "YYYY-MM-DD, or YYYY-MM / MM/YYYY when the box shows a month only."


class ReceiveForm(FlaskForm):
    barcode = StringField(
        "Barcode",
        validators=[Optional(), Length(max=200)],
        description="Scan the box (the scanner types the code, then Enter), or type the fields.",
    )
    product_id = SelectField("Product", coerce=optional_record_id, validate_choice=True)
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=60)])
    expiry_date = StringField("Expiry date", validators=[Optional()], description=EXPIRY_HINT)
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])
    supplier = StringField("Supplier", validators=[Optional(), Length(max=160)])
    storage = SelectField(
        "Storage",
        choices=[SelectChoice("", "where the product is usually kept"),
                 *(SelectChoice(s.value) for s in Storage)],
        default="",
    )  # fmt: skip
    quarantine = BooleanField("Receive into quarantine (release after inspection)")


class DispenseForm(FlaskForm):
    PREFIX = "dispense"  # it shares the board with the receive form
    product_id = SelectField("Product", coerce=optional_record_id, validators=[DataRequired()])
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])


class RecallForm(FlaskForm):
    reason = TextAreaField("Reason for the recall", validators=[DataRequired()])


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
    lot_number = StringField("Lot number (optional)", validators=[Optional(), Length(max=60)])
