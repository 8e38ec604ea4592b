"""The substance catalogue: creating and editing substances and classes, their synonyms and
maximum concentration, and finding a substance by any name it goes by.

A name means one substance: names and synonyms share one case-insensitive namespace, so that
"Novocain" in an allergy record can only ever be procaine.
"""

import difflib
from collections.abc import Iterable, Mapping
from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from core.database import db
from core.errors import Conflict, Invalid, NotFound
from formulary import codes as substance_codes
from formulary import graph, units
from formulary.models import Category, RelationKind, Substance, SubstanceRelation, SubstanceSynonym

_UNSET = object()


def name_key(name: str) -> str:
    """The form names are compared in: case-folded, inner whitespace collapsed."""
    return " ".join(str(name).split()).casefold()


def clean_name(name: str) -> str:
    return " ".join(str(name).split())


def get_substance(substance_id: int) -> Substance:
    substance = db.session.get(Substance, substance_id)
    if substance is None:
        raise NotFound(f"No substance with id {substance_id}.")
    return substance


def substances_by_ids(ids: Iterable[int], field: str) -> list[Substance]:
    """The substances of these ids, in the order given; 422 on `field` naming unknown ids."""
    wanted = list(dict.fromkeys(ids))
    found = {s.id: s for s in db.session.scalars(select(Substance).where(Substance.id.in_(wanted)))}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise Invalid({field: [f"No substance with id {', '.join(missing)}."]})
    return [found[i] for i in wanted]


def create_substance(
    name: str,
    category: Category | str,
    *,
    is_class: bool = False,
    synonyms: Iterable[str] = (),
    parents: Iterable[int] = (),
    contains: Iterable[int] = (),
    max_concentration_per_ml: Mapping | None = None,
    note: str | None = None,
    codes: Iterable[Mapping] = (),
) -> Substance:
    name = clean_name(name)
    _refuse_taken_name(name, "name")
    substance = Substance(
        name=name,
        name_key=name_key(name),
        category=Category(category),
        is_class=is_class,
        note=note,
    )
    _set_max_concentration(substance, max_concentration_per_ml)
    db.session.add(substance)
    db.session.flush()
    graph.refresh_lineage([substance.id])
    _set_synonyms(substance, synonyms)
    codes = list(codes)
    if codes:
        substance_codes.set_codes(substance, codes)
    parents, contains = list(parents), list(contains)
    if parents or contains:
        graph.set_relations(
            substance,
            parents=substances_by_ids(parents, "parents"),
            contains=substances_by_ids(contains, "contains"),
        )
    return substance


def update_substance(substance: Substance, changes: Mapping) -> Substance:
    """Apply the fields present in `changes` (a PATCH): name, category, is_class, synonyms,
    codes, parents, contains, max_concentration_per_ml, note."""
    if "name" in changes and name_key(changes["name"]) != substance.name_key:
        name = clean_name(changes["name"])
        _refuse_taken_name(name, "name", ignore=substance)
        substance.name, substance.name_key = name, name_key(name)
    elif "name" in changes:
        substance.name = clean_name(changes["name"])
    if "category" in changes:
        substance.category = Category(changes["category"])
    if "is_class" in changes:
        substance.is_class = changes["is_class"]
    if "note" in changes:
        substance.note = changes["note"]
    if "max_concentration_per_ml" in changes:
        _set_max_concentration(substance, changes["max_concentration_per_ml"])
    if "synonyms" in changes:
        _set_synonyms(substance, changes["synonyms"])
    if "codes" in changes:
        substance_codes.set_codes(substance, changes["codes"] or [])
    if "parents" in changes or "contains" in changes:
        graph.set_relations(
            substance,
            parents=_ids_or_none(changes, "parents"),
            contains=_ids_or_none(changes, "contains"),
        )
    db.session.flush()
    return substance


def _ids_or_none(changes: Mapping, field: str) -> list[Substance] | None:
    if field not in changes:
        return None
    return substances_by_ids(changes[field] or [], field)


def _set_max_concentration(substance: Substance, maximum: Mapping | None) -> None:
    if maximum is None:
        substance.max_concentration_value = substance.max_concentration_unit = None
        return
    try:
        unit = units.canonical_unit(maximum["unit"])
    except units.UnitError as error:
        raise Invalid({"max_concentration_per_ml": [str(error)]}) from None
    value = Decimal(maximum["value"])
    if value <= 0:
        raise Invalid({"max_concentration_per_ml": ["The maximum must be greater than zero."]})
    substance.max_concentration_value, substance.max_concentration_unit = value, unit


def max_concentration(substance: Substance) -> units.Amount | None:
    if substance.max_concentration_value is None:
        return None
    return units.Amount(substance.max_concentration_value, substance.max_concentration_unit)


def add_synonym(substance: Substance, synonym: str) -> None:
    _set_synonyms(substance, [*(s.name for s in substance.synonyms), synonym])


def _set_synonyms(substance: Substance, synonyms: Iterable[str]) -> None:
    """Replace the synonyms; a synonym that repeats the substance's own name is dropped."""
    wanted: dict[str, str] = {}
    for synonym in synonyms:
        key = name_key(synonym)
        if key and key != substance.name_key:
            wanted.setdefault(key, clean_name(synonym))
    for synonym_name in wanted.values():
        _refuse_taken_name(synonym_name, "synonyms", ignore=substance)
    kept = [s for s in substance.synonyms if s.name_key in wanted]
    for synonym in kept:
        synonym.name = wanted.pop(synonym.name_key)
    substance.synonyms = kept
    # Drop the old rows before adding new ones, so a synonym moved between spellings does not
    # collide with itself on the unique key.
    db.session.flush()
    substance.synonyms.extend(
        SubstanceSynonym(name=spelled, name_key=name_key(spelled)) for spelled in wanted.values()
    )
    db.session.flush()
    db.session.expire(substance, ["synonyms"])  # read back in the catalogue's order (by name)


def _refuse_taken_name(name: str, field: str, ignore: Substance | None = None) -> None:
    holder = find_substance_by_name(name)
    if holder is None or holder is ignore:
        return
    raise Conflict(
        f"{name!r} already names {holder.name} (as its name or a synonym): a name must mean "
        "one substance.",
        {field: [f"{name!r} is already used by {holder.name}."]},
    )


def find_substance_by_name(name: str) -> Substance | None:
    """The substance a name or synonym means, whatever its case ("b12" is cyanocobalamin)."""
    key = name_key(name)
    if not key:
        return None
    by_synonym = select(SubstanceSynonym.substance_id).where(SubstanceSynonym.name_key == key)
    return db.session.scalar(
        select(Substance).where(or_(Substance.name_key == key, Substance.id.in_(by_synonym)))
    )


def closest_substance_names(name: str, limit: int = 5) -> list[str]:
    """Catalogue names and synonyms that look like a name nobody recognised, best first, for
    a "did you mean" message."""
    spellings: dict[str, str] = {}
    for key, spelled in db.session.execute(select(Substance.name_key, Substance.name)):
        spellings[key] = spelled
    for key, spelled in db.session.execute(
        select(SubstanceSynonym.name_key, SubstanceSynonym.name)
    ):
        spellings.setdefault(key, spelled)
    matches = difflib.get_close_matches(name_key(name), spellings, n=limit, cutoff=0.5)
    return [spellings[key] for key in matches]


def substance_query(q: str | None = None, category: Category | str | None = None) -> Select:
    """Substances whose name or a synonym contains `q` (any case), of a category, by name; the
    collections the API shows are loaded up front (no query per substance)."""
    stmt = select(Substance).options(
        selectinload(Substance.synonyms),
        selectinload(Substance.codes),
        selectinload(Substance.parents),
        selectinload(Substance.contains),
    )
    if q:
        key = name_key(q)
        by_synonym = select(SubstanceSynonym.substance_id).where(
            SubstanceSynonym.name_key.contains(key, autoescape=True)
        )
        stmt = stmt.where(
            or_(Substance.name_key.contains(key, autoescape=True), Substance.id.in_(by_synonym))
        )
    if category:
        stmt = stmt.where(Substance.category == Category(category))
    return stmt.order_by(Substance.name, Substance.id)


def substances_by_names(names_by_field: Mapping[str, Iterable[str]]) -> dict[str, list[Substance]]:
    """The substances a person named (by any name or synonym, any case), field by field, in
    the order written, each once. Every name nobody recognises is refused at once, on its
    field, with the closest catalogue names."""
    found: dict[str, list[Substance]] = {}
    errors: dict[str, list[str]] = {}
    for field, names in names_by_field.items():
        chosen: dict[int, Substance] = {}
        for name in names:
            if not name_key(name):
                continue
            substance = find_substance_by_name(name)
            if substance is None:
                errors.setdefault(field, []).append(unknown_name_message(name))
            else:
                chosen.setdefault(substance.id, substance)
        found[field] = list(chosen.values())
    if errors:
        raise Invalid(errors)
    return found


def unknown_name_message(name: str) -> str:
    """ "'penicilin' is not in the catalogue. Did you mean: ...?" """
    message = f"{clean_name(name)!r} is not in the catalogue."
    suggestions = closest_substance_names(name)
    if suggestions:
        message += f" Did you mean: {', '.join(suggestions)}?"
    return message


def class_members(substance: Substance) -> list[Substance]:
    """What is directly "a" member of this class (procaine and benzocaine for ester local
    anaesthetics), by name."""
    members = select(SubstanceRelation.substance_id).where(
        SubstanceRelation.related_id == substance.id, SubstanceRelation.kind == RelationKind.IS_A
    )
    return list(
        db.session.scalars(
            select(Substance).where(Substance.id.in_(members)).order_by(Substance.name)
        )
    )


def carriers_of(substance: Substance) -> list[Substance]:
    """What directly contains this substance as an allergen carried inside, by name."""
    carriers = select(SubstanceRelation.substance_id).where(
        SubstanceRelation.related_id == substance.id,
        SubstanceRelation.kind == RelationKind.CONTAINS,
    )
    return list(
        db.session.scalars(
            select(Substance).where(Substance.id.in_(carriers)).order_by(Substance.name)
        )
    )


def ingredient_names() -> list[str]:
    """Every substance that can go into a serum (not a class), by name: what a form offers
    as suggestions."""
    return list(
        db.session.scalars(
            select(Substance.name).where(Substance.is_class.is_(False)).order_by(Substance.name)
        )
    )
