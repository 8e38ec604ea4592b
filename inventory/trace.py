"""The recall trace of a lot (SPEC 3.4): the compounded batches made from it, at any depth (a
batch whose lot went into another batch), and its copies at the chain's other sites (the same
stock sent by a transfer, and the batches made there from it), so that the clinic can find
every session at every site that used the lot or anything made from it.

Set-based: one recursive query walks the batch genealogy (down only: from a component to what
was made of it) and the transfers (both ways: a copy and the lot it was sent from are one
stock), then loads the lots found with their products. The sessions themselves are the
clinic's (`clinic.sessions.sessions_using_lots`).
"""

import dataclasses

from sqlalchemy import literal, select, union
from sqlalchemy.orm import joinedload

from core.database import db
from inventory.lots import get_lot
from inventory.models import Batch, BatchConsumption, Lot
from inventory.transfers import transfer_edges


@dataclasses.dataclass(frozen=True)
class RecallTrace:
    lot_id: int
    # The lots of every batch made from the lot (or a copy of it), directly or through
    # another batch.
    batches: tuple[Lot, ...]
    # The same stock at other sites: the lot's copies, and its batches' copies.
    copies: tuple[Lot, ...] = ()

    @property
    def lot_ids(self) -> set[int]:
        """The lot and every lot made from it or sent from it: a session that used any of them
        is affected."""
        return {self.lot_id} | {lot.id for lot in (*self.batches, *self.copies)}


def trace_recall(lot_id: int) -> RecallTrace:
    get_lot(lot_id)
    made_into = select(BatchConsumption.lot_id.label("lot_id"), Batch.lot_id.label("to")).join(
        Batch, Batch.id == BatchConsumption.batch_id
    )
    transferred = transfer_edges()
    edges = union(made_into, select(transferred.c.lot_id, transferred.c.to)).subquery("edges")
    reached = select(literal(lot_id).label("lot_id")).cte("reached", recursive=True)
    reached = reached.union(select(edges.c.to).join(reached, edges.c.lot_id == reached.c.lot_id))
    batch_lots = set(
        db.session.scalars(select(Batch.lot_id).where(Batch.lot_id.in_(select(reached.c.lot_id))))
    )
    lots = db.session.scalars(
        select(Lot)
        .where(Lot.id.in_(select(reached.c.lot_id)), Lot.id != lot_id)
        .options(joinedload(Lot.product, innerjoin=True), joinedload(Lot.site, innerjoin=True))
        .order_by(Lot.id)
    ).all()
    return RecallTrace(
        lot_id,
        batches=tuple(lot for lot in lots if lot.id in batch_lots),
        copies=tuple(lot for lot in lots if lot.id not in batch_lots),
    )
