"""A lot's printable label: what it is, its lot and expiry (a compounded batch's beyond-use
date), how to store it, who compounded it when and who checked it, and a GS1 DataMatrix
carrying its element string (`inventory.barcodes.lot_symbol`), drawn by zxing-cpp as SVG. The
pages print it; a scanner reading the symbol types the element string that receiving takes
back to the same lot."""

import dataclasses
from xml.etree import ElementTree

import zxingcpp

from core.clock import day_text, moment_text
from inventory.barcodes import LotSymbol, lot_symbol
from inventory.lots import get_lot
from inventory.models import LotStatus, Storage
from inventory.second_check import batch_of_lot

# How a storage reads on a label.
STORAGE_TEXT = {
    Storage.ROOM: "Store at room temperature (15-25 °C).",
    Storage.REFRIGERATED: "Store refrigerated (2-8 °C). Do not freeze.",
    Storage.FROZEN: "Store frozen (-20 °C or colder).",
}
_SVG = "http://www.w3.org/2000/svg"
ElementTree.register_namespace("", _SVG)


@dataclasses.dataclass(frozen=True)
class Label:
    """Everything printed on a lot's label, in the clinic's words."""

    lot_id: int
    # The batch that made the lot, when it was compounded here.
    batch_id: int | None
    product_name: str
    strength: str | None
    lot_number: str
    # "Expiry" for a received lot, "Beyond-use date" for a compounded batch.
    date_heading: str
    date_text: str
    storage: str
    # "Compounded on 3 Dec 2026, 09:00 by pharmacist", for a batch.
    compounded: str | None
    # "Checked by pharmacist2 on 3 Dec 2026, 09:30", once a second pharmacist verified it;
    # "Not yet checked: do not use" while it waits in quarantine.
    checked: str | None
    symbol: LotSymbol
    # The GS1 DataMatrix as an `<svg>` element to put in a page (it scales to the size the
    # page gives it), or None when the lot number has no GS1 form.
    datamatrix_svg: str | None


def datamatrix(symbol: LotSymbol) -> zxingcpp.Barcode | None:
    """The GS1 DataMatrix (FNC1 first, GS between fields where needed) carrying the symbol's
    element string, built by zxing-cpp from its human-readable form; square, as on a pack
    (zxing-cpp would pick a long rectangle for some contents)."""
    if symbol.human_readable is None:
        return None
    return zxingcpp.create_barcode(
        symbol.human_readable, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, force_square=True
    )


def inline_svg(barcode: zxingcpp.Barcode, description: str) -> str:
    """zxing-cpp's SVG document of the symbol (with its quiet zone) as an `<svg>` element for a
    page: no XML prolog, a viewBox so that it scales, and a text alternative."""
    svg = ElementTree.fromstring(barcode.to_svg(add_quiet_zones=True))
    width, height = svg.get("width"), svg.get("height")
    svg.set("viewBox", f"0 0 {width} {height}")
    for size in ("width", "height"):
        svg.attrib.pop(size)
    svg.set("role", "img")
    svg.set("aria-label", description)
    svg.set("class", "datamatrix")
    svg.set("shape-rendering", "crispEdges")
    for desc in svg.findall(f"{{{_SVG}}}desc"):
        svg.remove(desc)
    for group in svg.iter(f"{{{_SVG}}}g"):
        group.attrib.pop("id", None)  # "barcode": ids are the page's
    return ElementTree.tostring(svg, encoding="unicode")


def lot_label(lot_id: int) -> Label:
    """The label of a lot, and of the batch that made it if it was compounded here."""
    lot = get_lot(lot_id)
    batch = batch_of_lot(lot.id)
    symbol = lot_symbol(lot)
    barcode = datamatrix(symbol)
    if lot.expiry_month_only:
        expiry = lot.expiry_date.strftime("%b %Y")
    else:
        expiry = day_text(lot.expiry_date)
    compounded = checked = None
    if batch is not None:
        maker = batch.prepared_by or "a former user"
        compounded = f"Compounded on {moment_text(batch.prepared_at)} by {maker}"
        if batch.verified_at is not None:
            checker = batch.verified_by_name or "a former user"
            checked = f"Checked by {checker} on {moment_text(batch.verified_at)}"
        elif lot.status == LotStatus.QUARANTINE:
            checked = "Not yet checked: do not use"
    return Label(
        lot_id=lot.id,
        batch_id=batch.id if batch is not None else None,
        product_name=lot.product.name,
        strength=lot.product.strength_text or None,
        lot_number=lot.lot_number,
        date_heading="Beyond-use date" if batch is not None else "Expiry",
        date_text=day_text(batch.beyond_use_date) if batch is not None else expiry,
        storage=STORAGE_TEXT[batch.storage if batch is not None else lot.storage],
        compounded=compounded,
        checked=checked,
        symbol=symbol,
        datamatrix_svg=(
            inline_svg(barcode, f"GS1 DataMatrix: {symbol.human_readable}")
            if barcode is not None
            else None
        ),
    )
