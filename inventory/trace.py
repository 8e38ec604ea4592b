"""The recall trace of a lot (SPEC 3.4): the compounded batches made from it, at any depth (a
batch whose lot went into another batch), so that the clinic can find every session that used
the lot or anything made from it.

Set-based: one recursive query walks the batch genealogy and loads the batch lots with their
products. The sessions themselves are the clinic's (`clinic.sessions.sessions_using_lots`).
"""

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import aliased, joinedload

from core.database import db
from inventory.lots import get_lot
from inventory.models import Batch, BatchConsumption, Lot


@dataclasses.dataclass(frozen=True)
class RecallTrace:
    lot_id: int
    # The lots of every batch made from the lot, directly or through another batch.
    batches: tuple[Lot, ...]

    @property
    def lot_ids(self) -> set[int]:
        """The lot and every lot made from it: a session that used any of them is affected."""
        return {self.lot_id} | {lot.id for lot in self.batches}


def trace_recall(lot_id: int) -> RecallTrace:
    get_lot(lot_id)
    made_from = (
        select(Batch.lot_id.label("lot_id"))
        .join(BatchConsumption, BatchConsumption.batch_id == Batch.id)
        .where(BatchConsumption.lot_id == lot_id)
        .cte("made_from", recursive=True)
    )
    consumption, batch = aliased(BatchConsumption), aliased(Batch)
    made_from = made_from.union(
        select(batch.lot_id)
        .join(consumption, consumption.batch_id == batch.id)
        .join(made_from, consumption.lot_id == made_from.c.lot_id)
    )
    lots = db.session.scalars(
        select(Lot)
        .where(Lot.id.in_(select(made_from.c.lot_id)))
        .options(joinedload(Lot.product, innerjoin=True))
        .order_by(Lot.id)
    ).all()
    return RecallTrace(lot_id, tuple(lots))
