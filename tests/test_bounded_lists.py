"""Every list of the JSON API and of the web pages sends as many SQL statements for many rows
as for few, and shows at most a page of them in a body bounded by that page.

Each list is measured over SMALL records of the kind it lists, then over LARGE (more than a
page), inserted in bulk (the factories would take seconds). Their owners (products, users,
serums) change every ten rows, so that a query per row's owner shows too. The API's lists are
read from its OpenAPI document and the pages from the app's URL map: a list without a case
here fails `test_every_list_of_the_api_has_a_case` or `test_every_page_is_a_list_or_says_why_not`.
"""

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from clinic.models import (
    Allergy,
    AllergyStatus,
    Assessment,
    AssessmentKind,
    AssessmentPhoto,
    ConditionRule,
    Course,
    Patient,
    PatientCondition,
    PhotoView,
    SessionStatus,
    SideEffect,
    TreatmentSession,
)
from core.accounts import Role, User
from core.audit import AuditEntry
from core.database import PAGE_SIZE, db
from core.sites import Site, user_sites
from formulary.models import (
    CrossReactivityGroup,
    Serum,
    SerumComponent,
    SerumStatus,
    Substance,
    SubstanceLineage,
    SubstanceRelation,
    SubstanceSynonym,
    cross_reactivity_members,
    serum_editors,
)
from formulary.screen import Verdict
from inventory.alerts import Alert, AlertKind, AlertStatus, ScanOutcome, ScanRun
from inventory.counts import COUNT_LINES_MAX, CountStatus, StockCount
from inventory.models import (
    Batch,
    Lot,
    LotStatus,
    Movement,
    MovementKind,
    Product,
    SiteReorderPoint,
    Storage,
    Transfer,
    TransferLine,
    TransferStatus,
)
from inventory.purchase_orders import OrderStatus, PurchaseOrder, PurchaseOrderLine
from inventory.stock import BOARD_LOTS
from inventory.suppliers import Supplier, SupplierProduct
from tests import factories
from web.admin import RECENT_SCANS, RECENT_WRITES

SMALL = 3
LARGE = PAGE_SIZE + 10  # beyond a page: the page size, not the table, caps what is shown
MOST_BYTES = 300_000  # the stock board's goal, for every page at any size
SLACK = 1.25  # longer numbers and names at the larger size
AS_OF = date(2030, 1, 7)
PAST = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)  # bulk rows are older than the test's own writes
RECENT_BATCHES = 20  # the batches page's newest batches


@dataclasses.dataclass(frozen=True)
class Case:
    """How to fill one list: `start()` makes what the list belongs to (a patient, a lot) and
    answers the names its URL takes; `fill(place, n)` adds n records of the kind listed.
    `shown` counts the records on a page (an API list's are its JSON array) and `cap` is the
    most it may show."""

    role: Role
    fill: Callable[[dict, int], None]
    start: Callable[[], dict] = dict
    query: dict = dataclasses.field(default_factory=dict)
    shown: Callable[[str], int] | None = None
    cap: int = PAGE_SIZE


def bulk(model, rows: list[dict], **same) -> list[int]:
    """Rows of a model (each with the fields `same` gives all of them) inserted by one
    statement, without a flush, so without audit entries: their ids in the rows' order."""
    if not rows:
        return []  # an empty list would insert one row of defaults
    ids = db.session.scalars(
        insert(model).returning(model.id, sort_by_parameter_order=True),
        [{**same, **row} for row in rows],
    ).all()
    db.session.commit()
    return list(ids)


def bulk_links(table, rows: list[dict]) -> None:
    if rows:
        db.session.execute(insert(table), rows)
    db.session.commit()


def tens(make: Callable[[int], list[int]], count: int) -> list[int]:
    """An owner (a product, a user, a serum) for each of `count` rows, a new one every ten."""
    owners = make(-(-count // 10))
    return [owners[n // 10] for n in range(count)]


def rows(pattern: str) -> Callable[[str], int]:
    return lambda page: len(re.findall(pattern, page))


def links_to(prefix: str) -> Callable[[str], int]:
    """Table rows that open with a link to a record under `prefix`."""
    return rows(rf'<tr><td><a href="{prefix}/\d+')


def section(page: str, title_id: str) -> str:
    start = page.index(f'id="{title_id}"')
    return page[start : page.index("</section>", start)]


# --- owners, in bulk -----------------------------------------------------------------------------


def new_users(count: int, role: Role = Role.PHARMACIST) -> list[int]:
    return bulk(
        User,
        [{"username": factories.unique("listed-user-"), "active": n % 5 != 0,
          "alert_emails": n % 2 == 0} for n in range(count)],
        role=role, email="listed@clinic.example", password_hash="not a hash",
    )  # fmt: skip


def new_substances(count: int, *, parents: list[int] = (), is_class: bool = False) -> list[int]:
    """Substances as the catalogue keeps them: a synonym each, their lineage, and the class
    above each when `parents` names one per substance."""
    names = [factories.unique("listed substance ") for _ in range(count)]
    ids = bulk(
        Substance,
        [{"name": name, "name_key": name.lower()} for name in names],
        is_class=is_class, category="other" if is_class else "vitamin",
        max_concentration_value=Decimal(5), max_concentration_unit="mg/mL",
    )  # fmt: skip
    bulk(
        SubstanceSynonym,
        [{"substance_id": i, "name": f"{name} syn", "name_key": f"{name} syn"}
         for i, name in zip(ids, names, strict=True)],
    )  # fmt: skip
    pairs = list(zip(ids, parents, strict=True)) if parents else []
    bulk_links(
        SubstanceRelation.__table__,
        [{"substance_id": i, "related_id": parent, "kind": "is_a"} for i, parent in pairs],
    )
    bulk_links(
        SubstanceLineage.__table__,
        [{"substance_id": i, "ancestor_id": i, "depth": 0, "next_id": None, "relation": None}
         for i in ids]
        + [{"substance_id": i, "ancestor_id": parent, "depth": 1, "next_id": parent,
            "relation": "is_a"} for i, parent in pairs],
    )  # fmt: skip
    return ids


def new_classes(count: int) -> list[int]:
    return new_substances(count, is_class=True)


def new_serums(count: int, place: dict) -> list[int]:
    """Approved serums of three components (the place's two substances and one of their own),
    written, changed and approved by users who change every ten serums."""
    authors, approvers = tens(new_users, count), tens(new_users, count)
    ids = bulk(
        Serum,
        [{"code": factories.unique("LIST-"), "name": factories.unique("Serum "),
          "author_id": author, "approved_by_id": approver}
         for author, approver in zip(authors, approvers, strict=True)],
        version=1, status=SerumStatus.APPROVED, source="compounded", dose_volume_ml=Decimal(2),
        approved_at=PAST,
    )  # fmt: skip
    formulas = [[*place["substances"], own] for own in new_substances(count)]
    add_components(ids, formulas)
    bulk_links(
        serum_editors,
        [{"serum_id": i, "user_id": editor} for i, editor in zip(ids, approvers, strict=True)],
    )
    return ids


def add_components(serums: list[int], formulas: list[list[int]], *, first_amount: int = 1) -> None:
    bulk(
        SerumComponent,
        [{"serum_id": serum, "substance_id": substance, "position": position,
          "amount_value": Decimal(first_amount + position)}
         for serum, formula in zip(serums, formulas, strict=True)
         for position, substance in enumerate(formula)],
        amount_unit="mg",
    )  # fmt: skip


def new_products(count: int) -> list[int]:
    return bulk(
        Product,
        [{"name": factories.unique("listed product ")} for _ in range(count)],
        kind="consumable", unit="vial", reorder_point=Decimal(20), storage=Storage.ROOM,
    )  # fmt: skip


def new_lots(products: list[int], **fields) -> list[int]:
    fields = {"expiry_date": AS_OF, "effective_expiry": AS_OF, **fields}
    return bulk(
        Lot,
        [{"product_id": product, "lot_number": factories.unique("LISTED-")}
         for product in products],
        quantity_on_hand=Decimal(10), received_at=PAST, site_id=factories.clinic_site().id,
        **fields,
    )  # fmt: skip


def new_patients(count: int) -> list[int]:
    return bulk(
        Patient,
        [{"mrn": factories.unique("LIST-MRN-"), "name": factories.unique("Listed patient "),
          "birth_date": date(1980, 1, 1) + timedelta(days=n)} for n in range(count)],
        sex="female", alopecia_scale="ludwig", alopecia_stage=2,
        allergy_status=AllergyStatus.NO_KNOWN_ALLERGIES,
    )  # fmt: skip


# --- what a list belongs to ----------------------------------------------------------------------


def formulary_place() -> dict:
    """Two catalogue substances, in every serum of the place."""
    return {"substances": [factories.make_substance().id, factories.make_substance().id]}


def a_patient() -> dict:
    """A patient allergic to a substance of every serum of the place."""
    place = formulary_place()
    patient = factories.make_patient(allergy_status=AllergyStatus.RECORDED)
    allergen = db.session.get(Substance, place["substances"][0])
    factories.make_allergy(patient, allergen, criticality="high")
    return {**place, "patient_id": patient.id}


def a_lot() -> dict:
    return {"lot_id": factories.make_lot(factories.make_product(kind="consumable")).id}


def a_product() -> dict:
    return {"product_id": factories.make_product(kind="consumable").id}


def a_clinic() -> dict:
    """A doctor, a patient to plan for and a serum lot for the sessions they completed."""
    place = formulary_place()
    [serum] = new_serums(1, place)
    product = factories.make_serum_product(db.session.get(Serum, serum))
    lot = factories.make_lot(product, quantity="1000")
    patient = factories.make_safe_patient()
    doctor = factories.make_user(role=Role.DOCTOR)
    return {**place, "lot": lot.id, "patient_id": patient.id, "doctor": doctor.id}


# --- what the lists list -------------------------------------------------------------------------


def add_users(place: dict, count: int) -> None:
    roles = [list(Role)[n % len(Role)] for n in range(count)]
    for role in Role:
        new_users(roles.count(role), role)


def add_sites(place: dict, count: int) -> None:
    """Sites of a chain, each with a pharmacist working there."""
    site_ids = bulk(
        Site,
        [{"code": factories.unique("S-").upper(), "name": factories.unique("Listed site ")}
         for _ in range(count)],
        timezone="Europe/Paris", address="1 Listed Street", phone="+33 1 00 00 00 00",
    )  # fmt: skip
    users = new_users(count)
    bulk_links(
        user_sites, [{"user_id": u, "site_id": s} for u, s in zip(users, site_ids, strict=True)]
    )


def add_sites_with_reorder_points(place: dict, count: int) -> None:
    """Sites of a chain (as `add_sites`), every other one with a reorder point of its own for
    the place's product."""
    before = set(db.session.scalars(select(Site.id)))
    add_sites(place, count)
    new = sorted(set(db.session.scalars(select(Site.id))) - before)
    bulk_links(
        SiteReorderPoint.__table__,
        [{"product_id": place["product_id"], "site_id": site_id, "reorder_point": Decimal(n)}
         for n, site_id in enumerate(new) if n % 2 == 0],
    )  # fmt: skip


def add_audit_writes(place: dict, count: int) -> None:
    """Writes older than the test's own (the newest page holds the same kinds of record at
    both sizes), each a change of a product by a user."""
    first = PAST + timedelta(minutes=place.get("written", 0))
    place["written"] = place.get("written", 0) + count
    products, users = tens(new_products, count), tens(new_users, count)
    bulk(
        AuditEntry,
        [{"at": first + timedelta(minutes=n), "user_id": user, "username": f"writer-{user}",
          "entity_id": str(product), "changes": {"reorder_point": {"old": "1", "new": "2"}}}
         for n, (product, user) in enumerate(zip(products, users, strict=True))],
        action="update", entity="products",
    )  # fmt: skip


def add_scan_runs_and_writes(place: dict, count: int) -> None:
    add_audit_writes(place, count)
    bulk(
        ScanRun,
        [{"as_of": AS_OF - timedelta(days=n), "started_at": PAST + timedelta(hours=n),
          "finished_at": PAST + timedelta(hours=n, minutes=1)} for n in range(count)],
        outcome=ScanOutcome.SUCCEEDED, counts={"expiring": 2},
    )  # fmt: skip


def add_substances(place: dict, count: int) -> None:
    new_substances(count, parents=tens(new_classes, count))


def add_groups(place: dict, count: int) -> None:
    members = new_substances(2 * count)
    groups = bulk(
        CrossReactivityGroup, [{"name": factories.unique("listed group ")} for _ in range(count)]
    )
    bulk_links(
        cross_reactivity_members,
        [{"group_id": group, "substance_id": member}
         for n, group in enumerate(groups) for member in members[2 * n : 2 * n + 2]],
    )  # fmt: skip


def add_serums(place: dict, count: int) -> None:
    new_serums(count, place)


def add_drafts(place: dict, count: int) -> None:
    """Second versions waiting for approval, each after an approved first with other
    amounts."""
    firsts = db.session.scalars(
        select(Serum).where(Serum.id.in_(new_serums(count, place))).order_by(Serum.id)
    ).all()
    drafts = bulk(
        Serum,
        [{"code": first.code, "name": first.name, "author_id": first.author_id}
         for first in firsts],
        version=2, status=SerumStatus.DRAFT, source="compounded", dose_volume_ml=Decimal(3),
    )  # fmt: skip
    add_components(
        drafts, [[c.substance_id for c in first.components] for first in firsts], first_amount=7
    )


def add_patients(place: dict, count: int) -> None:
    bulk(
        PatientCondition,
        [{"patient_id": patient} for patient in new_patients(count)],
        code="anticoagulant_use", active=True,
    )  # fmt: skip


def add_allergies(place: dict, count: int) -> None:
    """Allergies of the place's patient, each to a substance of its own; one in three outside
    the catalogue, reviewed by a user (who changes every ten allergies)."""
    substances, reviewers = new_substances(count), tens(new_users, count)
    bulk(
        Allergy,
        [{"substance_id": substance, "text": None} if n % 3
         else {"substance_id": None, "text": f"allergen {substance}", "reviewed_by_id": reviewer,
               "reviewed_not_relevant_at": PAST}
         for n, (substance, reviewer) in enumerate(zip(substances, reviewers, strict=True))],
        patient_id=place["patient_id"], criticality="low", reaction="hives", severity="mild",
    )  # fmt: skip


def add_condition_rules(place: dict, count: int) -> None:
    bulk(
        ConditionRule,
        [{"code": factories.unique("listed_rule_")} for _ in range(count)],
        label="A condition", verdict=Verdict.CAUTION, message="Take care.",
    )  # fmt: skip


def add_products(place: dict, count: int) -> None:
    """Products of each kind (a component of its own substance; a serum product of a serum
    that changes every ten products), each with a lot."""
    substances = new_substances(count)
    serums = tens(lambda k: new_serums(k, place), count)
    kinds = [
        {"kind": "consumable"},
        {"kind": "component", "strength_value": Decimal(250), "strength_unit": "mg/mL"},
        {"kind": "serum"},
    ]
    products = [{"name": factories.unique("listed product "), **kinds[n % 3]} for n in range(count)]
    for n, product in enumerate(products):
        if product["kind"] == "component":
            product["substance_id"] = substances[n]
        elif product["kind"] == "serum":
            product["serum_id"] = serums[n]
    ids = bulk(Product, products, unit="vial", reorder_point=Decimal(20), storage=Storage.ROOM)
    new_lots(ids, expiry_date=AS_OF + timedelta(30), effective_expiry=AS_OF + timedelta(30))


def add_lots(place: dict, count: int) -> None:
    factories.insert_lots(
        [{"product_id": product, "effective_expiry": AS_OF + timedelta(days=n % 80)}
         for n, product in enumerate(tens(new_products, count))]
    )  # fmt: skip


def add_transfers(place: dict, count: int) -> None:
    """Drafts of transfers to a second site, two lots on each."""
    here = factories.clinic_site()
    lots = [
        factories.make_lot(factories.make_product(kind="consumable"), site_id=here.id).id
        for _ in range(2)
    ]
    elsewhere = factories.make_site()
    transfers = bulk(
        Transfer,
        [{"created_at": PAST + timedelta(minutes=n)} for n in range(count)],
        from_site_id=here.id, to_site_id=elsewhere.id,
        status=TransferStatus.DRAFT,
    )  # fmt: skip
    bulk(
        TransferLine,
        [{"transfer_id": transfer, "lot_id": lot} for transfer in transfers for lot in lots],
        quantity=Decimal(1),
    )


def add_movements(place: dict, count: int) -> None:
    bulk(
        Movement,
        [{"user_id": user, "created_at": PAST + timedelta(minutes=n)}
         for n, user in enumerate(tens(new_users, count))],
        lot_id=place["lot_id"], kind=MovementKind.ADJUST, quantity=Decimal(1), reason="counted",
    )  # fmt: skip


def add_courses(place: dict, count: int, *, patients: list[int] | None = None,
                serums: list[int] | None = None, start: date = date(2029, 1, 1),
                days_apart: int = 1) -> None:  # fmt: skip
    """Courses (of the place's patient, of a serum that changes every ten courses unless
    given), four weekly sessions each; a session before AS_OF is completed, with the place's
    lot and a side effect."""
    patients = patients or [place["patient_id"]] * count
    serums = serums or tens(lambda k: new_serums(k, place), count)
    starts = [start + timedelta(days=n * days_apart) for n in range(count)]
    courses = bulk(
        Course,
        [{"patient_id": patient, "serum_id": serum, "start_date": day,
          "review_date": day + timedelta(weeks=11)}
         for patient, serum, day in zip(patients, serums, starts, strict=True)],
        induction_sessions=4, created_by_id=place["doctor"], site_id=factories.clinic_site().id,
    )  # fmt: skip
    completed = {"status": SessionStatus.COMPLETED, "lot_id": place["lot"],
                 "completed_by_id": place["doctor"], "completed_at": PAST, "needle_mm": 4,
                 "technique": "manual", "injection_points": 20,
                 "screen_verdict": Verdict.SAFE}  # fmt: skip
    sessions = [
        {"course_id": course, "patient_id": patient, "scheduled_date": day,
         "site_id": factories.clinic_site().id}
        | (completed | {"performed_on": day} if day < AS_OF else {})
        for course, patient, first in zip(courses, patients, starts, strict=True)
        for day in (first + timedelta(weeks=week) for week in range(4))
    ]  # fmt: skip
    ids = bulk(TreatmentSession, sessions)
    bulk(
        SideEffect,
        [{"session_id": i} for i, row in zip(ids, sessions, strict=True) if "lot_id" in row],
        kind="redness", severity="mild", recorded_by_id=place["doctor"],
    )  # fmt: skip


def a_course() -> dict:
    """A course of the clinic's patient, planned by its doctor."""
    place = a_clinic()
    add_courses(place, 1)
    course = db.session.scalar(select(Course).where(Course.patient_id == place["patient_id"]))
    return {**place, "course_id": course.id}


def add_assessments(place: dict, count: int) -> None:
    """Follow-ups of the place's course, recorded by users who change every ten, each with a
    photo of two views."""
    first = AS_OF + timedelta(days=place.get("assessed", 0))
    place["assessed"] = place.get("assessed", 0) + count
    ids = bulk(
        Assessment,
        [{"date": first + timedelta(days=n), "recorded_by_id": user, "global_assessment": n % 4}
         for n, user in enumerate(tens(new_users, count))],
        course_id=place["course_id"], kind=AssessmentKind.FOLLOW_UP, hair_loss_score=5,
        scalp_health_score=6, itching_score=7, hair_quality_score=8, pull_test_count=4,
        recorded_at=PAST,
    )  # fmt: skip
    bulk(
        AssessmentPhoto,
        [{"assessment_id": i, "view": view, "content_hash": f"{i:064x}"}
         for i in ids for view in (PhotoView.VERTEX, PhotoView.FRONTAL)],
        media_type="image/jpeg", width=2048, height=1536, size_bytes=400_000, uploaded_at=PAST,
    )  # fmt: skip


def add_week_of_sessions(place: dict, count: int) -> None:
    """Sessions planned on AS_OF, each of a patient of its own."""
    add_courses(place, count, patients=new_patients(count), start=AS_OF, days_apart=0)


def add_forecast_serums(place: dict, count: int) -> None:
    """Serums with a product and a lot each, and a course of each planned from AS_OF."""
    serums = new_serums(count, place)
    products = bulk(
        Product,
        [{"name": factories.unique("serum product "), "serum_id": serum} for serum in serums],
        kind="serum", unit="dose", reorder_point=Decimal(1), storage=Storage.ROOM,
    )  # fmt: skip
    new_lots(products, expiry_date=AS_OF + timedelta(60), effective_expiry=AS_OF + timedelta(60))
    add_courses(place, count, serums=serums, start=AS_OF)


def add_side_effects_per_lot(place: dict, count: int) -> None:
    """A lot each, of a serum that changes every ten lots, and a completed session with it in
    2029 with a side effect: a row each of the side effects per serum, lot and month."""
    serums = tens(lambda k: new_serums(k, place), count)
    distinct = sorted(set(serums))
    products = bulk(
        Product,
        [{"name": factories.unique("vigilance product "), "serum_id": serum} for serum in distinct],
        kind="serum", unit="dose", reorder_point=Decimal(0), storage=Storage.ROOM,
    )  # fmt: skip
    product_of = dict(zip(distinct, products, strict=True))
    lots = new_lots([product_of[serum] for serum in serums])
    days = [date(2029, 1, 1) + timedelta(days=n * 5 % 360) for n in range(count)]
    courses = bulk(
        Course,
        [{"serum_id": serum, "start_date": day, "review_date": day + timedelta(weeks=11)}
         for serum, day in zip(serums, days, strict=True)],
        patient_id=place["patient_id"], induction_sessions=4, created_by_id=place["doctor"],
        site_id=factories.clinic_site().id,
    )  # fmt: skip
    sessions = bulk(
        TreatmentSession,
        [{"course_id": course, "lot_id": lot, "scheduled_date": day, "performed_on": day}
         for course, lot, day in zip(courses, lots, days, strict=True)],
        patient_id=place["patient_id"], site_id=factories.clinic_site().id,
        status=SessionStatus.COMPLETED, completed_by_id=place["doctor"], completed_at=PAST,
        needle_mm=4, technique="manual", injection_points=20, screen_verdict=Verdict.SAFE,
    )  # fmt: skip
    bulk(
        SideEffect,
        [{"session_id": i, "kind": ("redness", "rash", "allergic_reaction")[n % 3]}
         for n, i in enumerate(sessions)],
        severity="mild", recorded_by_id=place["doctor"],
    )  # fmt: skip


def add_alerts(place: dict, count: int) -> None:
    """Alerts of every kind on lots of a product that changes every ten alerts; one in three
    acknowledged, by a user who changes every ten alerts."""
    kinds = [
        AlertKind.ADVERSE_SIGNAL, AlertKind.EXPIRING, AlertKind.EXPIRED, AlertKind.RECALL,
        AlertKind.LOW_STOCK,
    ]  # fmt: skip
    lot_ids = new_lots(tens(new_products, count))
    lots = db.session.scalars(select(Lot).where(Lot.id.in_(lot_ids)).order_by(Lot.id)).all()
    alerts = []
    for n, (lot, user) in enumerate(zip(lots, tens(new_users, count), strict=True)):
        kind = kinds[n % len(kinds)]
        alerts.append(
            {"kind": kind, "product_id": lot.product_id, "lot_number": lot.lot_number,
             "lot_id": None if kind is AlertKind.LOW_STOCK else lot.id,
             "threshold_days": 30 if kind in (AlertKind.EXPIRING, AlertKind.ADVERSE_SIGNAL)
                               else None,
             "window_start": AS_OF if kind is AlertKind.ADVERSE_SIGNAL else None,
             # Of a product's low-stock alerts, one at most stands (the others resolved).
             "resolved": kind is AlertKind.LOW_STOCK and n % 10 > 3,
             "created_at": PAST + timedelta(minutes=n)}
            | ({"status": AlertStatus.ACKNOWLEDGED, "acknowledged_by_id": user,
                "acknowledged_at": PAST} if n % 3 == 1 else {})
        )  # fmt: skip
    bulk(Alert, alerts, effective_expiry=AS_OF, quantity=Decimal(3), as_of=AS_OF)


def add_board_lots(place: dict, count: int) -> None:
    """Lots reaching their last day within the board's horizon (of a product that changes
    every ten lots), and for every third of them one of each of the board's other lists: past
    its last day, waiting for release, recalled."""
    products = tens(new_products, count)
    others = [(LotStatus.AVAILABLE, -5), (LotStatus.QUARANTINE, 40), (LotStatus.RECALLED, 40)]
    factories.insert_lots(
        [{"product_id": product, "effective_expiry": AS_OF + timedelta(days=n % 80)}
         for n, product in enumerate(products)]
        + [{"product_id": product, "status": status, "effective_expiry": AS_OF + timedelta(days)}
           for product in products[::3] for status, days in others]
    )  # fmt: skip


def add_counts(place: dict, count: int) -> None:
    """Counts of every status at the clinic's site, begun, submitted, approved and cancelled
    by pharmacists who change every ten counts."""
    users = tens(new_users, count)
    statuses = list(CountStatus)
    bulk(
        StockCount,
        [{"status": statuses[n % len(statuses)], "created_by_id": user, "submitted_by_id": user,
          "approved_by_id": user if n % 4 == 2 else None, "cancelled_by_id": user,
          "storage": Storage.ROOM if n % 2 else None, "created_at": PAST + timedelta(minutes=n)}
         for n, user in enumerate(users)],
        site_id=factories.clinic_site().id, submitted_at=PAST, needs_second_approval=False,
    )  # fmt: skip


def add_batches(place: dict, count: int) -> None:
    """Compounded batches, each with its lot, of a serum (and its product) and by a
    pharmacist that change every ten batches."""
    serums = tens(lambda k: new_serums(k, place), count)
    distinct = sorted(set(serums))
    products = bulk(
        Product,
        [{"name": factories.unique("batch product "), "serum_id": serum} for serum in distinct],
        kind="serum", unit="dose", reorder_point=Decimal(0), storage=Storage.REFRIGERATED,
    )  # fmt: skip
    product_of = dict(zip(distinct, products, strict=True))
    lots = new_lots([product_of[serum] for serum in serums], status=LotStatus.QUARANTINE)
    bulk(
        Batch,
        [{"serum_id": serum, "lot_id": lot, "made_by_id": maker}
         for serum, lot, maker in zip(serums, lots, tens(new_users, count), strict=True)],
        doses=Decimal(10), prepared_at=PAST, storage=Storage.REFRIGERATED, beyond_use_date=AS_OF,
    )  # fmt: skip


def new_suppliers(count: int) -> list[int]:
    return bulk(
        Supplier,
        [{"name": factories.unique("Listed supplier "),
          "email": f"orders{n}@supplier.example"} for n in range(count)],
        phone="+33 1 00 00 00 00", lead_time_days=7,
    )  # fmt: skip


def add_suppliers(place: dict, count: int) -> None:
    new_suppliers(count)


def a_supplier() -> dict:
    return {"supplier_id": new_suppliers(1)[0]}


def add_offers(place: dict, count: int) -> None:
    """Products the place's supplier sells, one each."""
    bulk_links(
        SupplierProduct.__table__,
        [{"supplier_id": place["supplier_id"], "product_id": product, "pack_size": 10 * 10**6,
          "unit_price": 2 * 10**6, "gtin": None} for product in new_products(count)],
    )  # fmt: skip


def add_suggestions(place: dict, count: int) -> None:
    """Products below their reorder point with no stock at all, each sold by a supplier that
    changes every ten products (and by a second, dearer one)."""
    products = new_products(count)
    cheap, dear = tens(new_suppliers, count), tens(new_suppliers, count)
    bulk_links(
        SupplierProduct.__table__,
        [{"supplier_id": supplier, "product_id": product, "pack_size": 6 * 10**6,
          "unit_price": price * 10**6, "gtin": None}
         for product, first, second in zip(products, cheap, dear, strict=True)
         for supplier, price in ((first, 2), (second, 3))],
    )  # fmt: skip


def add_orders(place: dict, count: int) -> None:
    """Submitted orders, of a supplier that changes every ten orders, two lines each."""
    orders = bulk(
        PurchaseOrder,
        [{"supplier_id": supplier, "created_at": PAST + timedelta(minutes=n)}
         for n, supplier in enumerate(tens(new_suppliers, count))],
        site_id=factories.clinic_site().id, status=OrderStatus.SUBMITTED, submitted_at=PAST,
        expected_on=AS_OF,
    )  # fmt: skip
    products = new_products(2 * count)
    bulk(
        PurchaseOrderLine,
        [{"purchase_order_id": order, "product_id": products[2 * n + k]}
         for n, order in enumerate(orders) for k in (0, 1)],
        quantity=Decimal(12), received_quantity=Decimal(0), unit_price=Decimal(2),
        pack_size=Decimal(6),
    )  # fmt: skip


# --- the lists -----------------------------------------------------------------------------------

DAY = {"as_of": AS_OF.isoformat()}
VIGILANCE_YEAR = {"from": "2029-01-01", "to": "2029-12-31"}

API_LISTS = {
    "/api/alerts": Case(Role.PHARMACIST, add_alerts),
    "/api/audit": Case(Role.ADMIN, add_audit_writes),
    "/api/condition-rules": Case(Role.DOCTOR, add_condition_rules),
    "/api/counts": Case(Role.PHARMACIST, add_counts),
    "/api/cross-reactivity": Case(Role.PHARMACIST, add_groups),
    "/api/forecast": Case(Role.PHARMACIST, add_forecast_serums, a_clinic, DAY | {"weeks": 8}),
    "/api/lots": Case(Role.PHARMACIST, add_lots),
    "/api/lots/{lot_id}/movements": Case(Role.PHARMACIST, add_movements, a_lot),
    "/api/patients": Case(Role.DOCTOR, add_patients),
    "/api/patients/{patient_id}/allergies": Case(Role.DOCTOR, add_allergies, a_patient),
    "/api/patients/{patient_id}/courses": Case(Role.DOCTOR, add_courses, a_clinic),
    "/api/courses/{course_id}/assessments": Case(Role.DOCTOR, add_assessments, a_course),
    "/api/patients/{patient_id}/serums": Case(Role.DOCTOR, add_serums, a_patient),
    "/api/products": Case(Role.PHARMACIST, add_products, formulary_place, DAY),
    "/api/products/{product_id}/reorder-points": Case(
        Role.ADMIN, add_sites_with_reorder_points, a_product
    ),
    "/api/serums": Case(Role.PHARMACIST, add_serums, formulary_place),
    "/api/sessions": Case(Role.DOCTOR, add_courses, a_clinic),
    "/api/sites": Case(Role.DOCTOR, add_sites),
    "/api/substances": Case(Role.PHARMACIST, add_substances),
    "/api/transfers": Case(Role.PHARMACIST, add_transfers),
    "/api/users": Case(Role.ADMIN, add_users),
    "/api/vigilance": Case(Role.PHARMACIST, add_side_effects_per_lot, a_clinic, VIGILANCE_YEAR),
    "/api/suppliers": Case(Role.PHARMACIST, add_suppliers),
    "/api/suppliers/{supplier_id}/products": Case(Role.PHARMACIST, add_offers, a_supplier),
    "/api/reorder-suggestions": Case(Role.PHARMACIST, add_suggestions, query=DAY),
    "/api/purchase-orders": Case(Role.PHARMACIST, add_orders),
}

BOARD_EXPIRING = lambda page: section(page, "expiring-title").count("<tr><td>")  # noqa: E731
ADMIN_RECENT = lambda page: (  # noqa: E731
    page.count('class="audit-write"') + section(page, "scans-title").count("<tr><td>")
)
WEB_LISTS = {
    "/admin": Case(Role.ADMIN, add_scan_runs_and_writes, shown=ADMIN_RECENT,
                   cap=RECENT_WRITES + RECENT_SCANS),
    "/admin/audit": Case(Role.ADMIN, add_audit_writes, shown=rows('class="audit-write"')),
    "/admin/condition-rules": Case(Role.ADMIN, add_condition_rules, shown=rows("<tr><td><code>")),
    "/admin/sites": Case(Role.ADMIN, add_sites, shown=links_to("/admin/sites")),
    "/admin/users": Case(Role.ADMIN, add_users, shown=rows(r'href="/admin/users/\d+"')),
    "/alerts": Case(Role.PHARMACIST, add_alerts, query={"status": "all"},
                    shown=rows('class="alert-row ')),
    "/formulary/approvals": Case(Role.ADMIN, add_drafts, formulary_place,
                                 shown=rows(r'id="draft-\d+-title"')),
    "/formulary/cross-reactivity": Case(Role.PHARMACIST, add_groups,
                                        shown=links_to("/formulary/cross-reactivity")),
    "/formulary/products": Case(Role.PHARMACIST, add_products, formulary_place,
                                shown=links_to("/formulary/products")),
    "/formulary/products/<id:product_id>/reorder-points": Case(
        Role.ADMIN, add_sites_with_reorder_points, a_product,
        shown=rows('class="site-reorder-point"')),
    "/formulary/serums": Case(Role.PHARMACIST, add_serums, formulary_place,
                              shown=links_to("/formulary/serums")),
    "/formulary/substances": Case(Role.PHARMACIST, add_substances,
                                  shown=links_to("/formulary/substances")),
    "/patients": Case(Role.DOCTOR, add_patients, shown=links_to("/patients")),
    "/stock": Case(Role.PHARMACIST, add_board_lots, query=DAY, shown=BOARD_EXPIRING,
                   cap=BOARD_LOTS),
    "/stock/batches": Case(Role.PHARMACIST, add_batches, formulary_place,
                           shown=links_to("/stock/batches"), cap=RECENT_BATCHES),
    "/stock/counts": Case(Role.PHARMACIST, add_counts, shown=rows('class="count-row ')),
    "/stock/lots": Case(Role.PHARMACIST, add_lots, shown=rows('class="lot-row ')),
    "/stock/products": Case(Role.PHARMACIST, add_products, formulary_place,
                            shown=rows('class="product-row')),
    "/stock/transfers": Case(Role.PHARMACIST, add_transfers,
                             shown=links_to("/stock/transfers")),
    "/vigilance": Case(Role.PHARMACIST, add_side_effects_per_lot, a_clinic, VIGILANCE_YEAR,
                       shown=rows('class="lot-month-row"')),
    "/today": Case(Role.DOCTOR, add_week_of_sessions, a_clinic, DAY,
                   shown=rows('class="agenda-entry ')),
    "/stock/suppliers": Case(Role.PHARMACIST, add_suppliers, shown=links_to("/stock/suppliers")),
    "/stock/reorder": Case(Role.PHARMACIST, add_suggestions, shown=rows('class="suggestion-row"')),
    "/stock/orders": Case(Role.PHARMACIST, add_orders, shown=links_to("/stock/orders")),
}  # fmt: skip

# The pages that list nothing of a growing kind, and why.
NOT_LISTS = {
    "/": "sends each role to its home",
    "/login": "a form",
    "/formulary": "counts, one statement each",
    "/stock/barcode": "reads one barcode",
    "/admin/users/<id:user_id>": "one record",
    "/admin/sites/<id:site_id>": "one record",
    "/formulary/cross-reactivity/<id:group_id>": "one record",
    "/formulary/cross-reactivity/<id:group_id>/edit": "a form",
    "/formulary/cross-reactivity/new": "a form",
    "/formulary/products/<id:product_id>/edit": "a form",
    "/formulary/products/new": "a form",
    "/formulary/serums/<id:serum_id>": "one record",
    "/formulary/serums/<id:serum_id>/edit": "a form",
    "/formulary/serums/new": "a form",
    "/formulary/substances/<id:substance_id>": "one record",
    "/formulary/substances/<id:substance_id>/edit": "a form",
    "/formulary/substances/new": "a form",
    "/patients/<id:patient_id>": "one record",
    "/patients/<id:patient_id>/allergies/<id:allergy_id>": "one record",
    "/patients/<id:patient_id>/photos/<id:photo_id>": "one photo",
    "/courses/<id:course_id>/assessments/new": "a form",
    "/sessions/<id:session_id>/aftercare": "one record",
    "/stock/batches/<id:batch_id>": "one record",
    "/stock/counts/<id:count_id>": f"one count: its sheet holds at most {COUNT_LINES_MAX} lots",
    "/stock/lots/<id:lot_id>": "one record",
    "/stock/lots/<id:lot_id>/label": "one record's label",
    "/stock/lots/<id:lot_id>/trace": "one recall's trace, whole by design",
    "/stock/lots/<id:lot_id>/trace.csv": "one recall's trace, whole by design",
    "/stock/transfers/new": "a form",
    "/stock/transfers/<id:transfer_id>": "one record, of at most TRANSFER_MOST_LOTS lots",
    "/stock/suppliers/new": "a form",
    "/stock/suppliers/<id:supplier_id>": "one record; its products a page at a time",
    "/stock/orders/<id:order_id>": "one order, its lines at most MAX_LINES",
    "/stock/orders/<id:order_id>/print": "one order to print",
}


def api_lists(document: dict) -> set[str]:
    """The paths whose GET answers an array (a list, paginated or not)."""
    found = set()
    for path, operations in document["paths"].items():
        answer = operations.get("get", {}).get("responses", {}).get("200", {})
        schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
        if schema.get("type") == "array":
            found.add(path)
    return found


def test_every_list_of_the_api_has_a_case(client):
    assert api_lists(client.get("/api/openapi.json").get_json()) == set(API_LISTS)


def test_every_page_is_a_list_or_says_why_not(app):
    pages = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.rule.startswith(("/api/", "/static/"))
    }
    assert not set(WEB_LISTS) & set(NOT_LISTS)
    assert pages == set(WEB_LISTS) | set(NOT_LISTS)


def assert_bounded(case: Case, measured: list[tuple[int, int, int]]) -> None:
    """Of (statements, records shown, bytes) at the smaller and at the larger size: as many
    statements; every record shown at the smaller, the cap at the larger; the larger body no
    more than the smaller's bytes per record shown times the cap, and at most MOST_BYTES."""
    (few, shown_few, small), (many, shown_many, large) = measured
    assert many == few, f"{few} statements for {SMALL} records, {many} for {LARGE}"
    assert SMALL <= shown_few < case.cap
    assert shown_many == case.cap, f"{shown_many} records shown for {LARGE}, at most {case.cap}"
    assert large <= min(MOST_BYTES, SLACK * small / shown_few * case.cap), (small, large)


@pytest.mark.parametrize("path", sorted(API_LISTS))
def test_an_api_list_costs_the_same_and_answers_a_page_for_few_or_many(
    path, login_as, queries_of_get
):
    case = API_LISTS[path]
    headers = login_as(case.role)
    place = case.start()
    url = path.format(**place)
    measured = []
    for count in (SMALL, LARGE - SMALL):
        case.fill(place, count)
        statements, response = queries_of_get(url, headers=headers, query_string=case.query)
        measured.append((statements, len(response.get_json()), len(response.get_data())))
    assert_bounded(case, measured)


@pytest.mark.parametrize("path", sorted(WEB_LISTS))
def test_a_list_page_costs_the_same_and_shows_a_page_for_few_or_many(
    path, sign_in_page, queries_of_get
):
    case = WEB_LISTS[path]
    sign_in_page(case.role)
    place = case.start()
    measured = []
    for count in (SMALL, LARGE - SMALL):
        case.fill(place, count)
        url = re.sub(r"<id:(\w+)>", lambda name: str(place[name[1]]), path)
        statements, response = queries_of_get(url, query_string=case.query)
        page = response.get_data(as_text=True)
        measured.append((statements, case.shown(page), len(response.get_data())))
    assert_bounded(case, measured)
