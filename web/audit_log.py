"""The audit log as a person reads it: one row per write (what was done, to which record by
its name, by whom, when on the clinic's clock), the fields it changed, old -> new, on demand.

The log stores table names, ids and raw column values; this module words them. Record names
are read with one query per kind of record on the page, never one per row.
"""

import dataclasses
from collections import Counter, defaultdict
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic.models import Allergy, ConditionRule, Course, Patient, SideEffect, TreatmentSession
from core.accounts import User
from core.audit import AuditEntry
from core.clock import day_text, moment_text
from core.database import db
from core.sites import Site
from formulary.models import CrossReactivityGroup, Serum, Substance
from inventory.alerts import Alert
from inventory.models import Batch, Lot, Product

# What each audited table holds, in the clinic's words (singular, plural).
RECORD_KINDS = {
    "alerts": ("alert", "alerts"),
    "allergies": ("allergy", "allergies"),
    "batch_consumptions": ("ingredient used", "ingredients used"),
    "batches": ("compounded batch", "compounded batches"),
    "condition_rules": ("condition rule", "condition rules"),
    "courses": ("course", "courses"),
    "cross_reactivity_groups": ("cross-reactivity group", "cross-reactivity groups"),
    "lots": ("lot", "lots"),
    "movements": ("stock movement", "stock movements"),
    "patient_conditions": ("patient condition", "patient conditions"),
    "patients": ("patient", "patients"),
    "products": ("product", "products"),
    "serum_components": ("serum component", "serum components"),
    "serums": ("serum formula", "serum formulas"),
    "sessions": ("session", "sessions"),
    "side_effects": ("side effect", "side effects"),
    "sites": ("site", "sites"),
    "substance_lineage": ("substance lineage", "substance lineage"),
    "substance_relations": ("substance relation", "substance relations"),
    "substance_synonyms": ("synonym", "synonyms"),
    "substances": ("substance", "substances"),
    "users": ("user", "users"),
    "web_sessions": ("browser sign-in", "browser sign-ins"),
}
VERBS = {"create": "Created", "update": "Changed", "delete": "Deleted"}
# Writes that are not one record's: a scan's alerts, an import's lots.
OPERATIONS = {("scan", "alerts"): "Ran the alert scan", ("import", "lots"): "Imported lots"}
# How a record is named: its model, the words for one of them, what those words read with it.
RECORD_NAMES = {
    "alerts": (Alert, lambda alert: alert.message),
    "allergies": (
        Allergy,
        lambda allergy: f"to {allergy.allergen} of {allergy.patient.name}",
        (Allergy.substance, Allergy.patient),
    ),
    "batches": (Batch, lambda batch: f"of {day_text(batch.prepared_at.date())}"),
    "condition_rules": (ConditionRule, lambda rule: rule.label),
    "courses": (Course, lambda course: f"from {day_text(course.start_date)}"),
    "cross_reactivity_groups": (CrossReactivityGroup, lambda group: group.name),
    "patients": (Patient, lambda patient: patient.name),
    "products": (Product, lambda product: product.name),
    "serums": (Serum, lambda serum: f"{serum.name} (version {serum.version})"),
    "lots": (Lot, lambda lot: f"{lot.lot_number} of {lot.product.name}", (Lot.product,)),
    "sessions": (TreatmentSession, lambda session: f"of {day_text(session.scheduled_date)}"),
    "side_effects": (SideEffect, lambda effect: effect.kind.value.replace("_", " ")),
    "sites": (Site, lambda site: site.name),
    "substances": (Substance, lambda substance: substance.name),
    "users": (User, lambda user: user.username),
}
# Columns that only link rows or repeat the moment of the write: not worth a line.
UNSHOWN_FIELDS = {"id", "created_at", "updated_at"}


def kind_choices() -> list[tuple[str, str]]:
    """The kinds of record the filter offers, by name."""
    return sorted(((table, plural.capitalize()) for table, (_, plural) in RECORD_KINDS.items()),
                  key=lambda choice: choice[1])  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Change:
    field: str
    old: str | None  # None: the field was set when the record was made, or read when deleted
    new: str


@dataclasses.dataclass(frozen=True)
class RecordLine:
    what: str  # "Changed lot D002-1"
    changes: list[Change]


@dataclasses.dataclass(frozen=True)
class WriteRow:
    at: datetime
    username: str
    summary: str
    records: list[RecordLine]


def write_rows(writes, entries: list[AuditEntry]) -> list[WriteRow]:
    """The page's writes (rows of core.audit.audit_writes), each with its entries worded."""
    names = record_names(entries)
    by_write = defaultdict(list)
    for entry in entries:
        by_write[(entry.at, entry.username)].append(entry)
    rows = []
    for write in writes:
        records = by_write[(write.at, write.username)]
        lines = [_record_line(entry, names) for entry in records]
        rows.append(WriteRow(write.at, write.username, _summary(records, lines), lines))
    return rows


def record_names(entries: list[AuditEntry]) -> dict[tuple[str, str], str]:
    """The name of each record the entries concern, one query per kind of record; a deleted
    record is named from what its entry kept."""
    wanted = defaultdict(set)
    for entry in entries:
        if (
            entry.action in VERBS
            and entry.entity in RECORD_NAMES
            and (entry.entity_id or "").isdigit()
        ):
            wanted[entry.entity].add(int(entry.entity_id))
    names = {}
    for table, ids in wanted.items():
        model, name_of, *loads = RECORD_NAMES[table]
        stmt = select(model).where(model.id.in_(ids))
        for relationship in loads[0] if loads else ():
            stmt = stmt.options(joinedload(relationship))
        for record in db.session.scalars(stmt):
            names[(table, str(record.id))] = name_of(record)
    for entry in entries:
        key = (entry.entity, entry.entity_id)
        if key not in names:
            names[key] = _name_kept_in(entry.changes)
    return names


def _name_kept_in(changes: dict) -> str:
    for field in ("name", "lot_number", "username", "label", "code"):
        value = changes.get(field)
        if isinstance(value, dict):
            value = value.get("new") or value.get("old")
        if value:
            return str(value)
    return ""


def _record_line(entry: AuditEntry, names: dict) -> RecordLine:
    if (entry.action, entry.entity) in OPERATIONS:
        return RecordLine(OPERATIONS[(entry.action, entry.entity)], _changes(entry))
    singular, _ = RECORD_KINDS.get(entry.entity, (entry.entity.replace("_", " "), ""))
    name = names.get((entry.entity, entry.entity_id), "")
    what = f"{VERBS.get(entry.action, entry.action.capitalize())} {singular} {name}".strip()
    return RecordLine(what, _changes(entry))


def _changes(entry: AuditEntry) -> list[Change]:
    changes = []
    for field, value in entry.changes.items():
        if field in UNSHOWN_FIELDS or field.endswith(("_id", "_ids")):
            continue
        label = field.replace("_", " ").capitalize()
        if isinstance(value, dict) and "new" in value:
            changes.append(Change(label, value_text(value["old"]), value_text(value["new"])))
        elif isinstance(value, dict) and "added" in value:
            counts = f"{len(value['added'])} added, {len(value['removed'])} removed"
            changes.append(Change(label, None, counts))
        elif value not in (None, "", [], {}):
            changes.append(Change(label, None, value_text(value)))
    return changes


def value_text(value) -> str:
    """A stored value as people write it: dates on the clinic's clock, yes/no, a dash for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        try:
            if len(value) == 10:
                return day_text(date.fromisoformat(value))
            return moment_text(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {value_text(v)}" for key, v in value.items())
    return str(value)


def _summary(records: list[AuditEntry], lines: list[RecordLine]) -> str:
    if not lines:
        return ""
    first = lines[0].what
    others = Counter(entry.entity for entry in records[1:])
    if not others:
        return first
    more = ", ".join(
        f"{count} {RECORD_KINDS.get(table, (table, table))[0 if count == 1 else 1]}"
        for table, count in others.most_common()
    )
    return f"{first}, with {more}"
