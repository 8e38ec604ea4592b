"""Factory functions for test data: each makes one valid object, with any field overridable.

Factories commit: in the test session a commit only releases a savepoint (the whole test is
still rolled back at its end), and a request that rolls back then cannot undo the setup.
"""

import itertools
from datetime import timedelta

from core.accounts import Role, User, issue_token
from core.database import db

_sequence = itertools.count(1)

DEFAULT_PASSWORD = "correct horse battery"


def save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence)}"


def make_user(role: str | Role = Role.ADMIN, password: str = DEFAULT_PASSWORD, **fields) -> User:
    fields.setdefault("username", unique(f"{Role(role).value}-"))
    fields.setdefault("email", f"{fields['username']}@clinic.example")
    user = User(role=Role(role), **fields)
    user.set_password(password)
    return save(user)


def auth_header(user: User, lifetime: timedelta = timedelta(hours=1)) -> dict:
    token, _ = issue_token(user, lifetime)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def make_patient(**fields):
    from clinic.models import AlopeciaScale, Patient, Sex

    fields.setdefault("mrn", unique("MRN-"))
    fields.setdefault("name", f"Patient {fields['mrn']}")
    fields.setdefault("sex", Sex.MALE)
    fields.setdefault("alopecia_scale", AlopeciaScale.NORWOOD)
    fields.setdefault("alopecia_stage", 3)
    return save(Patient(**fields))
