"""Transfers between the sites of a chain (issue 15): drafted and shipped at the source (stock
leaves it, nothing usable in transit), received at the destination (the same lot arrives,
short receipts say why); only usable lots travel; a cold lot too long on the road arrives in
quarantine; the sum of stock over the sites never changes; concurrent shipments never give
more than a lot holds; and the recall trace follows the stock to the other site's patients."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update

from clinic.recall import trace_csv, trace_to_patients
from clinic.sessions import complete_session
from core.audit import AuditEntry
from core.clock import utcnow
from core.database import db
from core.errors import Conflict, Invalid
from inventory.alerts import Alert
from inventory.alerts.models import AlertKind
from inventory.ledger import ledger_mismatches
from inventory.lots import recall
from inventory.models import (
    Lot,
    LotStatus,
    Movement,
    MovementKind,
    Transfer,
    TransferLine,
    TransferStatus,
)
from inventory.transfers import (
    cancel_transfer,
    create_transfer,
    in_transit,
    receive_transfer,
    ship_transfer,
    transfer_mismatches,
)
from tests import factories

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LATER = date(2099, 12, 31)


@pytest.fixture
def paris():
    return factories.clinic_site()


@pytest.fixture
def lyon():
    return factories.make_site(code=factories.unique("LYON-"), name="Lyon")


@pytest.fixture
def at_paris(paris):
    return factories.make_user(role="pharmacist", sites=[paris])


@pytest.fixture
def at_lyon(lyon):
    return factories.make_user(role="pharmacist", sites=[lyon])


def lot_at(site, quantity="10", **fields):
    fields.setdefault("expiry_date", LATER)
    return factories.make_lot(quantity=quantity, site_id=site.id, **fields)


def draft(user, source, destination, *lines, now=NOW):
    transfer = create_transfer(
        user=user,
        from_site_id=source.id,
        to_site_id=destination.id,
        lines=[{"lot_id": lot.id, "quantity": Decimal(q)} for lot, q in lines],
        now=now,
    )
    db.session.commit()
    return transfer


def copy_at(site, lot) -> Lot | None:
    return db.session.scalar(
        select(Lot).where(
            Lot.site_id == site.id,
            Lot.product_id == lot.product_id,
            Lot.lot_number == lot.lot_number,
        )
    )


# --- end to end ------------------------------------------------------------------------------


def test_a_transfer_ships_from_one_site_and_arrives_at_the_other_with_a_short_receipt(
    client, login_as, paris, lyon, at_paris, at_lyon
):
    vials = lot_at(paris, "10", supplier="Serum Labs", storage="room")
    syringes = lot_at(paris, "50", product=factories.make_product(kind="consumable"))
    created = client.post(
        "/api/transfers",
        json={
            "to_site_id": lyon.id,
            "lines": [
                {"lot_id": vials.id, "quantity": 4},
                {"lot_id": syringes.id, "quantity": 20},
            ],
        },
        headers=login_as(at_paris),
    )
    assert created.status_code == 201, created.get_json()
    transfer = created.get_json()
    assert (transfer["from_site_id"], transfer["to_site_id"]) == (paris.id, lyon.id)
    assert transfer["status"] == "draft"
    assert vials.quantity_on_hand == 10  # a draft moves nothing

    shipped = client.post(f"/api/transfers/{transfer['id']}/ship", headers=login_as(at_paris))
    assert shipped.status_code == 200, shipped.get_json()
    assert shipped.get_json()["status"] == "shipped"
    db.session.expire_all()
    assert (vials.quantity_on_hand, syringes.quantity_on_hand) == (6, 30)
    assert copy_at(lyon, vials) is None  # nothing usable anywhere while in transit
    out = db.session.scalars(select(Movement).where(Movement.kind == MovementKind.TRANSFER_OUT))
    assert sorted((m.lot_id, m.quantity) for m in out) == [(vials.id, -4), (syringes.id, -20)]

    received = client.post(
        f"/api/transfers/{transfer['id']}/receive",
        json={"lines": [{"lot_id": syringes.id, "received_quantity": 18, "reason": "2 crushed"}]},
        headers=login_as(at_lyon),
    )
    assert received.status_code == 200, received.get_json()
    body = received.get_json()
    assert body["status"] == "received"
    lines = {line["lot_id"]: line for line in body["lines"]}
    assert (lines[vials.id]["received_quantity"], lines[vials.id]["reason"]) == (4, None)
    assert (lines[syringes.id]["received_quantity"], lines[syringes.id]["reason"]) == (
        18,
        "2 crushed",
    )
    arrived = copy_at(lyon, vials)
    assert lines[vials.id]["received_lot_id"] == arrived.id
    assert (arrived.quantity_on_hand, arrived.status) == (4, LotStatus.AVAILABLE)
    assert (arrived.expiry_date, arrived.opened_at, arrived.supplier) == (
        vials.expiry_date,
        vials.opened_at,
        "Serum Labs",
    )
    assert copy_at(lyon, syringes).quantity_on_hand == 18
    incoming = db.session.scalars(select(Movement).where(Movement.kind == MovementKind.TRANSFER_IN))
    assert sorted(m.quantity for m in incoming) == [4, 18]
    assert ledger_mismatches() == [] and transfer_mismatches() == []
    writers = db.session.scalars(
        select(AuditEntry.username).where(AuditEntry.entity == "transfers")
    ).all()
    assert {at_paris.username, at_lyon.username} <= set(writers)


def test_an_opened_lot_arrives_opened_with_the_same_last_day_of_use(paris, lyon, at_paris, at_lyon):
    product = factories.make_product(kind="component", days_after_opening=28)
    lot = lot_at(paris, "5", product=product)
    lot.opened_at = NOW - timedelta(days=3)
    lot.effective_expiry = date(2025, 3, 25)
    db.session.commit()
    transfer = draft(at_paris, paris, lyon, (lot, "2"))
    ship_transfer(transfer.id, user=at_paris, now=NOW)
    receive_transfer(transfer.id, user=at_lyon, now=NOW + timedelta(hours=2))
    arrived = copy_at(lyon, lot)
    assert (arrived.opened_at, arrived.effective_expiry) == (lot.opened_at, date(2025, 3, 25))


def test_stock_joining_a_lot_of_the_same_number_keeps_its_earlier_opening(
    paris, lyon, at_paris, at_lyon
):
    product = factories.make_product(kind="component", days_after_opening=28)
    sent = lot_at(paris, "5", product=product)
    there = lot_at(lyon, "1", product=product, lot_number=sent.lot_number)
    there.opened_at = NOW - timedelta(days=20)
    db.session.commit()
    transfer = draft(at_paris, paris, lyon, (sent, "2"))
    ship_transfer(transfer.id, user=at_paris, now=NOW)
    receive_transfer(transfer.id, user=at_lyon, now=NOW + timedelta(hours=1))
    assert copy_at(lyon, sent).id == there.id
    assert there.quantity_on_hand == 3
    assert there.effective_expiry == date(2025, 3, 8)  # opened 9 Feb, 28 days


# --- what may travel, and who may move it ----------------------------------------------------


def test_only_usable_lots_travel_and_at_most_what_they_hold(
    client, login_as, paris, lyon, at_paris
):
    held = lot_at(paris, "3", quarantine=True)
    full = lot_at(paris, "3")
    headers = login_as(at_paris)
    for lines, field in (
        ([{"lot_id": held.id, "quantity": 1}], "lines.0.lot_id"),
        ([{"lot_id": full.id, "quantity": 4}], "lines.0.quantity"),
        ([{"lot_id": lot_at(lyon).id, "quantity": 1}], "lines.0.lot_id"),
        (
            [{"lot_id": full.id, "quantity": 1}, {"lot_id": full.id, "quantity": 1}],
            "lines.1.lot_id",
        ),
    ):
        refused = client.post(
            "/api/transfers", json={"to_site_id": lyon.id, "lines": lines}, headers=headers
        )
        assert refused.status_code == 422, refused.get_json()
        assert field in refused.get_json()["errors"], refused.get_json()
    same_site = client.post("/api/transfers", json={"to_site_id": paris.id}, headers=headers)
    assert same_site.status_code == 422 and "to_site_id" in same_site.get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 0


def test_someone_outside_a_site_is_refused_its_side_of_the_transfer_with_a_403(
    client, login_as, paris, lyon, at_paris, at_lyon
):
    lot = lot_at(paris)
    elsewhere = factories.make_site(code=factories.unique("NICE-"), name="Nice")
    stranger = factories.make_user(role="pharmacist", sites=[elsewhere])
    from_lyon = client.post(
        "/api/transfers",
        json={"from_site_id": paris.id, "to_site_id": lyon.id},
        headers=login_as(at_lyon),
    )
    assert from_lyon.status_code == 403
    transfer = draft(at_paris, paris, lyon, (lot, "1"))
    assert (
        client.get(f"/api/transfers/{transfer.id}", headers=login_as(stranger)).status_code == 403
    )
    # The destination reads it, but ships nothing from the source, and the source receives
    # nothing at the destination.
    assert client.get(f"/api/transfers/{transfer.id}", headers=login_as(at_lyon)).status_code == 200
    assert (
        client.post(f"/api/transfers/{transfer.id}/ship", headers=login_as(at_lyon)).status_code
        == 403
    )
    assert (
        client.post(f"/api/transfers/{transfer.id}/ship", headers=login_as(at_paris)).status_code
        == 200
    )
    assert (
        client.post(f"/api/transfers/{transfer.id}/receive", headers=login_as(at_paris)).status_code
        == 403
    )
    listed = client.get(f"/api/transfers?site_id={lyon.id}", headers=login_as(at_paris))
    assert listed.status_code == 403
    mine = client.get("/api/transfers?status=shipped", headers=login_as(at_lyon)).get_json()
    assert [t["id"] for t in mine] == [transfer.id]
    assert client.get("/api/transfers", headers=login_as(stranger)).get_json() == []  # fmt: skip


def test_a_short_receipt_needs_its_reason_and_never_more_than_was_sent(
    client, login_as, paris, lyon, at_paris, at_lyon
):
    lot = lot_at(paris, "5")
    transfer = draft(at_paris, paris, lyon, (lot, "3"))
    ship_transfer(transfer.id, user=at_paris, now=utcnow())
    db.session.commit()
    headers = login_as(at_lyon)
    for line, field in (
        ({"lot_id": lot.id, "received_quantity": 2}, "lines.0.reason"),
        (
            {"lot_id": lot.id, "received_quantity": 4, "reason": "extra"},
            "lines.0.received_quantity",
        ),
        ({"lot_id": lot_at(paris).id, "received_quantity": 1, "reason": "x"}, "lines.0.lot_id"),
    ):
        refused = client.post(
            f"/api/transfers/{transfer.id}/receive", json={"lines": [line]}, headers=headers
        )
        assert refused.status_code == 422 and field in refused.get_json()["errors"], (
            refused.get_json()
        )
    nothing = {"lot_id": lot.id, "received_quantity": 0, "reason": "lost by the courier"}
    lost = client.post(
        f"/api/transfers/{transfer.id}/receive", json={"lines": [nothing]}, headers=headers
    )
    assert lost.status_code == 200
    assert lost.get_json()["lines"][0]["received_lot_id"] is None
    assert copy_at(lyon, lot) is None
    assert transfer_mismatches() == []


def test_a_draft_is_cancelled_but_a_shipped_transfer_is_received(paris, lyon, at_paris, at_lyon):
    lot = lot_at(paris, "5")
    kept = draft(at_paris, paris, lyon, (lot, "1"))
    cancel_transfer(kept.id, user=at_lyon, reason="not needed", now=NOW)
    assert kept.status == TransferStatus.CANCELLED
    with pytest.raises(Conflict):
        ship_transfer(kept.id, user=at_paris, now=NOW)
    sent = draft(at_paris, paris, lyon, (lot, "1"))
    ship_transfer(sent.id, user=at_paris, now=NOW)
    with pytest.raises(Conflict, match="receive it"):
        cancel_transfer(sent.id, user=at_paris, reason=None, now=NOW)
    assert lot.quantity_on_hand == 4


def test_a_lot_that_stopped_being_usable_after_the_draft_ships_nothing(paris, lyon, at_paris):
    first, second = lot_at(paris, "5"), lot_at(paris, "5")
    transfer = draft(at_paris, paris, lyon, (first, "2"), (second, "2"))
    recall(second.id, "supplier recall", now=NOW)
    with pytest.raises(Conflict):
        ship_transfer(transfer.id, user=at_paris, now=NOW)
    db.session.rollback()
    db.session.expire_all()
    assert first.quantity_on_hand == 5  # the whole shipment is refused, not half of it
    assert db.session.get(Transfer, transfer.id).status == TransferStatus.DRAFT


# --- the cold chain and recalls in transit ---------------------------------------------------


@pytest.mark.parametrize(
    ("storage", "hours", "arrives"),
    [
        ("refrigerated", 9, LotStatus.QUARANTINE),
        ("refrigerated", 7, LotStatus.AVAILABLE),
        ("frozen", 9, LotStatus.QUARANTINE),
        ("room", 72, LotStatus.AVAILABLE),
    ],
)
def test_a_cold_lot_longer_in_transit_than_allowed_arrives_in_quarantine(
    app, paris, lyon, at_paris, at_lyon, storage, hours, arrives
):
    assert app.config["TRANSFER_COLD_CHAIN_HOURS"] == 8
    lot = lot_at(paris, "4", storage=storage)
    transfer = draft(at_paris, paris, lyon, (lot, "2"))
    ship_transfer(transfer.id, user=at_paris, now=NOW)
    receive_transfer(transfer.id, user=at_lyon, now=NOW + timedelta(hours=hours))
    arrived = copy_at(lyon, lot)
    assert arrived.status == arrives
    if arrives == LotStatus.QUARANTINE:
        assert f"{hours} hours in transit" in arrived.status_reason


def test_a_lot_recalled_while_in_transit_arrives_recalled(paris, lyon, at_paris, at_lyon):
    lot = lot_at(paris, "4")
    transfer = draft(at_paris, paris, lyon, (lot, "2"))
    ship_transfer(transfer.id, user=at_paris, now=NOW)
    recall(lot.id, "supplier recall", now=NOW + timedelta(hours=1))
    receive_transfer(transfer.id, user=at_lyon, now=NOW + timedelta(hours=2))
    arrived = copy_at(lyon, lot)
    assert (arrived.status, arrived.status_reason) == (LotStatus.RECALLED, "supplier recall")
    alert = db.session.scalar(select(Alert).where(Alert.lot_id == arrived.id))
    assert (alert.kind, alert.site_id) == (AlertKind.RECALL, lyon.id)


PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 80}


def test_recalling_a_lot_recalls_its_copy_and_traces_the_other_sites_sessions(
    paris, lyon, at_paris, at_lyon
):
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    lot = lot_at(paris, "6", product=product)
    transfer = draft(at_paris, paris, lyon, (lot, "3"))
    ship_transfer(transfer.id, user=at_paris, now=NOW)
    receive_transfer(transfer.id, user=at_lyon, now=NOW + timedelta(hours=1))
    copy = copy_at(lyon, lot)
    course = factories.make_course(serum=serum, start_date=date(2025, 3, 3), site_id=lyon.id)
    doctor = factories.make_user(role="doctor", sites=[lyon])
    complete_session(course.sessions[0], doctor, fields=dict(PROCEDURE),
                     now=datetime(2025, 3, 3, 10, tzinfo=UTC))  # fmt: skip
    assert course.sessions[0].lot_id == copy.id
    db.session.commit()

    recall(lot.id, "supplier recall", now=NOW + timedelta(days=3))
    assert (lot.status, copy.status) == (LotStatus.RECALLED, LotStatus.RECALLED)
    alerts = db.session.execute(
        select(Alert.lot_id, Alert.site_id).where(Alert.kind == AlertKind.RECALL)
    ).all()
    assert sorted(alerts) == sorted([(lot.id, paris.id), (copy.id, lyon.id)])
    trace = trace_to_patients(lot.id)
    assert [c.id for c in trace.copies] == [copy.id]
    assert [row.session_id for row in trace.sessions] == [course.sessions[0].id]
    assert trace_csv(trace).splitlines()[1].endswith(",Lyon")


def test_recalling_the_copy_recalls_the_lot_it_was_sent_from(paris, lyon, at_paris, at_lyon):
    lot = lot_at(paris, "6")
    transfer = draft(at_paris, paris, lyon, (lot, "3"))
    ship_transfer(transfer.id, user=at_paris, now=NOW)
    receive_transfer(transfer.id, user=at_lyon, now=NOW)
    recall(copy_at(lyon, lot).id, "leaking vials", now=NOW)
    assert lot.status == LotStatus.RECALLED


def test_the_trace_page_names_the_copies_and_their_site(client, sign_in_page, paris, lyon, at_lyon):
    at_both = factories.make_user(role="pharmacist", sites=[paris, lyon])
    lot = lot_at(paris, "6")
    transfer = draft(at_both, paris, lyon, (lot, "3"))
    ship_transfer(transfer.id, user=at_both, now=NOW)
    receive_transfer(transfer.id, user=at_lyon, now=NOW)
    db.session.commit()
    sign_in_page(at_both)
    page = client.get(f"/stock/lots/{lot.id}/trace").get_data(as_text=True)
    assert "Sent to other sites" in page and "Lyon" in page


# --- the ledger holds: sums over sites, verify, races -----------------------------------------


def chain_stock(product_ids) -> Decimal:
    total = db.session.scalar(
        select(func.sum(Lot.quantity_on_hand)).where(Lot.product_id.in_(product_ids))
    )
    return total or Decimal(0)


def short_recorded() -> Decimal:
    received = db.session.scalars(
        select(TransferLine).where(TransferLine.received_quantity.is_not(None))
    )
    return sum((line.quantity - line.received_quantity for line in received), Decimal(0))


MOVES = st.lists(
    st.tuples(
        st.integers(0, 2),  # from this site
        st.integers(1, 2),  # to the one this many further round
        st.integers(0, 3),  # of this lot there
        st.integers(1, 6),  # this many units
        st.sampled_from(["draft", "cancel", "ship", "receive", "short"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=MOVES)
def test_transfers_never_create_or_lose_stock_over_the_sites(paris, moves):
    sites = [paris, factories.make_site(), factories.make_site()]
    user = factories.make_user(role="pharmacist", sites=sites)
    product = factories.make_product(kind="consumable")
    for site in sites:
        for _ in range(2):
            lot_at(site, "5", product=product)
    before = chain_stock([product.id])
    short_before, transit_before = short_recorded(), in_transit()
    for source, further, pick, units, outcome in moves:
        destination = sites[(source + further) % 3]
        lots = db.session.scalars(
            select(Lot).where(Lot.site_id == sites[source].id, Lot.product_id == product.id)
            .order_by(Lot.id)
        ).all()  # fmt: skip
        lot = lots[pick % len(lots)]
        try:
            transfer = draft(user, sites[source], destination, (lot, units))
        except Invalid:
            db.session.rollback()
            continue
        if outcome == "cancel":
            cancel_transfer(transfer.id, user=user, reason=None, now=NOW)
        if outcome in ("ship", "receive", "short"):
            ship_transfer(transfer.id, user=user, now=NOW)
        if outcome == "receive":
            receive_transfer(transfer.id, user=user, now=NOW)
        if outcome == "short":
            short = [
                {"lot_id": lot.id, "received_quantity": Decimal(units - 1), "reason": "broken"}
            ]
            receive_transfer(transfer.id, user=user, now=NOW, receipts=short)
        db.session.commit()
    moved = in_transit() - transit_before
    lost = short_recorded() - short_before
    assert chain_stock([product.id]) + moved + lost == before
    assert ledger_mismatches() == [] and transfer_mismatches() == []


def test_verify_finds_a_transfer_line_its_movements_disagree_with(
    app, paris, lyon, at_paris, at_lyon
):
    lot = lot_at(paris, "6")
    transfer = draft(at_paris, paris, lyon, (lot, "3"))
    ship_transfer(transfer.id, user=at_paris, now=NOW)
    receive_transfer(transfer.id, user=at_lyon, now=NOW)
    db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["inventory", "verify"]).exit_code == 0
    line = transfer.lines[0]
    db.session.execute(
        update(TransferLine).where(TransferLine.id == line.id).values(received_quantity=Decimal(2))
    )
    db.session.execute(
        insert(Movement).values(
            lot_id=lot.id, kind=MovementKind.TRANSFER_OUT, quantity=Decimal(-1), created_at=NOW
        )
    )
    db.session.execute(
        update(Lot).where(Lot.id == lot.id).values(quantity_on_hand=Lot.quantity_on_hand - 1)
    )
    db.session.commit()
    result = runner.invoke(args=["inventory", "verify"])
    assert result.exit_code != 0
    assert f"transfer {transfer.id}" in result.output
    assert "on no transfer" in result.output


PARALLEL_SHIPMENTS = 10


@pytest.mark.server
def test_concurrent_shipments_of_one_lot_never_ship_more_than_it_holds(live_app, live_server):
    with live_app.app_context():
        paris = factories.clinic_site()
        lyon = factories.make_site(code="LYON", name="Lyon")
        user = factories.make_user(role="pharmacist", sites=[paris], username="shipper",
                                   password="a long test password")  # fmt: skip
        lot = factories.make_lot(quantity="10", expiry_date=LATER, site_id=paris.id,
                                 now=utcnow() - timedelta(days=1))  # fmt: skip
        ids = [
            draft(user, paris, lyon, (lot, "3"), now=utcnow()).id for _ in range(PARALLEL_SHIPMENTS)
        ]
        lot_id = lot.id
    token = live_server.token("shipper", "a long test password")

    def ship(transfer_id):
        return live_server.request("POST", f"/api/transfers/{transfer_id}/ship", {}, token=token)

    with ThreadPoolExecutor(max_workers=PARALLEL_SHIPMENTS) as pool:
        statuses = sorted(status for status, _ in pool.map(ship, ids))
    assert statuses == [200] * 3 + [409] * (PARALLEL_SHIPMENTS - 3)
    with live_app.app_context():
        assert db.session.get(Lot, lot_id).quantity_on_hand == 1
        shipped = select(func.count()).where(Transfer.status == TransferStatus.SHIPPED)
        assert db.session.scalar(shipped) == 3
        assert ledger_mismatches() == [] and transfer_mismatches() == []
