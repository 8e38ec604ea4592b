"""Loading the starter catalogue (formulary/catalogue.json) and the demo serums.

Loading is idempotent and additive: what is missing is added, what is there is left alone, so a
second run changes nothing and a pharmacist's later edits are never overwritten. Everything is
written through the catalogue's own rules (cycle refusal, lineage closure, audit log).
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from core.accounts import User
from core.database import db
from core.errors import Invalid
from formulary import codes, graph, serums, substances
from formulary.codes import find_substance_by_codes
from formulary.cross_reactivity import create_group
from formulary.models import CrossReactivityGroup, RelationKind, Serum, Substance

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
RELATIONS = {"is a": RelationKind.IS_A, "contains": RelationKind.CONTAINS}


@dataclass
class SeedReport:
    substances: int = 0
    synonyms: int = 0
    codes: int = 0
    relations: int = 0
    groups: int = 0
    serums: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.substances} substances, {self.synonyms} synonyms, {self.codes} codes, "
            f"{self.relations} "
            f"relations, {self.groups} cross-reactivity groups, {self.serums} serums added"
        )


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict:
    with path.open(encoding="utf-8") as file:
        return json.load(file)


def seed_catalogue(catalogue: dict | None = None) -> SeedReport:
    """Add the catalogue's missing substances, synonyms, relations and groups."""
    catalogue = catalogue or load_catalogue()
    report = SeedReport()
    for entry in catalogue["substances"]:
        _seed_substance(entry, report)
    for entry in catalogue["relations"]:
        _seed_relation(entry, report)
    for entry in catalogue["cross_reactivity_groups"]:
        _seed_group(entry, report)
    return report


def seed_demo_serums(
    author: User, approver: User, *, catalogue: dict | None = None, report: SeedReport | None = None
) -> SeedReport:
    """The demo serums, written by one user and approved by another (four eyes), unless a
    serum of that code exists already."""
    catalogue = catalogue or load_catalogue()
    report = report or SeedReport()
    for entry in catalogue["demo_serums"]:
        if db.session.scalar(select(Serum.id).where(Serum.code == entry["code"]).limit(1)):
            continue
        serum = serums.create_serum(
            author=author,
            code=entry["code"],
            name=entry["name"],
            source=entry["source"],
            manufacturer=entry.get("manufacturer"),
            dose_volume_ml=Decimal(str(entry["dose_volume_ml"])),
            components=[
                {
                    "substance_id": _named(component["substance"]).id,
                    "amount_per_dose": {
                        "value": Decimal(str(component["amount_per_dose"]["value"])),
                        "unit": component["amount_per_dose"]["unit"],
                    },
                }
                for component in entry["components"]
            ],
        )
        serums.approve(serum, approver)
        report.serums += 1
    return report


def _named(name: str) -> Substance:
    substance = substances.find_substance_by_name(name)
    if substance is None:
        raise LookupError(f"The catalogue names {name!r}, which is not a substance.")
    return substance


def _seed_substance(entry: dict, report: SeedReport) -> None:
    substance = substances.find_substance_by_name(entry["name"])
    if substance is None:
        maximum = entry.get("max_concentration_per_ml")
        substance = substances.create_substance(
            name=entry["name"],
            category=entry["category"],
            is_class=entry.get("is_class", False),
            max_concentration_per_ml=maximum
            and {"value": Decimal(str(maximum["value"])), "unit": maximum["unit"]},
            note=entry.get("note"),
        )
        report.substances += 1
    for synonym in entry.get("synonyms", ()):
        holder = substances.find_substance_by_name(synonym)
        if holder is substance:
            continue
        if holder is not None:
            report.skipped.append(f"synonym {synonym!r}: already names {holder.name}")
            continue
        substances.add_synonym(substance, synonym)
        report.synonyms += 1
    for entry_code in entry.get("codes", ()):
        holder = find_substance_by_codes([(entry_code["system"], entry_code["code"])])
        if holder is not None and holder is not substance:
            report.skipped.append(f"code {entry_code['code']!r}: already names {holder.name}")
            continue
        if codes.add_code(substance, **entry_code):
            report.codes += 1


def _seed_relation(entry: dict, report: SeedReport) -> None:
    substance, related = _named(entry["substance"]), _named(entry["related"])
    try:
        added = graph.add_relation(
            substance, RELATIONS[entry["relation"]], related=related, source=entry.get("source")
        )
    except Invalid as refused:  # the catalogue was edited into a shape this fact contradicts
        report.skipped.append(f"{substance.name} {entry['relation']} {related.name}: {refused}")
        return
    report.relations += added


def _seed_group(entry: dict, report: SeedReport) -> None:
    exists = db.session.scalar(
        select(CrossReactivityGroup.id).where(CrossReactivityGroup.name == entry["name"])
    )
    if exists is not None:
        return
    create_group(
        name=entry["name"],
        members=[_named(name).id for name in entry["members"]],
        note=entry.get("note"),
    )
    report.groups += 1
