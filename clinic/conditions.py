"""The condition rule table the screen applies (SPEC 3.3): data an administrator can extend."""

import re

from sqlalchemy import select

from clinic.models import ConditionRule
from core.database import db
from core.errors import Conflict, Invalid
from formulary.screen import Verdict

# As doctors record a condition on a patient and as a rule names it: "isotretinoin_use".
CONDITION_CODE = re.compile(r"[a-z][a-z0-9_]{0,59}")
CONDITION_CODE_HINT = "Lower-case letters, digits and _, starting with a letter (isotretinoin_use)."


def check_condition_code(code: str, *, field: str = "code") -> str:
    if not CONDITION_CODE.fullmatch(code or ""):
        raise Invalid({field: [f"Not a condition code. {CONDITION_CODE_HINT}"]})
    return code


STARTER_RULES = [
    {
        "code": "scalp_infection",
        "label": "Infectious lesions of the scalp",
        "verdict": Verdict.CONTRAINDICATED,
        "message": "Active scalp infection: injecting through infected skin can spread the "
        "infection. Treat it before any session.",
    },
    {
        "code": "shingles",
        "label": "Shingles (herpes zoster)",
        "verdict": Verdict.CONTRAINDICATED,
        "message": "Active shingles: no injections until the lesions have healed.",
    },
    {
        "code": "blood_thinner_use",
        "label": "Aspirin or another blood-thinning medication",
        "verdict": Verdict.CAUTION,
        "message": "Blood thinners raise the risk of hematoma: limit aspirin and other blood "
        "thinners before treatment, with the prescriber's agreement.",
    },
]


def create_condition_rule(fields: dict) -> ConditionRule:
    check_condition_code(fields["code"])
    if db.session.scalar(select(ConditionRule.id).where(ConditionRule.code == fields["code"])):
        raise Conflict(f"A rule for {fields['code']!r} already exists.", {"code": ["Taken."]})
    rule = ConditionRule(**fields)
    db.session.add(rule)
    db.session.flush()
    return rule


def seed_condition_rules() -> int:
    """Add the starter rules that are missing; never overwrite an administrator's edits.
    Answers how many were added."""
    existing = set(db.session.scalars(select(ConditionRule.code)))
    missing = [rule for rule in STARTER_RULES if rule["code"] not in existing]
    db.session.add_all(ConditionRule(**rule) for rule in missing)
    db.session.flush()
    return len(missing)
