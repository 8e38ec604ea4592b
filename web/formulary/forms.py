"""The forms of the formulary pages: substances, cross-reactivity groups, products and serum
formulas with their component rows. Names of substances are typed as people say them (any
name or synonym, one per line); the catalogue's rules resolve them."""

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    Form,
    FormField,
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
    StopValidation,
    ValidationError,
)

from core.database import NOTE_LENGTH
from formulary import units
from formulary.models import Category, SerumSource
from inventory.models import ProductKind, Storage
from web.pages import exact_quantity, optional_record_id

NAME_LENGTH = 120
MAX_NUMBER = Decimal(10) ** 12
# A new formula offers this many component rows; "Add more rows" adds as many again.
BLANK_ROWS = 4
MAX_ROWS = 40
UNIT_CHOICES = [SelectChoice(unit) for unit in units.UNITS]
CATEGORY_CHOICES = [SelectChoice(c.value, c.value.replace("_", " ")) for c in Category]
STORAGE_CHOICES = [SelectChoice(s.value) for s in Storage]


def lines(text: str | None) -> list[str]:
    """The non-blank lines of a text area, each trimmed."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def names_of_at_most(length: int):
    def check(form, field) -> None:
        long = [name for name in lines(field.data) if len(name) > length]
        if long:
            raise ValidationError(f"A name is at most {length} characters: {long[0][:40]}…")

    return check


def decimal_places(places: int):
    def check(form, field) -> None:
        if field.data is not None and field.data.as_tuple().exponent < -places:
            raise ValidationError(f"At most {places} decimal places.")

    return check


def usable_number(form, field) -> None:
    """First of a number's checks: "NaN", "Infinity" and numbers beyond any amount a clinic
    writes stop here, before a comparison could trip on them."""
    if field.data is None:
        return
    if not field.data.is_finite():
        raise StopValidation("Not a number.")
    if abs(field.data) >= MAX_NUMBER:
        raise StopValidation("Too large a number.")


def more_than_zero(form, field) -> None:
    if field.data is not None and field.data <= 0:
        raise ValidationError("Must be more than 0.")


class SubstanceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_LENGTH)])
    category = SelectField("Category", choices=CATEGORY_CHOICES)
    is_class = BooleanField("A class of substances (such as B vitamins), not an ingredient")
    synonyms = TextAreaField(
        "Other names",
        validators=[names_of_at_most(NAME_LENGTH)],
        description='One per line: brand names, abbreviations ("B12", "Novocain").',
    )
    codes = TextAreaField(
        "Standard codes",
        validators=[Length(max=2000)],
        description='One per line: "SNOMED CT 387480006", "RxNorm 6387", "UNII 98PI200987". '
        "Hospital and GP allergy lists find the substance by these.",
    )
    parents = TextAreaField(
        "Is a",
        description="The classes it belongs to, one per line (e.g. B vitamins).",
    )
    contains = TextAreaField(
        "Contains",
        description="Allergens carried inside it, one per line (e.g. cobalt).",
    )
    max_value = DecimalField(
        "Maximum concentration per mL",
        validators=[Optional(), usable_number, more_than_zero, decimal_places(6)],
        description="Leave blank when there is no maximum.",
    )
    max_unit = SelectField(
        "Unit of the maximum", choices=[SelectChoice("", "—"), *UNIT_CHOICES], default=""
    )
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=NOTE_LENGTH)])

    def validate_max_unit(self, field) -> None:
        if self.max_value.data is not None and not field.data:
            raise ValidationError("Choose the unit of the maximum.")
        if self.max_value.data is None and field.data and not self.max_value.errors:
            raise ValidationError("Give the maximum too, or choose —.")


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_LENGTH)])
    members = TextAreaField(
        "Members",
        validators=[DataRequired(message="Name at least two substances.")],
        description="Substances or classes that cross-react, one per line (at least two).",
    )
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=NOTE_LENGTH)])


class SiteReorderPointForm(FlaskForm):
    """A product's reorder point at one site (each site's form has the site's prefix)."""

    reorder_point = DecimalField(
        "Reorder point",
        places=None,
        validators=[InputRequired(), usable_number,
                    NumberRange(min=0, message="Cannot be below 0."), decimal_places(6)],
    )  # fmt: skip


class ProductForm(FlaskForm):
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice(ProductKind.COMPONENT.value, "component (a raw ingredient)"),
            SelectChoice(ProductKind.SERUM.value, "serum (finished doses)"),
            SelectChoice(ProductKind.CONSUMABLE.value, "consumable (needles, syringes)"),
        ],
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    unit = StringField(
        "Stock unit",
        validators=[DataRequired(), Length(max=20)],
        description="What it is counted in: vial, ampoule, dose, mL, mg, piece…",
    )
    substance = StringField(
        "Substance",
        validators=[Optional(), Length(max=NAME_LENGTH)],
        description="For a component: the substance it is (any name or synonym).",
    )
    serum_id = SelectField(
        "Serum", coerce=optional_record_id, validate_choice=True, description="For a serum."
    )
    gtin = StringField(
        "GTIN (optional)",
        validators=[Optional(), Length(max=20)],
        description="The barcode number on the box: 8, 12, 13 or 14 digits.",
    )
    reorder_point = DecimalField(
        "Reorder point",
        default=Decimal(0),
        validators=[InputRequired(), usable_number,
                    NumberRange(min=0, message="Cannot be below 0."), decimal_places(6)],
        description="Low-stock alert below this many units usable.",
    )  # fmt: skip
    days_after_opening = IntegerField(
        "Days a vial keeps once opened",
        validators=[Optional(), NumberRange(min=1, max=3650, message="From 1 to 3650 days.")],
        description="Blank on a new product: 28 for serums and components, none for consumables.",
    )
    storage = SelectField(
        "Usual storage",
        choices=STORAGE_CHOICES,
        description="A lot received without another storage is put here.",
    )
    strength = StringField(
        "Strength (optional)",
        validators=[Optional(), Length(max=60)],
        description="For a component: how much of its substance one unit holds, such as "
        "250 mg/mL, 1000 IU/mL or 5 mg/vial.",
    )


class ComponentRow(Form):
    """One row of a formula: a substance and its amount per dose; a blank row is skipped."""

    substance = StringField("Substance", validators=[Optional(), Length(max=NAME_LENGTH)])
    amount = DecimalField("Amount per dose", validators=[Optional(), usable_number, exact_quantity])
    unit = SelectField("Unit", choices=UNIT_CHOICES, default="mg")

    @property
    def blank(self) -> bool:
        return not (self.substance.data or "").strip() and self.amount.raw_data in ([], [""])

    def validate(self, extra_validators=None) -> bool:
        # Each field alone may be blank (Optional stops its own checks); a half-filled row is not.
        valid = super().validate(extra_validators)
        named = bool((self.substance.data or "").strip())
        if not named and self.amount.data is not None:
            self.substance.errors = [*self.substance.errors, "Name the substance."]
            valid = False
        if named and self.amount.data is None and not self.amount.errors:
            self.amount.errors = [*self.amount.errors, "Give the amount per dose."]
            valid = False
        return valid


class SerumForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=40)],
        description="Short and unique, e.g. HAIR-VIT; its versions share it.",
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    source = SelectField(
        "Source",
        choices=[
            SelectChoice(SerumSource.COMPOUNDED.value, "compounded here"),
            SelectChoice(SerumSource.MANUFACTURED.value, "manufactured (bought ready)"),
        ],
    )
    manufacturer = StringField(
        "Manufacturer", validators=[Optional(), Length(max=160)], description="For a bought serum."
    )
    dose_volume_ml = DecimalField(
        "Dose volume (mL)",
        validators=[
            InputRequired(),
            usable_number,
            more_than_zero,
            NumberRange(max=1000, message="At most 1000 mL."),
            decimal_places(3),
        ],
    )
    components = FieldList(FormField(ComponentRow), min_entries=BLANK_ROWS, max_entries=MAX_ROWS)

    def add_blank_rows(self, count: int = BLANK_ROWS) -> None:
        for _ in range(min(count, MAX_ROWS - len(self.components))):
            self.components.append_entry()

    def filled_rows(self) -> list[tuple[int, ComponentRow]]:
        return [(index, entry.form) for index, entry in enumerate(self.components)
                if not entry.form.blank]  # fmt: skip


class DraftForm(SerumForm):
    """Editing a draft: its code is the serum's and does not change."""

    code = None
