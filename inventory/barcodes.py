"""GS1 barcodes on the boxes a pharmacist receives: GTIN (AI 01), lot (AI 10), expiry
(AI 17), read with biip.

Accepted: the raw element string a scanner types (`0109501101530003172707001012345`), the
same with a symbology identifier (`]d2...`, `]C1...`) and with the GS character (0x1D) after a
variable-length field, and the human-readable form printed under the symbol
(`(01)09501101530003(17)270700(10)12345`), and a GS1 Digital Link URI, what a phone camera
or a 2D scanner reads off a modern pack: any domain, the AIs in the path or the query string
(`https://id.gs1.org/01/09501101530003/10/LOT42?17=300331`).
"""

import dataclasses
import re
from datetime import date

import biip
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin

from core.errors import Invalid

GTIN_LENGTHS = (8, 12, 13, 14)
# A GS1 lot number (AI 10) holds at most this many characters.
GS1_LOT_LENGTH = 20
# A web address, maybe after the symbology identifier a scanner puts before it (`]Q1`, `]d1`).
_DIGITAL_LINK = re.compile(r"^(?:\][A-Za-z][0-9])?(https?://.*)$", re.IGNORECASE | re.DOTALL)
# What a receipt reads; each at most once (a Digital Link may repeat one in its query string).
_RECEIVED_AIS = {"01": "GTIN", "10": "lot number", "17": "expiry date"}


@dataclasses.dataclass(frozen=True)
class BoxLabel:
    """What a GS1 barcode says about a box: its GTIN (14 digits), lot and expiry."""

    gtin: str
    lot_number: str
    expiry_date: date | None
    expiry_month_only: bool


@dataclasses.dataclass(frozen=True)
class LotSymbol:
    """What a lot's label symbol carries: the GS1 element string as a scanner types it (no
    symbology identifier), the same in human-readable form for under the symbol, or, when the
    lot number is no GS1 lot number, why there is no symbol."""

    element_string: str | None
    human_readable: str | None
    problem: str | None = None


def normalize_gtin(text: str) -> str:
    """A GTIN-8, -12, -13 or -14 as the 14 digits GS1 barcodes carry, its check digit
    verified."""
    text = text.strip()
    if not text.isdigit() or len(text) not in GTIN_LENGTHS:
        raise Invalid({"gtin": ["A GTIN has 8, 12, 13 or 14 digits."]})
    try:
        return Gtin.parse(text).as_gtin_14()
    except biip.ParseError as error:
        raise Invalid({"gtin": [str(error)]}) from None


def read_barcode(text: str) -> BoxLabel:
    """The GTIN, lot and expiry of a scanned or typed GS1 barcode; a 422 on `barcode` that says
    which part is wrong otherwise."""
    elements = _element_strings(text)
    for ai, name in _RECEIVED_AIS.items():
        if len({element.value for element in elements.filter(ai=ai)}) > 1:
            _refuse(f"The barcode gives two different {name}s (AI {ai}).")
    gtin_element = elements.get(ai="01")
    if gtin_element is None:
        _refuse("The barcode has no GTIN (AI 01).")
    if gtin_element.gtin is None:
        _refuse(f"GTIN (01) {gtin_element.value}: {gtin_element.gtin_error}")
    lot_element = elements.get(ai="10")
    if lot_element is None or not lot_element.value.strip():
        _refuse("The barcode has no lot number (AI 10).")
    expiry_element = elements.get(ai="17")
    return BoxLabel(
        gtin=gtin_element.gtin.as_gtin_14(),
        lot_number=lot_element.value.strip(),
        expiry_date=expiry_element.date if expiry_element else None,
        # GS1: day 00 means the month only; biip already made it the month's last day.
        expiry_month_only=bool(expiry_element) and expiry_element.value.endswith("00"),
    )


def lot_symbol(lot) -> LotSymbol:
    """The lot's element string (`element_string`) and its human-readable form, as biip reads
    the element string; or, when the lot number has no GS1 form, why there is no symbol."""
    value = element_string(lot)
    if value is None:
        return LotSymbol(
            element_string=None,
            human_readable=None,
            problem=(
                f"Lot number {lot.lot_number} cannot be carried by a GS1 symbol: a GS1 lot "
                f"number has at most {GS1_LOT_LENGTH} characters, letters, digits and "
                "!\"%&'()*+,-./:;<=>?_ "
                "only."
            ),
        )
    return LotSymbol(element_string=value, human_readable=GS1Message.parse(value).as_hri())


def element_string(lot) -> str | None:
    """The GS1 element string of a lot (`lot_element_string`, with its product's GTIN)."""
    return lot_element_string(lot, gtin=lot.product.gtin)


def lot_element_string(lot, *, gtin: str | None) -> str | None:
    """The GS1 element string of a lot (a Lot, or a row of its columns) and its product's
    GTIN: (01) the GTIN when there is one, (17) the lot's expiry (YYMMDD; day 00 for a
    month-only expiry), (10) its lot number; None when a field does not match its AI's pattern
    in biip's table of AIs (a lot number over 20 characters, or with a space), which is what
    biip refuses such fields for. The fixed-length fields come first and the lot number, the
    one field that needs a GS separator after it, last: the element string is the fields one
    after the other. Receiving it (`read_barcode`) finds the same lot again when the product
    has a GTIN.

    Matching the patterns, rather than having biip build an element string object per field,
    keeps a page of 50 lots cheap: biip's objects cost more than the rest of the answer."""
    day = lot.expiry_date
    gtin_field = f"01{gtin}" if gtin else ""
    # YYMMDD (as %y%m%d writes it, without strftime's cost); day 00 for a month-only expiry.
    day_of_month = 0 if lot.expiry_month_only else day.day
    expiry_field = f"17{day.year % 100:02}{day.month:02}{day_of_month:02}"
    lot_field = f"10{lot.lot_number}"
    if not (
        (not gtin or _GTIN_PATTERN.fullmatch(gtin_field))
        and _EXPIRY_PATTERN.fullmatch(expiry_field)
        and _LOT_PATTERN.fullmatch(lot_field)
    ):
        return None
    return gtin_field + expiry_field + lot_field


# The patterns of AIs 01, 17 and 10 in biip's table.
_GTIN_PATTERN, _EXPIRY_PATTERN, _LOT_PATTERN = (
    re.compile(GS1ApplicationIdentifier.extract(ai).pattern) for ai in ("01", "17", "10")
)


def _element_strings(text: str):
    text = (text or "").strip()
    if not text:
        _refuse("The barcode is empty.")
    link = _DIGITAL_LINK.match(text)
    try:
        if link:
            return GS1DigitalLinkURI.parse(link.group(1)).element_strings
        if text.startswith("("):
            return GS1Message.parse_hri(text).element_strings
        result = biip.parse(text)
    except biip.ParseError as error:
        if link:
            _refuse(f"Not a GS1 Digital Link: {error}")
        _refuse(f"Not a GS1 barcode: {error}")
    if result.gs1_message is None:
        _refuse(f"Not a GS1 barcode: {result.gs1_message_error}")
    return result.gs1_message.element_strings


def _refuse(message: str):
    raise Invalid({"barcode": [message]})
