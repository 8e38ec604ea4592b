"""Factory functions for test data: each makes one valid object, with any field overridable.

Factories commit: in the test session a commit only releases a savepoint (the whole test is
still rolled back at its end), and a request that rolls back then cannot undo the setup.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.accounts import Role, User, issue_token
from core.database import db
from core.sites import Site, create_site
from inventory.lots import Expiry, receive
from inventory.products import create_product

_sequence = itertools.count(1)

DEFAULT_PASSWORD = "correct horse battery"


def save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence)}"


def make_user(role: str | Role = Role.ADMIN, password: str = DEFAULT_PASSWORD, **fields) -> User:
    """A user; a pharmacist or a doctor works at the clinic's first site unless `sites` says
    otherwise, an administrator at every site."""
    fields.setdefault("username", unique(f"{Role(role).value}-"))
    fields.setdefault("email", f"{fields['username']}@clinic.example")
    if "sites" not in fields:
        first = clinic_site()
        fields["sites"] = [] if Role(role) == Role.ADMIN or first is None else [first]
    user = User(role=Role(role), **fields)
    user.set_password(password)
    return save(user)


def clinic_site() -> Site | None:
    """The site every test database starts with (tests/conftest.py; the migrations make it)."""
    return db.session.scalar(select(Site).order_by(Site.id).limit(1))


def make_site(**fields) -> Site:
    fields.setdefault("code", unique("SITE-"))
    fields.setdefault("name", f"Clinic {fields['code']}")
    fields.setdefault("timezone", "Europe/Paris")
    site = create_site(**fields)
    db.session.commit()
    return site


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


def make_substance(name: str | None = None, category: str = "vitamin", **fields):
    """A substance through the catalogue's own rules (so its lineage rows exist)."""
    from formulary.substances import create_substance

    substance = create_substance(name=name or unique("substance "), category=category, **fields)
    db.session.commit()
    return substance


def make_class(name: str | None = None, category: str = "other", **fields):
    return make_substance(name=name or unique("class "), category=category, is_class=True, **fields)


def make_serum(author: User | None = None, components=(), **fields):
    """A draft serum; `components` are (substance, value, unit) triples."""
    from formulary.serums import create_serum

    fields.setdefault("code", unique("SER-"))
    fields.setdefault("name", f"Serum {fields['code']}")
    fields.setdefault("source", "compounded")
    fields.setdefault("dose_volume_ml", 2)
    serum = create_serum(
        author=author or make_user(role=Role.PHARMACIST),
        components=[
            {"substance_id": substance.id, "amount_per_dose": {"value": value, "unit": unit}}
            for substance, value, unit in components
        ],
        **fields,
    )
    db.session.commit()
    return serum


def make_approved_serum(components=(), approver: User | None = None, **fields):
    from formulary.serums import approve

    if not components:
        components = [(make_substance(), 1, "mg")]
    serum = make_serum(components=components, **fields)
    approve(serum, approver or make_user(role=Role.ADMIN))
    db.session.commit()
    return serum


def make_cross_reactivity_group(name: str | None = None, members=(), note: str | None = None):
    from formulary.cross_reactivity import create_group

    if not members:
        members = [make_substance(), make_substance()]
    group = create_group(name=name or unique("group "), members=[m.id for m in members], note=note)
    db.session.commit()
    return group


# --- inventory -------------------------------------------------------------------------------

# Stock factories act at a fixed moment: tests about time pass their own `now`.
STOCK_NOW = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def make_product(kind: str = "serum", **fields):
    if kind == "component" and "substance_id" not in fields:
        fields["substance_id"] = make_substance(unique("stock-substance-")).id
    if kind == "serum" and "serum_id" not in fields:
        fields["serum_id"] = make_serum(
            name="Revitalising serum", source="manufactured", manufacturer="Serum Labs"
        ).id
    fields.setdefault("name", unique(f"{kind} product "))
    fields.setdefault("unit", "vial")
    product = create_product(kind=kind, **fields)
    db.session.commit()
    return product


def make_lot(
    product=None,
    quantity="10",
    expiry_date: date = date(2030, 12, 31),
    now: datetime = STOCK_NOW,
    **fields,
):
    """A lot received through the domain (so with its `receive` movement) at `now`."""
    product = product or make_product()
    fields.setdefault("lot_number", unique("LOT-"))
    lot = receive(
        product_id=product.id,
        lot_number=fields.pop("lot_number"),
        expiry=Expiry(expiry_date),
        quantity=Decimal(quantity),
        user_id=None,
        now=now,
        **fields,
    ).lot
    db.session.commit()
    return lot


def insert_lots(lots: list[dict]) -> None:
    """Lots inserted in bulk by one statement, without the ledger's movements: for pages over
    thousands of lots. Each names its `product_id` and `effective_expiry` at least."""
    from sqlalchemy import insert

    from inventory.models import Lot

    rows = [
        {
            "lot_number": unique("BULK-"),
            "expiry_date": lot["effective_expiry"],
            "quantity_on_hand": Decimal(10),
            "received_at": STOCK_NOW,
            "site_id": clinic_site().id,
            **lot,
        }
        for lot in lots
    ]
    db.session.execute(insert(Lot), rows)
    db.session.commit()


def check_batch(batch, checker=None, now: datetime | None = None):
    """A compounded batch verified by a second pharmacist (a new one unless given), so that
    its lot leaves quarantine and can be used."""
    from inventory.compounding import verify_batch

    checker = checker or make_user(role=Role.PHARMACIST)
    verify_batch(batch.id, pharmacist=checker, now=now or batch.prepared_at)
    db.session.commit()
    return batch


# --- clinic workflow ---------------------------------------------------------------------------


def make_safe_patient(**fields):
    """A patient the screen clears: allergy history taken (none known), stage within
    indication."""
    from clinic.models import AllergyStatus

    fields.setdefault("allergy_status", AllergyStatus.NO_KNOWN_ALLERGIES)
    return make_patient(**fields)


def make_allergy(patient, substance, **fields):
    from clinic.models import Allergy, AllergyStatus

    allergy = Allergy(patient_id=patient.id, substance_id=substance.id, **fields)
    patient.allergy_status = AllergyStatus.RECORDED
    return save(allergy)


def make_serum_product(serum, unit: str = "dose", **fields):
    return make_product(kind="serum", serum_id=serum.id, unit=unit, **fields)


def make_course(
    patient=None,
    serum=None,
    start_date: date = date(2025, 3, 3),
    induction_sessions: int = 4,
    maintenance_months: int = 0,
    doctor=None,
    **fields,
):
    """A planned course through the clinic's rules (screen included)."""
    from clinic.courses import plan_course

    patient = patient or make_safe_patient()
    serum = serum or make_approved_serum()
    course = plan_course(
        patient,
        serum.id,
        start_date=start_date,
        induction_sessions=induction_sessions,
        maintenance_months=maintenance_months,
        doctor=doctor or make_user(role=Role.DOCTOR),
        **fields,
    )
    db.session.commit()
    return course


# --- alerts ----------------------------------------------------------------------------------


def make_alert(kind: str = "expiring", lot=None, **fields):
    """An alert as a scan would store it, on a lot (made when not given) of a product."""
    from inventory.alerts import Alert, AlertKind

    lot = lot or make_lot()
    kind = AlertKind(kind)
    fields.setdefault("threshold_days", 30 if kind == AlertKind.EXPIRING else None)
    fields.setdefault("as_of", date(2030, 12, 1))
    fields.setdefault("site_id", lot.site_id)
    return save(
        Alert(
            kind=kind,
            product_id=lot.product_id,
            lot_id=lot.id,
            lot_number=lot.lot_number,
            effective_expiry=lot.effective_expiry,
            quantity=lot.quantity_on_hand,
            **fields,
        )
    )


def make_low_stock_alert(product=None, quantity="2", **fields):
    """A low-stock alert as a scan would store it: on a product, with no lot, at a site (the
    clinic's first unless given)."""
    from inventory.alerts import Alert, AlertKind

    product = product or make_product(kind="consumable", reorder_point=Decimal(10))
    fields.setdefault("as_of", date(2030, 12, 1))
    fields.setdefault("site_id", clinic_site().id)
    return save(
        Alert(
            kind=AlertKind.LOW_STOCK,
            product_id=product.id,
            quantity=Decimal(quantity),
            **fields,
        )
    )
