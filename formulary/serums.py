"""Serum formulas and their four-eyes workflow (SPEC 3.2).

A serum is a line of versions sharing a code. A version is written as a draft, approved by a
second person, and is then immutable: a change is the next version, itself a draft, and
approving it retires the version it replaces. Every version stays in the history.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from core.accounts import User
from core.clock import utcnow
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from formulary import units
from formulary.models import Serum, SerumComponent, SerumSource, SerumStatus, Substance
from formulary.substances import max_concentration

EDITABLE_FIELDS = ("name", "source", "manufacturer", "dose_volume_ml")


def get_serum(serum_id: int, *, field: str | None = None) -> Serum:
    """The serum; one that does not exist is a 404, or, when a request names it in `field`, an
    error on that field."""
    serum = db.session.get(Serum, serum_id)
    if serum is not None:
        return serum
    if field is not None:
        raise Invalid({field: ["No such serum formula."]})
    raise NotFound(f"No serum with id {serum_id}.")


def serum_query(
    code: str | None = None, status: SerumStatus | str | None = None, *, q: str | None = None
) -> Select:
    """Serum versions, by code then version, with everything the API shows loaded up front;
    `q` finds a code or a name containing it (any case)."""
    stmt = select(Serum).options(
        selectinload(Serum.components).selectinload(SerumComponent.substance),
        selectinload(Serum.author),
        selectinload(Serum.approved_by),
        selectinload(Serum.editors),
    )
    if code:
        stmt = stmt.where(Serum.code == code.strip())
    if q and q.strip():
        text = q.strip()
        stmt = stmt.where(
            or_(
                Serum.code.icontains(text, autoescape=True),
                Serum.name.icontains(text, autoescape=True),
            )
        )
    if status:
        stmt = stmt.where(Serum.status == SerumStatus(status))
    return stmt.order_by(Serum.code, Serum.version)


def create_serum(
    author: User | None,
    code: str,
    *,
    name: str,
    source: SerumSource | str,
    dose_volume_ml: Decimal,
    components: Iterable[Mapping] = (),
    manufacturer: str | None = None,
) -> Serum:
    """A new serum, version 1, as a draft written by `author`. Components are mappings
    `{"substance_id", "amount_per_dose": {"value", "unit"}}`."""
    code = code.strip()
    if not code:
        raise Invalid({"code": ["A serum needs a code."]})
    if db.session.scalar(select(Serum.id).where(Serum.code == code).limit(1)) is not None:
        raise Conflict(
            f"A serum with code {code!r} exists already: a change to it is a new version of "
            "that serum.",
            {"code": ["Taken."]},
        )
    serum = Serum(
        code=code,
        name=name.strip(),
        version=1,
        status=SerumStatus.DRAFT,
        source=SerumSource(source),
        manufacturer=manufacturer,
        dose_volume_ml=Decimal(dose_volume_ml),
        author=author,
    )
    _refuse_missing_manufacturer(serum)
    serum.components = _components(components)
    db.session.add(serum)
    db.session.flush()
    return serum


def lock_versions(serum: Serum) -> Serum:
    """Lock every version of the serum's code for the rest of the transaction (PostgreSQL),
    then read the serum and its components again under the lock. An edit, an approval, a
    retirement and a new version of one formula run one after the other: the second sees what
    the first did (an approved draft can no longer be edited, nor approved twice)."""
    db.session.execute(
        select(Serum.id).where(Serum.code == serum.code).order_by(Serum.id).with_for_update()
    )
    db.session.expire(serum)
    return serum


def update_draft(serum: Serum, changes: Mapping, *, editor: User | None = None) -> Serum:
    """Apply a PATCH to a draft; `components`, when given, replaces them all. An `editor`
    other than the author is remembered: having changed the draft, they cannot approve it."""
    lock_versions(serum)
    _refuse_unless_draft(serum, "edited")
    if editor is not None and editor.id != serum.author_id and editor not in serum.editors:
        serum.editors.append(editor)
    for field in EDITABLE_FIELDS:
        if field in changes:
            setattr(serum, field, changes[field])
    if "source" in changes:
        serum.source = SerumSource(changes["source"])
    _refuse_missing_manufacturer(serum)
    if "components" in changes:
        replacements = _components(changes["components"])
        # Old rows go first: the same substance may come back, and (serum, substance) is unique.
        serum.components.clear()
        db.session.flush()
        serum.components.extend(replacements)
    db.session.flush()
    return serum


def approve(serum: Serum, approver: User) -> Serum:
    """Four eyes: the approver neither wrote nor changed the draft. Approving a version
    retires the approved one it replaces."""
    lock_versions(serum)
    refuse_own_approval(serum, approver)
    _refuse_unsafe_formula(serum)
    for previous in db.session.scalars(
        select(Serum).where(
            Serum.code == serum.code, Serum.status == SerumStatus.APPROVED, Serum.id != serum.id
        )
    ):
        previous.status = SerumStatus.RETIRED
    # The retirement reaches the database before the approval (one approved per code).
    db.session.flush()
    serum.status = SerumStatus.APPROVED
    serum.approved_by = approver
    serum.approved_at = utcnow()
    db.session.flush()
    return serum


def refuse_own_approval(serum: Serum, approver: User) -> None:
    """Refuse (409) an approval this person cannot give: the version is not a draft, or they
    wrote or changed it. Pages ask it before asking "are you sure?"."""
    _refuse_unless_draft(serum, "approved")
    role = own_part(serum, approver)
    if role is not None:
        raise Conflict(
            f"{approver.username} {role} this draft of {serum.code} and cannot also approve it: "
            "approval needs a second person (four-eyes rule)."
        )


def own_part(serum: Serum, user: User) -> str | None:
    """ "wrote" or "changed" when the user had a hand in this version, else None."""
    if serum.author_id is not None and serum.author_id == user.id:
        return "wrote"
    if any(editor.id == user.id for editor in serum.editors):
        return "changed"
    return None


def may_approve(serum: Serum, user: User) -> bool:
    return serum.status is SerumStatus.DRAFT and own_part(serum, user) is None


def retire(serum: Serum) -> Serum:
    """Withdraw an approved version (or abandon a draft); a retired version stays retired."""
    lock_versions(serum)
    if serum.status is SerumStatus.RETIRED:
        raise Conflict(f"{serum.code} version {serum.version} is retired already.")
    serum.status = SerumStatus.RETIRED
    db.session.flush()
    return serum


def new_version(serum: Serum, author: User | None) -> Serum:
    """The next version of the serum's code, a draft copy of this version, written by
    `author`. One draft per code at a time: a second would fork the history."""
    lock_versions(serum)
    draft = db.session.scalar(
        select(Serum).where(Serum.code == serum.code, Serum.status == SerumStatus.DRAFT)
    )
    if draft is not None:
        raise Conflict(
            f"{serum.code} has a draft already (version {draft.version}): edit or approve it "
            "before starting another."
        )
    latest = db.session.scalar(select(func.max(Serum.version)).where(Serum.code == serum.code))
    copy = Serum(
        code=serum.code,
        name=serum.name,
        version=latest + 1,
        status=SerumStatus.DRAFT,
        source=serum.source,
        manufacturer=serum.manufacturer,
        dose_volume_ml=serum.dose_volume_ml,
        bud_room_days=serum.bud_room_days,
        bud_refrigerated_days=serum.bud_refrigerated_days,
        author=author,
        components=[
            SerumComponent(
                substance_id=c.substance_id,
                position=c.position,
                amount_value=c.amount_value,
                amount_unit=c.amount_unit,
            )
            for c in serum.components
        ],
    )
    db.session.add(copy)
    db.session.flush()
    return copy


def refuse_unless_editable(serum: Serum) -> None:
    """409 unless the version is a draft: what a page asks before offering to edit it."""
    _refuse_unless_draft(serum, "edited")


def _refuse_unless_draft(serum: Serum, action: str) -> None:
    if serum.status is not SerumStatus.DRAFT:
        raise Conflict(
            f"{serum.code} version {serum.version} is {serum.status.value} and cannot be "
            f"{action}: only a draft can. Start a new version to change it."
        )


def _refuse_missing_manufacturer(serum: Serum) -> None:
    if serum.source is SerumSource.MANUFACTURED and not (serum.manufacturer or "").strip():
        raise Invalid({"manufacturer": ["A manufactured serum names its manufacturer."]})


def _components(items: Iterable[Mapping]) -> list[SerumComponent]:
    """Components from their request form; every bad one is named by its position."""
    items = list(items)
    ids = {item["substance_id"] for item in items}
    found = db.session.scalars(select(Substance).where(Substance.id.in_(ids)))
    substances = {substance.id: substance for substance in found}
    errors: dict[str, list[str]] = {}
    components, seen = [], set()
    for position, item in enumerate(items):
        field = f"components.{position}"
        substance = substances.get(item["substance_id"])
        if substance is None:
            errors[f"{field}.substance_id"] = [f"No substance with id {item['substance_id']}."]
            continue
        if substance.is_class:
            errors[f"{field}.substance_id"] = [
                f"{substance.name} is a class of substances, not an ingredient."
            ]
            continue
        if substance.id in seen:
            errors[f"{field}.substance_id"] = [f"{substance.name} is listed twice."]
            continue
        seen.add(substance.id)
        amount = item["amount_per_dose"]
        try:
            unit = units.canonical_unit(amount["unit"])
        except units.UnitError as error:
            errors[f"{field}.amount_per_dose"] = [f"{substance.name}: {error}"]
            continue
        components.append(
            SerumComponent(
                substance=substance,
                position=position,
                amount_value=Decimal(amount["value"]),
                amount_unit=unit,
            )
        )
    if errors:
        raise Invalid(errors)
    return components


def _refuse_unsafe_formula(serum: Serum) -> None:
    """Approval checks what a pharmacist's second look would: something in the syringe, and no
    component above its substance's maximum concentration."""
    if not serum.components:
        raise Invalid(
            {"components": ["A serum without components cannot be approved."]},
            message=f"{serum.code} version {serum.version} has no components.",
        )
    problems = concentration_problems(serum)
    if problems:
        errors = {
            f"components.{position}.amount_per_dose": [
                f"{serum.components[position].substance.name}: {problem}"
            ]
            for position, problem in problems.items()
        }
        refused = ", ".join(serum.components[position].substance.name for position in problems)
        raise Invalid(errors, message=f"Approval refused for {refused}.")


def concentration_problems(serum: Serum) -> dict[int, str]:
    """By component position: why its concentration breaks its substance's maximum (what
    approval will refuse)."""
    problems = {}
    for position, component in enumerate(serum.components):
        maximum = max_concentration(component.substance)
        if maximum is None:
            continue
        problem = _over_maximum(component.concentration_per_ml, maximum)
        if problem:
            problems[position] = problem
    return problems


def _over_maximum(concentration: units.Amount, maximum: units.Amount) -> str | None:
    """Why a concentration breaks its maximum, or None when it does not."""
    limit = f"its maximum of {_number(maximum.value)} {maximum.unit} per mL"
    try:
        in_limit_unit = units.convert(concentration, maximum.unit)
    except units.UnitError:
        return f"an amount in {concentration.unit} cannot be checked against {limit}."
    if in_limit_unit.value <= maximum.value:
        return None
    return f"{_number(in_limit_unit.value)} {maximum.unit} per mL is above {limit}."


def _number(value: Decimal) -> str:
    return f"{Decimal(value).quantize(Decimal('0.0001')).normalize():f}"


# --- what a draft changes ----------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentChange:
    """One line of a draft's difference: a substance `added`, `removed`, or its amount per
    dose `changed`."""

    substance: str
    change: str
    before: units.Amount | None
    after: units.Amount | None


@dataclass(frozen=True)
class FieldChange:
    field: str  # name, source, manufacturer, dose_volume_ml
    before: object
    after: object


@dataclass(frozen=True)
class FormulaChanges:
    """How a draft differs from the version it replaces (`base`; None for a new serum)."""

    base: Serum | None
    components: list[ComponentChange]
    fields: list[FieldChange]

    @property
    def any(self) -> bool:
        return bool(self.components or self.fields)


def versions_replaced(drafts: Sequence[Serum]) -> dict[int, Serum | None]:
    """For each draft (by id): the version its approval replaces, the approved version of its
    code, or when there is none the latest earlier version; None for a serum's first draft.
    One query, whatever the number of drafts."""
    codes = {draft.code for draft in drafts}
    earlier: dict[str, list[Serum]] = {}
    if codes:
        rows = db.session.scalars(
            select(Serum)
            .where(Serum.code.in_(codes), Serum.status != SerumStatus.DRAFT)
            .options(selectinload(Serum.components).selectinload(SerumComponent.substance))
            .order_by(Serum.version.desc())
        )
        for row in rows:
            earlier.setdefault(row.code, []).append(row)
    answer: dict[int, Serum | None] = {}
    for draft in drafts:
        versions = [v for v in earlier.get(draft.code, []) if v.version < draft.version]
        approved = [v for v in versions if v.status is SerumStatus.APPROVED]
        answer[draft.id] = (approved or versions or [None])[0]
    return answer


def formula_changes(draft: Serum, base: Serum | None) -> FormulaChanges:
    """What approving the draft would change: components added, removed or with another
    amount per dose (1000 ug and 1 mg are the same amount), and the other fields changed."""
    if base is None:
        added = [
            ComponentChange(c.substance.name, "added", None, c.amount_per_dose)
            for c in draft.components
        ]
        return FormulaChanges(None, added, [])
    before = {c.substance_id: c for c in base.components}
    after = {c.substance_id: c for c in draft.components}
    changes = []
    for component in draft.components:
        old = before.get(component.substance_id)
        if old is None:
            changes.append(
                ComponentChange(component.substance.name, "added", None, component.amount_per_dose)
            )
        elif not _same_amount(old.amount_per_dose, component.amount_per_dose):
            changes.append(
                ComponentChange(
                    component.substance.name,
                    "changed",
                    old.amount_per_dose,
                    component.amount_per_dose,
                )
            )
    for component in base.components:
        if component.substance_id not in after:
            changes.append(
                ComponentChange(
                    component.substance.name, "removed", component.amount_per_dose, None
                )
            )
    fields = [
        FieldChange(field, getattr(base, field), getattr(draft, field))
        for field in EDITABLE_FIELDS
        if _differs(getattr(base, field), getattr(draft, field))
    ]
    return FormulaChanges(base, changes, fields)


def _same_amount(before: units.Amount, after: units.Amount) -> bool:
    try:
        return units.convert(before, after.unit).value == Decimal(after.value)
    except units.UnitError:
        return False


def _differs(before, after) -> bool:
    if isinstance(before, Decimal) or isinstance(after, Decimal):
        return Decimal(before or 0) != Decimal(after or 0)
    return (before or None) != (after or None)


def drafts_waiting() -> int:
    """How many drafts wait for approval."""
    return db.session.scalar(
        select(func.count()).select_from(Serum).where(Serum.status == SerumStatus.DRAFT)
    )
