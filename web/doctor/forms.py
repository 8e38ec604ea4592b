"""The forms of the doctor's pages."""

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from clinic import patients as patient_rules
from clinic.allergies import REACTION_LENGTH
from clinic.assessments import GLOBAL_ASSESSMENT_WORDS, MAX_PULL_TEST_COUNT
from clinic.courses import INDUCTION_SESSIONS, MAX_MAINTENANCE_MONTHS
from clinic.models import (
    AlopeciaScale,
    ClinicalStatus,
    Criticality,
    Indication,
    Language,
    PhotoView,
    ReviewDecision,
    Severity,
    Sex,
    SideEffectKind,
    Technique,
    VerificationStatus,
)
from clinic.sessions import NEEDLE_MM
from core.database import NOTE_LENGTH, REASON_LENGTH
from web.pages import exact_quantity, optional_record_id

SCALE_CHOICES = [
    SelectChoice("", "Not assessed"),
    *(SelectChoice(scale.value, scale.value.capitalize()) for scale in AlopeciaScale),
]
STAGE_CHOICES = [SelectChoice("", "—"), *map(SelectChoice, patient_rules.ROMAN_STAGES)]


def _choices(enum_class, blank: str | None = None) -> list[SelectChoice]:
    options = [SelectChoice(member.value, member.value.replace("-", " ")) for member in enum_class]
    return [SelectChoice("", blank), *options] if blank is not None else options


def _blank_is_none(value):
    return value or None


class PatientForm(FlaskForm):
    mrn = StringField("Medical record number", validators=[DataRequired(), Length(max=40)])
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    birth_date = DateField("Birth date", validators=[Optional()])
    sex = SelectField("Sex", choices=_choices(Sex))
    alopecia_scale = SelectField("Alopecia scale", choices=SCALE_CHOICES, coerce=_blank_is_none)
    alopecia_stage = SelectField("Stage", choices=STAGE_CHOICES, coerce=_blank_is_none)


class AllergyForm(FlaskForm):
    substance = StringField(
        "Substance",
        validators=[DataRequired(message="Name the substance.")],
        description='Any name or synonym from the catalogue ("Novocain", "B12").',
    )
    criticality = SelectField("Criticality", choices=_choices(Criticality), default="low")
    verification_status = SelectField(
        "Verification", choices=_choices(VerificationStatus), default="confirmed"
    )
    clinical_status = SelectField("Clinical status", choices=_choices(ClinicalStatus))
    reaction = StringField(
        "Reaction (optional)", validators=[Optional(), Length(max=REACTION_LENGTH)]
    )
    outside_catalogue = BooleanField(
        "Not in the catalogue: record it as named",
        description="A food, an antibiotic, anything no serum is made of. Every serum is then a "
        "caution for this patient until you review it on the allergy's page.",
    )
    severity = SelectField(
        "Severity", choices=_choices(Severity, blank="not stated"), coerce=_blank_is_none
    )


class AllergyLinkForm(FlaskForm):
    """An allergen outside the catalogue found to be a catalogue substance after all."""

    PREFIX = "link"
    substance = StringField(
        "Catalogue substance",
        validators=[DataRequired(message="Name the substance.")],
        description='Any name or synonym from the catalogue ("Xylocaine" is lidocaine).',
    )


class AllergyReviewForm(FlaskForm):
    """The doctor's review of an allergen outside the catalogue: not relevant to serums."""

    PREFIX = "review"


class AllergyCorrectionForm(FlaskForm):
    """Correct a recorded allergy (the substance stays: another substance is another allergy)."""

    criticality = SelectField("Criticality", choices=_choices(Criticality))
    verification_status = SelectField(
        "Verification",
        choices=_choices(VerificationStatus),
        description="Refuted or entered in error: the allergy no longer weighs on the screen.",
    )
    clinical_status = SelectField(
        "Clinical status",
        choices=_choices(ClinicalStatus),
        description="Inactive or resolved: no longer weighs on the screen.",
    )
    severity = SelectField(
        "Severity", choices=_choices(Severity, blank="not stated"), coerce=_blank_is_none
    )
    reaction = StringField(
        "Reaction (optional)", validators=[Optional(), Length(max=REACTION_LENGTH)]
    )

    def changes(self) -> dict:
        """The form as update_allergy reads it."""
        return {
            "criticality": self.criticality.data,
            "verification_status": self.verification_status.data,
            "clinical_status": self.clinical_status.data,
            "severity": self.severity.data,
            "reaction": self.reaction.data,
        }


class PatientSearchForm(FlaskForm):
    """The patient list's search and order: a GET form, read from the query string."""

    class Meta:
        csrf = False

    q = StringField("Find a patient by name or record number", validators=[Length(max=160)])
    sort = SelectField(
        "Order",
        choices=[
            SelectChoice(patient_rules.PatientOrder.NAME.value, "Name"),
            SelectChoice(patient_rules.PatientOrder.MRN.value, "Record number"),
            SelectChoice(patient_rules.PatientOrder.BORN.value, "Oldest first"),
            SelectChoice(patient_rules.PatientOrder.YOUNGEST.value, "Youngest first"),
            SelectChoice(patient_rules.PatientOrder.NEWEST.value, "Latest added first"),
        ],
        default=patient_rules.PatientOrder.NAME.value,
    )


class ProfileForm(FlaskForm):
    PREFIX = "profile"  # it shares the patient page with the allergy form
    alopecia_scale = SelectField("Alopecia scale", choices=SCALE_CHOICES, coerce=_blank_is_none)
    alopecia_stage = SelectField("Stage", choices=STAGE_CHOICES, coerce=_blank_is_none)
    conditions = SelectMultipleField(
        "Active conditions",
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validate_choice=True,
    )


class ContactForm(FlaskForm):
    """The patient's contact details and consent to be contacted by e-mail."""

    PREFIX = "contact"
    email = StringField(
        "E-mail",
        validators=[
            Optional(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="An e-mail address: name@example.org."),
        ],
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    language = SelectField(
        "Language of reminders",
        choices=[
            SelectChoice(Language.EN.value, "English"),
            SelectChoice(Language.FR.value, "French"),
        ],
    )
    contact_consent = BooleanField(
        "The patient consents to be contacted by e-mail (session reminders, aftercare advice)",
        description="Recorded with today's date and your name; untick to withdraw it.",
    )


# A scalp takes hundreds of injection points, never thousands; the bound keeps a typing
# slip from reaching the database as an out-of-range integer.
MAX_INJECTION_POINTS = 2000
FEFO_CHOICE = SelectChoice("", "First expiring usable lot (FEFO)")


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def one_decimal(form, field) -> None:
    """Needle lengths are recorded to a tenth of a millimetre."""
    value = field.data
    if isinstance(value, Decimal) and value.as_tuple().exponent < -1:
        raise ValidationError("At most one decimal place (e.g. 4 or 6.5).")


INDICATION_WORDS = {
    Indication.ANDROGENETIC_ALOPECIA: "Androgenetic alopecia (pattern hair loss)",
    Indication.POSTPARTUM: "Hair loss after pregnancy and childbirth (postpartum)",
}


class CourseForm(FlaskForm):
    PREFIX = "course"  # it shares the patient page with the allergy and profile forms
    # The choices offer only serums the screen does not contraindicate; any id is accepted
    # here so that the clinic's rule, not the form, refuses the others, with its reasons.
    serum_id = SelectField(
        "Serum", coerce=optional_record_id, validate_choice=False, validators=[DataRequired()]
    )
    indication = SelectField(
        "Treats",
        choices=[SelectChoice(value.value, words) for value, words in INDICATION_WORDS.items()],
        default=Indication.ANDROGENETIC_ALOPECIA.value,
        description="Postpartum hair loss is not staged: a missing alopecia stage is no "
        "caution for it.",
    )
    start_date = DateField("First session", validators=[InputRequired()])
    induction_sessions = SelectField(
        "Weekly sessions",
        choices=[SelectChoice(str(n)) for n in INDUCTION_SESSIONS],
        coerce=int,
        default=4,
    )
    maintenance_months = IntegerField(
        "Monthly maintenance sessions",
        default=0,
        validators=[InputRequired(), NumberRange(0, MAX_MAINTENANCE_MONTHS)],
        description="The k-th comes k months after the last weekly session.",
    )
    doses_per_session = DecimalField(
        "Doses per session",
        default=Decimal(1),
        places=None,
        validators=[InputRequired(), exact_quantity],
    )
    # Offered to a doctor at several sites with none chosen in the header (the panel's
    # `offer_sites` sets the choices, or removes the field: the site is then implicit).
    site_id = SelectField(
        "Site of the course",
        coerce=optional_record_id,
        validate_choice=True,
        validators=[DataRequired(message="Choose the site.")],
        description="Where the sessions take place, and whose stock they use.",
    )


class CompleteForm(FlaskForm):
    performed_on = DateField(
        "Performed on", validators=[Optional()], description="Empty: the scheduled date."
    )
    lot_id = SelectField("Lot", coerce=optional_record_id, validate_choice=False)
    doses = DecimalField(
        "Doses",
        places=None,
        validators=[Optional(), exact_quantity],
        description="Empty: as planned.",
    )
    needle_mm = DecimalField(
        "Needle length (mm)",
        places=None,
        validators=[
            InputRequired(),
            NumberRange(*NEEDLE_MM, message="A mesotherapy needle is 4 to 13 mm long."),
            one_decimal,
        ],
    )
    technique = SelectField(
        "Technique",
        choices=[
            SelectChoice("", "Choose"),
            *(SelectChoice(t.value, _label(t.value)) for t in Technique),
        ],
        validators=[DataRequired(message="Manual or with the injection gun?")],
    )
    injection_points = IntegerField(
        "Injection points", validators=[InputRequired(), NumberRange(1, MAX_INJECTION_POINTS)]
    )
    override_reason = TextAreaField("Override reason", validators=[Optional(), Length(max=1000)])

    def fields_for_the_clinic(self) -> dict:
        """The form as complete_session reads it."""
        return {
            "performed_on": self.performed_on.data,
            "lot_id": self.lot_id.data,
            "doses": self.doses.data,
            "needle_mm": self.needle_mm.data,
            "technique": self.technique.data,
            "injection_points": self.injection_points.data,
            "override_reason": self.override_reason.data,
        }


class CancelForm(FlaskForm):
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=REASON_LENGTH)])


class MoveForm(FlaskForm):
    scheduled_date = DateField("New date", validators=[InputRequired(message="Give the new day.")])


class SideEffectForm(FlaskForm):
    # No preset: a side effect is a clinical record, never the result of one careless click.
    kind = SelectField(
        "Side effect",
        choices=[
            SelectChoice("", "Choose"),
            *(SelectChoice(k.value, _label(k.value)) for k in SideEffectKind),
        ],
        validators=[DataRequired(message="Choose the side effect.")],
    )
    severity = SelectField(
        "Severity",
        choices=[
            SelectChoice("", "Choose"),
            *(SelectChoice(s.value, _label(s.value)) for s in Severity),
        ],
        validators=[DataRequired(message="Choose how severe it was.")],
    )
    note = StringField("Note (optional)", validators=[Optional(), Length(max=NOTE_LENGTH)])


# Each session's forms are prefixed with its id: many share the page, and each label and error
# must point at its own field.


# --- assessments of a course's results --------------------------------------------------------

OUTCOMES = {
    "hair_loss": "Less hair loss",
    "scalp_health": "Healthier scalp",
    "itching": "Less itching",
    "hair_quality": "Better hair quality",
}
VIEW_WORDS = {
    PhotoView.VERTEX: "Vertex (crown, from above)",
    PhotoView.FRONTAL: "Frontal (hairline)",
    PhotoView.LEFT: "Left side",
    PhotoView.RIGHT: "Right side",
}
STOPPING_CHOICES = (ReviewDecision.STOP, ReviewDecision.CHANGE_SERUM)


def _outcome(name: str) -> IntegerField:
    return IntegerField(
        f"{OUTCOMES[name]} (0 to 10)",
        validators=[InputRequired(message="The patient's answer, 0 to 10."), NumberRange(0, 10)],
    )


def _photo(view: PhotoView) -> FileField:
    return FileField(f"Photo: {VIEW_WORDS[view].lower()}", validators=[Optional()])


def decision_choices(cancels: str) -> list[SelectChoice]:
    """The review's decisions; the two that cancel sessions ask first (static/confirm.js reads
    the chosen option's data-confirm), saying what they cancel."""
    return [
        SelectChoice("", "Decide after seeing the results"),
        *(
            SelectChoice(
                decision.value,
                decision.words.capitalize(),
                render_kw={"data-confirm": f"{decision.words.capitalize()}? "
                           f"{cancels}"} if decision in STOPPING_CHOICES else {},
            )
            for decision in ReviewDecision
        ),
    ]  # fmt: skip


class AssessmentForm(FlaskForm):
    """An assessment of a course's results, with up to one photo of each view."""

    date = DateField("Date of the visit", validators=[Optional()], description="Empty: today.")
    global_assessment = SelectField(
        "Global photographic assessment",
        choices=[
            SelectChoice("", "Choose"),
            *(
                SelectChoice(str(value), f"{value:+d} {words}" if value else f"0 {words}")
                for value, words in sorted(GLOBAL_ASSESSMENT_WORDS.items(), reverse=True)
            ),
        ],
        coerce=_blank_is_none,
        description="Yours, comparing the photos with the baseline's.",
    )
    hair_loss = _outcome("hair_loss")
    scalp_health = _outcome("scalp_health")
    itching = _outcome("itching")
    hair_quality = _outcome("hair_quality")
    pull_test_count = IntegerField(
        "Hair-pull test: hairs that came out",
        validators=[Optional(), NumberRange(0, MAX_PULL_TEST_COUNT)],
        description="Empty: not done.",
    )
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=NOTE_LENGTH)])
    photo_vertex = _photo(PhotoView.VERTEX)
    photo_frontal = _photo(PhotoView.FRONTAL)
    photo_left = _photo(PhotoView.LEFT)
    photo_right = _photo(PhotoView.RIGHT)
    decision = SelectField("Decision", coerce=_blank_is_none, validate_choice=True)

    def photo_fields(self) -> list:
        return [self.photo_vertex, self.photo_frontal, self.photo_left, self.photo_right]

    def photos(self) -> list[tuple[PhotoView, object]]:
        """(view, uploaded file) of each photo given."""
        return [
            (view, field.data)
            for view, field in zip(PhotoView, self.photo_fields(), strict=True)
            if field.data is not None and getattr(field.data, "filename", "")
        ]

    def fields_for_the_clinic(self, kind: str) -> dict:
        """The form as record_assessment reads it (the decision is taken apart)."""
        return {
            "kind": kind,
            "date": self.date.data,
            "global_assessment": int(self.global_assessment.data)
            if self.global_assessment.data is not None
            else None,
            "patient_scores": {name: getattr(self, name).data for name in OUTCOMES},
            "pull_test_count": self.pull_test_count.data,
            "note": self.note.data,
        }


class MaintenanceForm(FlaskForm):
    PREFIX = "maintenance"
    sessions = IntegerField(
        "Monthly maintenance sessions to add",
        default=3,
        validators=[InputRequired(), NumberRange(1, MAX_MAINTENANCE_MONTHS)],
        description="Each a month after the one before, from the course's last session (or "
        "from today, when later).",
    )
