"""FHIR R4 allergy exchange: a Bundle of AllergyIntolerance, exported and imported with
fhir.resources (its R4B models, whose AllergyIntolerance is R4's).

What real allergy lists hold, and what happens to it:
- an allergen coded by SNOMED CT, RxNorm or UNII, or named by text or display, finds the
  catalogue substance by code first, then by name or synonym;
- an allergen outside the catalogue (penicillin, cashew nuts) is kept as received, uncoded:
  every serum is then a caution for the patient until a doctor resolves it;
- a "no known allergy" resource states the allergy history and creates no allergy;
- the whole bundle or nothing: every entry is read and checked before anything is written, and
  every entry must name the same patient, the one in the URL when the bundle identifies it.

An export imports back unchanged: each allergy carries our identifier, and a re-import
matched on it writes nothing.
"""

import uuid
from dataclasses import dataclass, field

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from clinic import allergies as allergy_rules
from clinic.models import (
    Allergy,
    AllergyStatus,
    ClinicalStatus,
    Criticality,
    Patient,
    Severity,
    VerificationStatus,
)
from clinic.patients import state_allergy_status
from core.database import db
from core.errors import Conflict, Invalid
from formulary.codes import SNOMED_CT, find_substance_by_codes
from formulary.models import Substance
from formulary.substances import find_substance_by_name

CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
SUBSTANCE_SYSTEM = "urn:serum-formulary:substance"
ALLERGY_SYSTEM = "urn:serum-formulary:allergy"
MRN_SYSTEM = "urn:serum-formulary:mrn"
# R4 needs a manifestation for a reaction; a severity recorded without one is exported with
# this text and read back as no manifestation.
UNSPECIFIED_REACTION = "unspecified reaction"
# fullUrls are urn:uuid: names derived from our identifier, so an export is stable.
_URN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, ALLERGY_SYSTEM)

# SNOMED CT situations that say an allergy is absent (R4's "no known allergy" pattern). The
# general and the drug statements are the ones a serum depends on: they set the history.
NO_KNOWN_ALLERGY = "716186003"
NO_KNOWN_DRUG_ALLERGY = "409137002"
NO_KNOWN_ALLERGY_CODES = {
    NO_KNOWN_ALLERGY: True,
    NO_KNOWN_DRUG_ALLERGY: True,
    "429625007": False,  # no known food allergy
    "428607008": False,  # no known environmental allergy
    "716184000": False,  # no known latex allergy
}
_SEVERITY_ORDER = [Severity.MILD, Severity.MODERATE, Severity.SEVERE]
_TEXT_LENGTH = allergy_rules.TEXT_LENGTH


# --- Export ------------------------------------------------------------------------------


def export_allergies(patient: Patient) -> dict:
    resources = [_resource(patient, allergy) for allergy in patient.allergies]
    if patient.allergy_status == AllergyStatus.NO_KNOWN_ALLERGIES and not patient.allergies:
        resources.append(_no_known_allergy(patient))
    bundle = Bundle(
        type="collection",
        entry=[
            {"fullUrl": _full_url(resource.identifier[0].value), "resource": resource}
            for resource in resources
        ],
    )
    return bundle.model_dump(mode="json", exclude_none=True)


def _full_url(identifier: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_URN_NAMESPACE, identifier)}"


def _resource(patient: Patient, allergy: Allergy) -> AllergyIntolerance:
    resource = {
        "id": str(allergy.id),
        "identifier": _identifiers(allergy),
        "type": "allergy",
        "verificationStatus": _concept(VERIFICATION_SYSTEM, allergy.verification_status.value),
        "criticality": allergy.criticality.value,
        "code": {"coding": _codings(allergy), "text": allergy.text or allergy.substance.name},
        "patient": _patient_reference(patient),
    }
    # FHIR R4 (ait-2): an allergy entered in error has no clinical status.
    if allergy.verification_status != VerificationStatus.ENTERED_IN_ERROR:
        resource["clinicalStatus"] = _concept(CLINICAL_SYSTEM, allergy.clinical_status.value)
    if allergy.reaction or allergy.severity:
        reaction = {"manifestation": [{"text": allergy.reaction or UNSPECIFIED_REACTION}]}
        if allergy.severity:
            reaction["severity"] = allergy.severity.value
        resource["reaction"] = [reaction]
    if allergy.note:
        resource["note"] = [{"text": allergy.note}]
    return AllergyIntolerance(**resource)


def _identifiers(allergy: Allergy) -> list[dict]:
    identifiers = [{"system": ALLERGY_SYSTEM, "value": str(allergy.id)}]
    if allergy.source_identifier:
        system, _, value = allergy.source_identifier.rpartition("|")
        identifiers.append({"system": system, "value": value} if system else {"value": value})
    return identifiers


def _codings(allergy: Allergy) -> list[dict]:
    """Ours, the substance's standard codes, then the codes it was received with."""
    codings = []
    substance = allergy.substance
    if substance is not None:
        codings.append(
            {"system": SUBSTANCE_SYSTEM, "code": str(substance.id), "display": substance.name}
        )
        codings += [
            {"system": c.system, "code": c.code, "display": substance.name} for c in substance.codes
        ]
    for received in allergy.codes or []:
        if not any(
            (c.get("system"), c["code"]) == (received.get("system"), received["code"])
            for c in codings
        ):
            codings.append(received)
    return codings


def _patient_reference(patient: Patient) -> dict:
    return {
        "reference": f"Patient/{patient.id}",
        "identifier": {"system": MRN_SYSTEM, "value": patient.mrn},
    }


def _no_known_allergy(patient: Patient) -> AllergyIntolerance:
    return AllergyIntolerance(
        identifier=[{"system": ALLERGY_SYSTEM, "value": f"no-known-allergy-{patient.id}"}],
        clinicalStatus=_concept(CLINICAL_SYSTEM, "active"),
        verificationStatus=_concept(VERIFICATION_SYSTEM, "confirmed"),
        code={
            "coding": [
                {"system": SNOMED_CT, "code": NO_KNOWN_ALLERGY, "display": "No known allergy"}
            ],
            "text": "No known allergy",
        },
        patient=_patient_reference(patient),
    )


def _concept(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


# --- Import ------------------------------------------------------------------------------


@dataclass
class _Entry:
    """What one AllergyIntolerance says, read and checked, before anything is written."""

    where: str
    fields: dict
    substance: Substance | None = None
    text: str | None = None
    codes: list[dict] = field(default_factory=list)
    our_id: int | None = None
    source_identifier: str | None = None
    # A "no known allergy" resource: it states the history (general or drug) or, for food,
    # environment and latex, says nothing a serum depends on; either way it is no allergy.
    absence: bool = False
    states_no_known_allergy: bool = False


def import_allergies(patient: Patient, document: dict) -> list[Allergy]:
    """Create or update one allergy per AllergyIntolerance; a "no known allergy" statement
    sets the allergy history. One bad entry refuses the whole bundle."""
    bundle = _parse(document)
    resources = [_allergy_resource(index, entry) for index, entry in enumerate(bundle.entry or [])]
    _check_one_patient(patient, resources)
    entries = [_read(where, resource) for where, resource in resources]
    statements = [e for e in entries if e.states_no_known_allergy]
    allergies = [e for e in entries if not e.absence]
    _refuse_contradiction(patient, statements, allergies)
    imported = [_write(patient, entry) for entry in allergies]
    if statements:
        state_allergy_status(patient, AllergyStatus.NO_KNOWN_ALLERGIES)
    db.session.flush()
    return imported


def _parse(document: dict) -> Bundle:
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise Invalid({"resourceType": ["Must be a FHIR Bundle."]})
    try:
        return Bundle.model_validate(_as_r4(document))
    except ValidationError as error:
        raise Invalid(
            {
                ".".join(str(part) for part in problem["loc"]): [problem["msg"]]
                for problem in error.errors()
            },
            message="Not a valid FHIR R4 Bundle.",
        ) from None


def _as_r4(document: dict) -> dict:
    """Newer systems send a reaction's manifestation as a CodeableReference
    (`{"concept": {...}}`, FHIR R5); R4 has the CodeableConcept itself."""
    for entry in document.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "AllergyIntolerance":
            continue
        for reaction in resource.get("reaction") or []:
            if isinstance(reaction, dict) and isinstance(reaction.get("manifestation"), list):
                reaction["manifestation"] = [
                    m["concept"]
                    if isinstance(m, dict) and isinstance(m.get("concept"), dict)
                    else m
                    for m in reaction["manifestation"]
                ]
    return document


def _allergy_resource(index: int, entry) -> tuple[str, AllergyIntolerance]:
    where = f"entry.{index}.resource"
    resource = entry.resource
    if resource is None or resource.get_resource_type() != "AllergyIntolerance":
        raise Invalid({where: ["Only AllergyIntolerance resources can be imported."]})
    return where, resource


def _check_one_patient(patient: Patient, resources: list) -> None:
    first = None
    for where, resource in resources:
        named = _patient_named(resource)
        if first is None:
            first = (where, named)
        elif named != first[1]:
            raise Invalid(
                {
                    f"{where}.patient": [
                        f"Names another patient than {first[0]}: a bundle is "
                        "one patient's allergy list."
                    ]
                }
            )
        mrn = _mrn(resource)
        if mrn is not None and mrn != patient.mrn:
            raise Invalid(
                {f"{where}.patient": [f"Is MRN {mrn}, not this patient ({patient.mrn})."]}
            )


def _patient_named(resource) -> tuple:
    reference = resource.patient
    if reference is None:
        return (None, None)
    identifier = reference.identifier
    return (
        reference.reference,
        (identifier.system, identifier.value) if identifier is not None else None,
    )


def _mrn(resource) -> str | None:
    identifier = resource.patient.identifier if resource.patient else None
    if identifier is None or not identifier.value:
        return None
    if identifier.system in (MRN_SYSTEM, None):
        return identifier.value
    return None


def _read(where: str, resource) -> _Entry:
    codings = [(c.system, c.code) for c in (resource.code.coding if resource.code else None) or []]
    verification = _coded(
        VerificationStatus,
        resource.verificationStatus,
        VERIFICATION_SYSTEM,
        f"{where}.verificationStatus",
    )
    absences = [
        NO_KNOWN_ALLERGY_CODES[c]
        for s, c in codings
        if s == SNOMED_CT and c in NO_KNOWN_ALLERGY_CODES
    ]
    if absences:
        standing = verification not in (
            VerificationStatus.ENTERED_IN_ERROR,
            VerificationStatus.REFUTED,
        )
        return _Entry(
            where, fields={}, absence=True, states_no_known_allergy=standing and any(absences)
        )
    reaction, severity = _reaction(resource, where)
    fields = {
        "criticality": _coded_value(Criticality, resource.criticality, f"{where}.criticality"),
        "clinical_status": _coded(
            ClinicalStatus, resource.clinicalStatus, CLINICAL_SYSTEM, f"{where}.clinicalStatus"
        ),
        "verification_status": verification,
        "reaction": reaction,
        "severity": severity,
        "note": "\n".join(n.text for n in resource.note or [] if n.text) or None,
    }
    entry = _Entry(where, fields={k: v for k, v in fields.items() if v is not None})
    _read_identifiers(entry, resource)
    _read_allergen(entry, resource)
    return entry


def _read_identifiers(entry: _Entry, resource) -> None:
    for identifier in resource.identifier or []:
        if identifier.system == ALLERGY_SYSTEM and (identifier.value or "").isdigit():
            entry.our_id = int(identifier.value)
        elif identifier.value and entry.source_identifier is None:
            entry.source_identifier = f"{identifier.system or ''}|{identifier.value}"[:300]


def _read_allergen(entry: _Entry, resource) -> None:
    """By code first (the allergy's code, then each reaction's substance), then by the text
    and each display as a name or synonym; otherwise it stays as received."""
    code = resource.code
    code_codings = list(code.coding or []) if code else []
    reaction_codings = [
        c for r in resource.reaction or [] if r.substance for c in r.substance.coding or []
    ]
    if not code_codings and not (code and code.text):
        raise Invalid({f"{entry.where}.code": ["The allergy names no allergen."]})
    entry.substance = _ours(code_codings) or find_substance_by_codes(
        (c.system, c.code) for c in [*code_codings, *reaction_codings]
    )
    names = [code.text if code else None] + [c.display for c in code_codings]
    if entry.substance is None:
        entry.substance = next(
            (s for s in (find_substance_by_name(n) for n in names if n and n.strip()) if s), None
        )
    entry.text = next((n.strip() for n in names if n and n.strip()), None)
    if entry.text is None:
        entry.text = ", ".join(f"{c.system or ''} {c.code}".strip() for c in code_codings)
    entry.text = entry.text[:_TEXT_LENGTH]
    entry.codes = [
        {k: v for k, v in {"system": c.system, "code": c.code, "display": c.display}.items() if v}
        for c in code_codings
        if c.code and c.system != SUBSTANCE_SYSTEM
    ]


def _ours(codings) -> Substance | None:
    for coding in codings:
        if coding.system == SUBSTANCE_SYSTEM and (coding.code or "").isdigit():
            return db.session.get(Substance, int(coding.code))
    return None


def _refuse_contradiction(patient: Patient, statements: list, allergies: list) -> None:
    if not statements:
        return
    standing = [
        e.text
        for e in allergies
        if e.fields.get("clinical_status", ClinicalStatus.ACTIVE) == ClinicalStatus.ACTIVE
        and e.fields.get("verification_status")
        not in (VerificationStatus.REFUTED, VerificationStatus.ENTERED_IN_ERROR)
    ]
    if standing:
        raise Conflict(
            f"'No known allergy' ({statements[0].where}) contradicts the allergy to "
            f"{standing[0]} in the same bundle.",
            {f"{statements[0].where}.code": ["Contradicts an allergy in the same bundle."]},
        )


def _write(patient: Patient, entry: _Entry) -> Allergy:
    allergy = _existing(patient, entry)
    if allergy is None:
        return allergy_rules.record_allergy(
            patient,
            entry.substance,
            fields={
                "criticality": Criticality.UNABLE_TO_ASSESS,
                "clinical_status": ClinicalStatus.ACTIVE,
                "verification_status": VerificationStatus.CONFIRMED,
                **entry.fields,
                "text": entry.text,
                "codes": entry.codes,
                "source_identifier": entry.source_identifier,
            },
        )
    if entry.substance is not None and allergy.substance_id is None:
        allergy_rules.link_allergy(allergy, entry.substance)
    changes = {k: v for k, v in entry.fields.items() if getattr(allergy, k) != v}
    return allergy_rules.update_allergy(allergy, changes) if changes else allergy


def _existing(patient: Patient, entry: _Entry) -> Allergy | None:
    """Our identifier, then the sender's, then the same substance, then the same text."""
    by_id = {a.id: a for a in patient.allergies}
    if entry.our_id is not None and entry.our_id in by_id:
        return by_id[entry.our_id]
    for allergy in patient.allergies:
        if entry.source_identifier and allergy.source_identifier == entry.source_identifier:
            return allergy
    for allergy in patient.allergies:
        if entry.substance is not None and allergy.substance_id == entry.substance.id:
            return allergy
    for allergy in patient.allergies:
        if (
            allergy.substance_id is None
            and (allergy.text or "").casefold() == (entry.text or "").casefold()
        ):
            return allergy
    return None


def _reaction(resource, where: str) -> tuple:
    """Every manifestation of every reaction, in words, and the most severe severity."""
    texts, severities = [], []
    for index, reaction in enumerate(resource.reaction or []):
        for manifestation in reaction.manifestation or []:
            text = manifestation.text or next(
                (c.display for c in manifestation.coding or [] if c.display), None
            )
            if text and text != UNSPECIFIED_REACTION and text not in texts:
                texts.append(text)
        severity = _coded_value(Severity, reaction.severity, f"{where}.reaction.{index}.severity")
        if severity is not None:
            severities.append(severity)
    text = ", ".join(texts)[: allergy_rules.REACTION_LENGTH] or None
    return text, max(severities, key=_SEVERITY_ORDER.index, default=None)


def _coded(enum_class, concept, system: str, where: str):
    if concept is None:
        return None
    for coding in concept.coding or []:
        if coding.system in (system, None):
            return _coded_value(enum_class, coding.code, where)
    return None


def _coded_value(enum_class, value, field: str):
    if value is None:
        return None
    try:
        return enum_class(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_class)
        raise Invalid({field: [f"{value!r} is not one of {allowed}."]}) from None
