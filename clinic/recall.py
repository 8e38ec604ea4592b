"""The recall trace to patients (SPEC 3.4): from a lot, every compounded batch made from it
and its copies at the chain's other sites (`inventory.trace`), and every completed session at
any site that used the lot, a copy or such a batch, with the patient to call. The one
function the lot page, its CSV download and the API all answer from.
"""

import csv
import dataclasses
import io
from collections.abc import Iterator

from clinic.sessions import TreatedWithLot, sessions_using_lots
from inventory.csv_io import escaped
from inventory.lots import get_lot
from inventory.models import Lot
from inventory.trace import trace_recall

TRACE_CSV_COLUMNS = ("date", "record_number", "patient", "lot_used", "product", "site")


@dataclasses.dataclass(frozen=True)
class PatientTrace:
    lot: Lot
    # The lots of every batch made from the lot, directly or through another batch.
    batches: tuple[Lot, ...]
    # Every completed session that used the lot, a copy or one of the batches, oldest first.
    sessions: list[TreatedWithLot]
    # The same stock at the chain's other sites, sent by transfers.
    copies: tuple[Lot, ...] = ()

    @property
    def lot_id(self) -> int:
        return self.lot.id

    @property
    def lots(self) -> dict[int, Lot]:
        """The lot, its batch lots and its copies by id: the lot each session used."""
        return {self.lot.id: self.lot, **{lot.id: lot for lot in (*self.batches, *self.copies)}}


def trace_to_patients(lot_id: int) -> PatientTrace:
    """The batches made from the lot and the sessions that used any of them: a fixed number
    of queries whatever the depth of the batches and the number of sessions."""
    lot = get_lot(lot_id)
    trace = trace_recall(lot_id)
    return PatientTrace(lot, trace.batches, sessions_using_lots(trace.lot_ids), copies=trace.copies)


def trace_csv(trace: PatientTrace) -> str:
    """The patients to call as a CSV file, one line a session; every text cell is neutralised
    so that a spreadsheet never runs it as a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in _trace_rows(trace):
        writer.writerow(row)
    return out.getvalue()


def _trace_rows(trace: PatientTrace) -> Iterator[list[str]]:
    yield list(TRACE_CSV_COLUMNS)
    lots = trace.lots
    for row in trace.sessions:
        used = lots[row.lot_id]
        yield [
            row.date.isoformat(),
            escaped(row.mrn),
            escaped(row.patient_name),
            escaped(used.lot_number),
            escaped(used.product.name),
            escaped(used.site.name),
        ]
