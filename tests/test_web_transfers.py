"""The transfer pages (issue 15): a pharmacist at the sending site starts a transfer, adds lots
by scanning them, ships after being asked; a pharmacist at the receiving site checks each lot
by its barcode as it is unpacked and receives, saying why anything arrived short. The same
rules as the API, each refusal next to its field."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.database import db
from inventory.models import Lot, Transfer, TransferStatus
from tests import factories

GTIN = "09501101530003"
LATER = date(2099, 12, 31)


@pytest.fixture
def paris():
    return factories.clinic_site()


@pytest.fixture
def lyon():
    return factories.make_site(code=factories.unique("LYON-"), name="Lyon")


def barcode(lot) -> str:
    return f"(01){GTIN}(10){lot.lot_number}"


def test_a_pharmacist_ships_lots_scanned_at_one_site_and_another_receives_them_by_barcode(
    client, sign_in_page, paris, lyon
):
    product = factories.make_product(kind="consumable", name="Hyaluronic base", gtin=GTIN)
    scanned = factories.make_lot(product, quantity="10", expiry_date=LATER, site_id=paris.id)
    typed = factories.make_lot(quantity="5", expiry_date=LATER, site_id=paris.id)
    sign_in_page(factories.make_user(role="pharmacist", sites=[paris]))

    start = client.get("/stock/transfers/new")
    assert "Lyon" in start.get_data(as_text=True)
    started = client.post("/stock/transfers/new", data={"to_site_id": lyon.id})
    assert started.status_code == 302
    transfer = db.session.scalar(select(Transfer).order_by(Transfer.id.desc()))
    page = f"/stock/transfers/{transfer.id}"
    added = client.post(f"{page}/lots", data={"barcode": barcode(scanned), "quantity": "4"})
    assert added.status_code == 302
    client.post(f"{page}/lots", data={"barcode": typed.lot_number, "quantity": "5"})
    too_much = client.post(f"{page}/lots", data={"barcode": typed.lot_number, "quantity": "1"})
    assert too_much.status_code == 422
    assert "More than lot" in too_much.get_data(as_text=True)
    unknown = client.post(f"{page}/lots", data={"barcode": "NO-SUCH-LOT", "quantity": "1"})
    assert "No lot of this site has" in unknown.get_data(as_text=True)

    asked = client.post(f"{page}/ship")
    assert asked.status_code == 200 and "Ship 2 lots to Lyon?" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Transfer, transfer.id).status == TransferStatus.DRAFT
    assert client.post(f"{page}/ship", data={"confirmed": "yes"}).status_code == 302
    db.session.expire_all()
    assert scanned.quantity_on_hand == 6 and typed.quantity_on_hand == 0

    client.post("/logout")
    sign_in_page(factories.make_user(role="pharmacist", sites=[lyon]))
    arriving = client.get(page).get_data(as_text=True)
    assert "Unpack and receive" in arriving and "Not yet" in arriving
    checked = client.post(f"{page}/check", data={"barcode": barcode(scanned)})
    assert checked.status_code == 200
    body = checked.get_data(as_text=True)
    assert "checked: 1 of 2 lots" in body
    assert f'name="scanned" value="{scanned.id}"' in body
    receipt = {
        "scanned": [str(scanned.id)],
        "lines-0-lot_id": str(scanned.id),
        "lines-0-received_quantity": "4",
        "lines-1-lot_id": str(typed.id),
        "lines-1-received_quantity": "5",
    }
    unscanned = client.post(f"{page}/receive", data=receipt)
    assert unscanned.status_code == 422
    assert "Scan this lot as you unpack it" in unscanned.get_data(as_text=True)
    typed_in = client.post(
        f"{page}/check", data={"barcode": typed.lot_number, "scanned": [str(scanned.id)]}
    )
    assert "checked: 2 of 2 lots" in typed_in.get_data(as_text=True)
    both = [str(scanned.id), str(typed.id)]
    short = {**receipt, "scanned": both, "lines-1-received_quantity": "3"}
    no_reason = client.post(f"{page}/receive", data=short)
    assert "Say why less arrived" in no_reason.get_data(as_text=True)
    received = client.post(
        f"{page}/receive", data={**short, "lines-1-reason": "2 vials broken in the box"}
    )
    assert received.status_code == 302, received.get_data(as_text=True)
    db.session.expire_all()
    at_lyon = db.session.scalars(select(Lot).where(Lot.site_id == lyon.id)).all()
    assert sorted(lot.quantity_on_hand for lot in at_lyon) == [Decimal(3), Decimal(4)]
    done = client.get(page).get_data(as_text=True)
    assert "2 vials broken in the box" in done and "Received" in done


def test_a_pharmacist_at_neither_site_cannot_open_the_transfer(client, sign_in_page, paris, lyon):
    sender = factories.make_user(role="pharmacist", sites=[paris])
    lot = factories.make_lot(quantity="3", expiry_date=LATER, site_id=paris.id)
    sign_in_page(sender)
    client.post("/stock/transfers/new", data={"to_site_id": lyon.id})
    transfer = db.session.scalar(select(Transfer).order_by(Transfer.id.desc()))
    client.post(f"/stock/transfers/{transfer.id}/lots", data={"barcode": lot.lot_number,
                                                               "quantity": "1"})  # fmt: skip
    client.post("/logout")
    nice = factories.make_site(code=factories.unique("NICE-"), name="Nice")
    sign_in_page(factories.make_user(role="pharmacist", sites=[nice]))
    assert client.get(f"/stock/transfers/{transfer.id}").status_code == 403
    assert (
        client.post(f"/stock/transfers/{transfer.id}/ship", data={"confirmed": "yes"}).status_code
        == 403
    )
    assert "Transfer " not in client.get("/stock/transfers").get_data(as_text=True).split("<h2")[1]


def test_someone_at_several_sites_chooses_the_sending_site_in_the_header(
    client, sign_in_page, paris, lyon
):
    sign_in_page(factories.make_user(role="pharmacist", sites=[paris, lyon]))
    refused = client.get("/stock/transfers/new")
    assert refused.status_code == 422
    assert "Choose a site in the header first" in refused.get_data(as_text=True)
    client.post("/site", data={"site_id": lyon.id, "next": "/stock/transfers/new"})
    chosen = client.get("/stock/transfers/new").get_data(as_text=True)
    assert "From Lyon" in chosen


def test_a_draft_is_cancelled_after_being_asked(client, sign_in_page, paris, lyon):
    sign_in_page(factories.make_user(role="pharmacist", sites=[paris]))
    client.post("/stock/transfers/new", data={"to_site_id": lyon.id})
    transfer = db.session.scalar(select(Transfer).order_by(Transfer.id.desc()))
    asked = client.post(f"/stock/transfers/{transfer.id}/cancel", data={"reason": "not needed"})
    assert "Cancel the transfer to Lyon?" in asked.get_data(as_text=True)
    client.post(
        f"/stock/transfers/{transfer.id}/cancel", data={"reason": "not needed", "confirmed": "yes"}
    )
    db.session.expire_all()
    assert db.session.get(Transfer, transfer.id).status == TransferStatus.CANCELLED


def test_a_lot_that_never_arrived_is_received_as_0_with_its_reason_without_a_scan(
    client, sign_in_page, paris, lyon
):
    sender = factories.make_user(role="pharmacist", sites=[paris])
    lot = factories.make_lot(quantity="3", expiry_date=LATER, site_id=paris.id)
    sign_in_page(sender)
    client.post("/stock/transfers/new", data={"to_site_id": lyon.id})
    transfer = db.session.scalar(select(Transfer).order_by(Transfer.id.desc()))
    page = f"/stock/transfers/{transfer.id}"
    client.post(f"{page}/lots", data={"barcode": lot.lot_number, "quantity": "2"})
    client.post(f"{page}/ship", data={"confirmed": "yes"})
    client.post("/logout")
    sign_in_page(factories.make_user(role="pharmacist", sites=[lyon]))
    nothing = {"lines-0-lot_id": str(lot.id), "lines-0-received_quantity": "0"}
    asked = client.post(f"{page}/receive", data=nothing)
    assert asked.status_code == 422
    assert "Say why less arrived" in asked.get_data(as_text=True)
    lost = client.post(f"{page}/receive", data={**nothing, "lines-0-reason": "lost in the post"})
    assert lost.status_code == 302
    db.session.expire_all()
    assert db.session.get(Transfer, transfer.id).status == TransferStatus.RECEIVED
    assert db.session.scalars(select(Lot).where(Lot.site_id == lyon.id)).all() == []
