"""The second check of a compounded batch (USP 795/797 practice): its lot waits in quarantine
until a second pharmacist, never the one who prepared it, checks the compounding record and
verifies it (the lot is released) or rejects it (the lot is disposed of).

The rule is here, below `inventory.lots` and `inventory.compounding`, so that both apply it:
`lots.release` of a batch's lot is its verification, and `compounding.verify_batch` and
`compounding.reject_batch` are the batch's own words for the two outcomes.
"""

import enum
from datetime import datetime

from sqlalchemy import select

from core.accounts import Role, User
from core.database import db
from core.errors import Conflict
from inventory.models import Batch, Lot, LotStatus

PREPARER_CANNOT_CHECK = (
    "The pharmacist who prepared it cannot also check it: a second pharmacist releases it."
)


def batch_of_lot(lot_id: int) -> Batch | None:
    """The batch that made the lot, when it was compounded here."""
    return db.session.scalar(select(Batch).where(Batch.lot_id == lot_id))


class CheckState(enum.StrEnum):
    """Where a batch stands with its second check."""

    WAITING = "waiting"
    VERIFIED = "verified"
    REJECTED = "rejected"
    # Made before the check existed (migration 0015), or its lot left quarantine otherwise.
    NOT_RECORDED = "not recorded"


def check_state(batch: Batch) -> CheckState:
    if batch.verified_at is not None:
        return CheckState.VERIFIED
    if batch.rejected_at is not None:
        return CheckState.REJECTED
    if batch.lot.status == LotStatus.QUARANTINE:
        return CheckState.WAITING
    return CheckState.NOT_RECORDED


def check_refusal(batch: Batch, lot: Lot, *, pharmacist: User | None) -> str | None:
    """Why that person may not check the batch now, in the pharmacist's words; None when they
    may (a pharmacist other than the preparer, while the lot waits in quarantine)."""
    if lot.status != LotStatus.QUARANTINE:
        return (
            f"Batch {lot.lot_number} is not waiting for its check: its lot is {lot.status.value}."
        )
    if pharmacist is None or pharmacist.role != Role.PHARMACIST:
        return f"Batch {lot.lot_number} is checked by a pharmacist."
    if batch.made_by_id is not None and batch.made_by_id == pharmacist.id:
        return PREPARER_CANNOT_CHECK
    return None


def check_second_pharmacist(batch: Batch, lot: Lot, *, pharmacist: User | None) -> None:
    """Refuse (409) a check of the batch by anyone but a second pharmacist, or of a batch
    whose lot is no longer waiting for it."""
    refusal = check_refusal(batch, lot, pharmacist=pharmacist)
    if refusal == PREPARER_CANNOT_CHECK:
        raise Conflict(refusal, {"pharmacist": [refusal]})
    if refusal is not None:
        raise Conflict(refusal)


def record_verification(batch: Batch, *, pharmacist: User, now: datetime) -> None:
    batch.verified_by = pharmacist
    batch.verified_at = now


def record_rejection(batch: Batch, *, pharmacist: User, reason: str, now: datetime) -> None:
    batch.rejected_by = pharmacist
    batch.rejected_at = now
    batch.rejection_reason = reason
