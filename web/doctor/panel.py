"""The courses part of the doctor's patient page: the forms of each session, and what the page
shows of each course
(its serum's verdict today, the lot each session used, the lots a session may use, and its
results: the assessments, their photos side by side, their scores as charts).

The routes are in `web.doctor.patients`, the forms in `web.doctor.forms`; this module builds
the page's data, in a fixed number of queries whatever the number of courses and sessions.
"""

import dataclasses
from datetime import date

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import (
    SelectChoice,
)

from clinic.assessments import (
    GLOBAL_ASSESSMENT_WORDS,
    ViewComparison,
    compare_views,
    patient_assessments,
    review_of,
)
from clinic.courses import STOPPING_DECISIONS, courses_query
from clinic.models import (
    Assessment,
    AssessmentKind,
    Course,
    Patient,
    SessionStatus,
    TreatmentSession,
)
from clinic.safety import ScreenedSerum, screen_courses
from core.clock import day_text
from core.database import db
from core.errors import DomainError
from core.sites import in_a_chain
from formulary.screen import Screen, Verdict
from inventory.models import Lot, LotStatus, Product, ProductKind
from inventory.serum_stock import usable_serum_lots
from web.doctor.charts import LineChart, Observation, line_chart
from web.doctor.forms import (
    FEFO_CHOICE,
    OUTCOMES,
    CancelForm,
    CompleteForm,
    CourseForm,
    MaintenanceForm,
    MoveForm,
    SideEffectForm,
)
from web.pages import doses_text, quantity_text
from web.sites import chosen_site_id, sites_to_choose


def complete_prefix(session_id: int) -> str:
    return f"complete-{session_id}"


def cancel_prefix(session_id: int) -> str:
    return f"cancel-{session_id}"


def move_prefix(session_id: int) -> str:
    return f"move-{session_id}"


def side_effect_prefix(session_id: int) -> str:
    return f"effect-{session_id}"


def maintenance_prefix(course_id: int) -> str:
    return f"maintenance-{course_id}"


@dataclasses.dataclass
class SubmittedForm:
    """A refused form to draw again on the patient page, in place of its blank twin: `kind`
    is `plan`, `complete`, `cancel` or `side_effect`, `session_id` says which session's."""

    kind: str
    form: FlaskForm
    session_id: int | None = None


@dataclasses.dataclass
class CourseResults:
    """What the page shows of a course's results, and what the doctor may record next."""

    assessments: list[Assessment]
    comparisons: list[ViewComparison]
    review: Assessment | None
    # The review decided to stop or to change the serum: the course plans nothing more.
    stopped: bool
    # The kinds of assessment the course can take now, in their order.
    next_kinds: list[AssessmentKind]
    # The planned sessions a decision to stop would cancel (from the review's day on).
    cancellable: int
    scores_chart: LineChart | None
    global_chart: LineChart | None
    maintenance_form: MaintenanceForm | None = None


@dataclasses.dataclass
class CoursesPanel:
    courses: list[Course]
    # By course id: today's screen of its serum, as for what the course treats.
    screens: dict[int, Screen]
    lot_numbers: dict[int, str]
    # The lots sessions used that were recalled since: the page links each to its trace.
    recalled_lot_ids: set[int]
    plan_form: CourseForm | None
    # session id -> {"complete": form, "cancel": form, "move": form, "side_effect": form}
    session_forms: dict[int, dict[str, FlaskForm]]
    # A session whose form was refused: its details are drawn open.
    open_session_id: int | None
    # What a refused form said when the page no longer draws that form (a session cancelled
    # or completed meanwhile): shown at the top of the courses.
    refusals: list[str] = dataclasses.field(default_factory=list)
    # The clinic has several sites: each course says which it is at.
    in_a_chain: bool = False
    # By course id.
    results: dict[int, CourseResults] = dataclasses.field(default_factory=dict)


def courses_panel(
    patient: Patient,
    screened: list[ScreenedSerum],
    today: date,
    can_edit: bool,
    submitted: SubmittedForm | None = None,
) -> CoursesPanel:
    courses = list(
        db.session.scalars(
            courses_query(patient.id).options(joinedload(Course.serum), joinedload(Course.site))
        )
    )
    sessions = [s for course in courses for s in course.sessions]
    screens = screen_courses(patient, courses)
    used = _used_lots({s.lot_id for s in sessions if s.lot_id is not None})
    assessed = patient_assessments([course.id for course in courses])
    panel = CoursesPanel(
        courses=courses,
        screens=screens,
        lot_numbers={lot_id: number for lot_id, number, _ in used},
        recalled_lot_ids={lot_id for lot_id, _, status in used if status == LotStatus.RECALLED},
        plan_form=None,
        session_forms={},
        open_session_id=submitted.session_id if submitted else None,
        results={course.id: course_results(course, assessed[course.id]) for course in courses},
        in_a_chain=in_a_chain(),
    )
    if not can_edit:
        return panel
    for course in courses:
        if not panel.results[course.id].stopped:
            panel.results[course.id].maintenance_form = MaintenanceForm(
                formdata=None, prefix=maintenance_prefix(course.id)
            )
    panel.plan_form = _plan_form(screened, submitted)
    lot_choices = _lot_choices({course.serum_id for course in courses}, today)
    for course in courses:
        caution = screens[course.id].verdict == Verdict.CAUTION
        for session in course.sessions:
            panel.session_forms[session.id] = _session_forms(
                session, lot_choices.get((course.serum_id, session.site_id), []), caution, submitted
            )
    if submitted and submitted.kind != "plan":
        drawn = panel.session_forms.get(submitted.session_id, {}).get(submitted.kind)
        if drawn is not submitted.form:
            panel.refusals = _messages(submitted.form)
    return panel


def course_results(course: Course, assessments: list[Assessment]) -> CourseResults:
    review = review_of(assessments)
    kinds = {a.kind for a in assessments}
    next_kinds = [
        kind
        for kind, open_ in (
            (AssessmentKind.BASELINE, AssessmentKind.BASELINE not in kinds),
            (AssessmentKind.REVIEW, review is None),
            (AssessmentKind.FOLLOW_UP, review is not None),
        )
        if open_
    ]
    cancellable = 0
    if review is not None:
        cancellable = sum(
            1
            for s in course.sessions
            if s.status == SessionStatus.PLANNED and s.scheduled_date >= review.date
        )
    return CourseResults(
        assessments=assessments,
        comparisons=compare_views(assessments),
        review=review,
        stopped=review is not None and review.decision in STOPPING_DECISIONS,
        next_kinds=next_kinds,
        cancellable=cancellable,
        scores_chart=_scores_chart(course, assessments),
        global_chart=_global_chart(course, assessments),
    )


def assessment_words(assessment: Assessment) -> str:
    """What a visit was, as the chart's points and the table say it: baseline, review,
    follow-up."""
    return assessment.kind.value.replace("_", "-")


def _scores_chart(course: Course, assessments: list[Assessment]) -> LineChart | None:
    if not assessments:
        return None
    return line_chart(
        chart_id=f"course-{course.id}-scores-chart",
        title="The patient's scores over time",
        description="The patient's own rating, 0 to 10 (10 best), of each outcome at each "
        "assessment: " + "; ".join(_scores_text(a) for a in assessments) + ".",
        series=list(OUTCOMES.items()),
        observations=[Observation(a.date, assessment_words(a), a.patient_scores)
                      for a in assessments],
        lowest=0,
        highest=10,
        step=2,
    )  # fmt: skip


def _scores_text(assessment: Assessment) -> str:
    scores = ", ".join(
        f"{label.lower()} {assessment.patient_scores[key]}" for key, label in OUTCOMES.items()
    )
    return f"{assessment_words(assessment)} of {day_text(assessment.date)}: {scores}"


def _global_chart(course: Course, assessments: list[Assessment]) -> LineChart | None:
    later = [a for a in assessments if a.kind != AssessmentKind.BASELINE]
    if not later:
        return None
    return line_chart(
        chart_id=f"course-{course.id}-global-chart",
        title="Global photographic assessment over time",
        description="The clinician's assessment of the photos against the baseline's, from "
        "-3 (much worse) to +3 (much better): " + "; ".join(
            f"{assessment_words(a)} of {day_text(a.date)}: {a.global_assessment:+d} "
            f"({GLOBAL_ASSESSMENT_WORDS[a.global_assessment]})"
            for a in assessments
        ) + ".",
        series=[("global", "Global assessment")],
        observations=[Observation(a.date, assessment_words(a), {"global": a.global_assessment})
                      for a in assessments],
        lowest=-3,
        highest=3,
    )  # fmt: skip


def _messages(form: FlaskForm) -> list[str]:
    return [*form.form_errors, *(m for field in form for m in field.errors)]


def offer_sites(form: CourseForm) -> CourseForm:
    """The sites a course may be planned at, when the doctor must choose: they work at
    several and chose none in the header. Otherwise the field goes: the site is the one
    chosen, or their only one (`web.sites.site_for_the_page`)."""
    sites = sites_to_choose() if chosen_site_id() is None else []
    if len(sites) < 2:
        del form.site_id
        return form
    form.site_id.choices = [
        SelectChoice("", "Choose the site"),
        *(SelectChoice(str(site.id), site.name) for site in sites),
    ]
    return form


def _plan_form(screened: list[ScreenedSerum], submitted: SubmittedForm | None) -> CourseForm:
    form = submitted.form if submitted and submitted.kind == "plan" else None
    form = form or offer_sites(CourseForm(formdata=None, prefix=CourseForm.PREFIX))
    offered = [item for item in screened if item.screen.verdict != Verdict.CONTRAINDICATED]
    form.serum_id.choices = [
        SelectChoice("", "Choose a serum"),
        *(
            SelectChoice(
                str(item.serum.id),
                f"{item.serum.name} ({item.serum.code} v{item.serum.version}) · "
                f"{item.screen.verdict.value}",
            )
            for item in offered
        ),
    ]
    return form


def _session_forms(
    session: TreatmentSession,
    lot_choices: list[SelectChoice],
    caution: bool,
    submitted: SubmittedForm | None,
) -> dict[str, FlaskForm]:
    def submitted_or(kind: str, blank):
        if submitted and submitted.session_id == session.id and submitted.kind == kind:
            return submitted.form
        return blank()

    if session.status == SessionStatus.PLANNED:
        complete = submitted_or(
            "complete", lambda: CompleteForm(formdata=None, prefix=complete_prefix(session.id))
        )
        complete.lot_id.choices = [FEFO_CHOICE, *lot_choices]
        complete.doses.description = f"Empty: {doses_text(session.doses)}, as planned."
        if caution:
            complete.override_reason.flags.required = True
            complete.override_reason.description = (
                "Required: the screen says caution for this serum (the reasons are above). "
                "Say why the session goes ahead."
            )
        else:
            complete.override_reason.description = "Only when the screen says caution."
        cancel = submitted_or(
            "cancel", lambda: CancelForm(formdata=None, prefix=cancel_prefix(session.id))
        )
        move = submitted_or(
            "move",
            lambda: MoveForm(
                formdata=None, prefix=move_prefix(session.id), scheduled_date=session.scheduled_date
            ),
        )
        return {"complete": complete, "cancel": cancel, "move": move}
    if session.status == SessionStatus.COMPLETED:
        effect = submitted_or(
            "side_effect",
            lambda: SideEffectForm(formdata=None, prefix=side_effect_prefix(session.id)),
        )
        return {"side_effect": effect}
    return {}


def _used_lots(lot_ids: set[int]) -> list[tuple[int, str, LotStatus]]:
    """(id, lot number, status) of the lots the sessions used: one query."""
    if not lot_ids:
        return []
    return db.session.execute(
        select(Lot.id, Lot.lot_number, Lot.status).where(Lot.id.in_(sorted(lot_ids)))
    ).all()


def _lot_choices(serum_ids: set[int], today: date) -> dict[tuple[int, int], list[SelectChoice]]:
    """For each serum and site, its lots usable there today, first expiring first (a session
    uses its own site's stock): two queries."""
    if not serum_ids:
        return {}
    products = db.session.execute(
        select(Product.id, Product.serum_id).where(
            Product.kind == ProductKind.SERUM, Product.serum_id.in_(sorted(serum_ids))
        )
    ).all()
    serum_of = dict(products)
    choices: dict[tuple[int, int], list[SelectChoice]] = {}
    for lot in usable_serum_lots(sorted(serum_of), today):
        label = (
            f"{lot.lot_number} · last day {day_text(lot.effective_expiry)} · "
            f"{quantity_text(lot.quantity_on_hand)} {lot.product.unit}"
        )
        place = (serum_of[lot.product_id], lot.site_id)
        choices.setdefault(place, []).append(SelectChoice(str(lot.id), label))
    return choices


def place_screen_reasons(field, error: DomainError) -> None:
    """The screen's reasons a refusal carries, next to the field they answer (the serum
    picker, the override reason)."""
    reasons = [reason["message"] for reason in error.details.get("reasons", [])]
    if reasons:
        field.errors = [*field.errors, *reasons]
