"""Standard codes on substances: SNOMED CT substances, RxNorm ingredients and UNIIs, so that
an allergy list coded by a hospital or GP system finds the catalogue's substance by code.

A code means one substance (unique per system). Only the three systems below are kept; a
code's shape is checked so a typing slip does not silently never match.
"""

import re
from collections.abc import Iterable, Mapping

from sqlalchemy import select, tuple_

from core.database import db
from core.errors import Conflict, Invalid
from formulary.models import Substance, SubstanceCode

SNOMED_CT = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UNII = "http://fdasis.nlm.nih.gov"

CODE_SYSTEMS = {SNOMED_CT: "SNOMED CT", RXNORM: "RxNorm", UNII: "UNII"}
_CODE_SHAPES = {
    SNOMED_CT: (re.compile(r"^[1-9][0-9]{5,17}$"), "a SNOMED CT code is 6 to 18 digits"),
    RXNORM: (re.compile(r"^[1-9][0-9]{0,9}$"), "an RxNorm code is a number"),
    UNII: (re.compile(r"^[0-9A-Z]{10}$"), "a UNII is 10 capital letters and digits"),
}


def system_name(system: str) -> str:
    return CODE_SYSTEMS.get(system, system)


def code_line(system: str, code: str) -> str:
    """A code as a person writes it: "RxNorm 6387"."""
    return f"{system_name(system)} {code}"


def codes_from_lines(lines: Iterable[str]) -> list[dict]:
    """ "SNOMED CT 387480006", "RxNorm 6387", "UNII 98PI200987": a person's lines as codes."""
    by_name = {name.casefold(): system for system, name in CODE_SYSTEMS.items()}
    codes, errors = [], []
    for line in lines:
        name, _, code = line.strip().rpartition(" ")
        system = by_name.get(name.strip().casefold())
        if system is None:
            errors.append(f"{line.strip()!r}: start with SNOMED CT, RxNorm or UNII, then the code.")
            continue
        codes.append({"system": system, "code": code})
    try:
        checked_codes(codes)
    except Invalid as error:
        errors += [m for messages in error.errors.values() for m in messages]
    if errors:
        raise Invalid({"codes": errors})
    return codes


def checked_codes(codes: Iterable[Mapping], field: str = "codes") -> list[tuple[str, str]]:
    """(system, code) pairs of a list as a person or a catalogue gives it, each checked."""
    pairs, errors = [], {}
    for index, entry in enumerate(codes):
        system, code = _pair(entry)
        if system not in CODE_SYSTEMS:
            errors[f"{field}.{index}.system"] = [
                "One of " + ", ".join(f"{url} ({name})" for url, name in CODE_SYSTEMS.items())
            ]
            continue
        shape, rule = _CODE_SHAPES[system]
        if not shape.match(code):
            errors[f"{field}.{index}.code"] = [f"{code!r} is not a code: {rule}."]
        elif (system, code) not in pairs:
            pairs.append((system, code))
    if errors:
        raise Invalid(errors)
    return pairs


def _pair(entry: Mapping) -> tuple[str, str]:
    system = str(entry.get("system") or "").strip()
    code = str(entry.get("code") or "").strip()
    return system, code.upper() if system == UNII else code


def set_codes(substance: Substance, codes: Iterable[Mapping]) -> None:
    """Replace the substance's codes (each may say its `source`). A code another substance
    holds is refused, naming that substance."""
    codes = list(codes)
    wanted = checked_codes(codes)
    sources = {_pair(entry): entry.get("source") for entry in codes}
    holders = _holders(wanted)
    for pair in wanted:
        holder = holders.get(pair)
        if holder is not None and holder.id != substance.id:
            taken = f"{system_name(pair[0])} {pair[1]} already names {holder.name}"
            raise Conflict(f"{taken}: a code must mean one substance.", {"codes": [f"{taken}."]})
    kept = [c for c in substance.codes if (c.system, c.code) in wanted]
    known = {(c.system, c.code) for c in kept}
    substance.codes = kept
    db.session.flush()
    for pair in wanted:
        if pair not in known:
            system, code = pair
            substance.codes.append(
                SubstanceCode(system=system, code=code, source=sources.get(pair))
            )
    db.session.flush()


def add_code(substance: Substance, *, system: str, code: str, source: str | None) -> bool:
    """Add one code (the catalogue's seed); False when the substance already has it."""
    ((system, code),) = checked_codes([{"system": system, "code": code}])
    if any((c.system, c.code) == (system, code) for c in substance.codes):
        return False
    current = [{"system": c.system, "code": c.code} for c in substance.codes]
    set_codes(substance, [*current, {"system": system, "code": code, "source": source}])
    return True


def find_substance_by_codes(codings: Iterable[tuple[str | None, str | None]]) -> Substance | None:
    """The substance the first recognised (system, code) pair names, in the order given."""
    pairs = [(s, c.strip()) for s, c in codings if s in CODE_SYSTEMS and c and c.strip()]
    if not pairs:
        return None
    holders = _holders(pairs)
    return next((holders[p] for p in pairs if p in holders), None)


def _holders(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Substance]:
    if not pairs:
        return {}
    rows = db.session.execute(
        select(SubstanceCode.system, SubstanceCode.code, Substance)
        .join(Substance, Substance.id == SubstanceCode.substance_id)
        .where(tuple_(SubstanceCode.system, SubstanceCode.code).in_(pairs))
    )
    return {(system, code): substance for system, code, substance in rows}
