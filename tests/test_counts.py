"""Stock counts (issue 16): a blind count sheet of a site's lots, what the shelf holds entered
by lot or by barcode, its submission against the ledger at that moment, a second pharmacist's
approval beyond the thresholds, one `adjust` movement per variance, never two."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.accounts import create_user
from core.audit import AuditEntry
from core.clock import clinic_today, utcnow
from core.database import db
from inventory.counts import CountLine, CountStatus, StockCount, Thresholds, beyond_threshold
from inventory.lots import Expiry, receive
from inventory.models import Lot, Movement, MovementKind
from inventory.products import create_product
from tests import factories

LATER = date(2099, 12, 31)
GTIN = "09501101530003"


def barcode(lot: Lot, gtin: str = GTIN) -> str:
    return f"01{gtin}17{lot.expiry_date.strftime('%y%m%d')}10{lot.lot_number}"


@pytest.fixture
def shelf():
    """A fridge shelf of the clinic's site: two lots of a product with a GTIN, and a lot kept
    at room temperature."""
    vial = factories.make_product(kind="consumable", name="Hyaluronic vial", gtin=GTIN,
                                  storage="refrigerated")  # fmt: skip
    swab = factories.make_product(kind="consumable", name="Swab")
    return {
        "vial": vial,
        "first": factories.make_lot(vial, quantity="10", lot_number="HA-1", expiry_date=LATER),
        "second": factories.make_lot(vial, quantity="4", lot_number="HA-2", expiry_date=LATER),
        "swab": factories.make_lot(swab, quantity="50", lot_number="SW-1", expiry_date=LATER),
    }


@pytest.fixture
def pharmacist():
    return factories.make_user(role="pharmacist")


@pytest.fixture
def second_pharmacist():
    return factories.make_user(role="pharmacist")


def start(client, headers, **body) -> dict:
    answer = client.post("/api/counts", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def enter(client, headers, count_id, *entries, status=200) -> dict:
    answer = client.post(f"/api/counts/{count_id}/lines", json=list(entries), headers=headers)
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def act(client, headers, count_id, step, status=200) -> dict:
    answer = client.post(f"/api/counts/{count_id}/{step}", headers=headers)
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def line_of(count: dict, lot: Lot) -> dict:
    [line] = [line for line in count["lines"] if line["lot_id"] == lot.id]
    return line


def has(line: dict, **expected) -> bool:
    return {name: line[name] for name in expected} == expected


def on_hand(lot: Lot) -> Decimal:
    db.session.expire_all()
    return db.session.get(Lot, lot.id).quantity_on_hand


def adjustments(lot: Lot) -> list[Movement]:
    return db.session.scalars(
        select(Movement).where(Movement.lot_id == lot.id, Movement.kind == MovementKind.ADJUST)
    ).all()


# --- the sheet ---------------------------------------------------------------------------------


def test_the_sheet_lists_the_site_s_lots_with_stock_and_never_what_they_hold_while_open(
    client, login_as, shelf, pharmacist
):
    emptied = factories.make_lot(shelf["vial"], quantity="1", lot_number="HA-0")
    client.post(f"/api/lots/{emptied.id}/dispose", json={"reason": "broken"},
                headers=login_as(pharmacist))  # fmt: skip
    headers = login_as(pharmacist)
    count = start(client, headers, storage="refrigerated")
    assert count["status"] == "open" and count["reference"] == f"COUNT-{count['id']:05d}"
    assert [line["lot_number"] for line in count["lines"]] == ["HA-1", "HA-2"]
    read = client.get(f"/api/counts/{count['id']}", headers=headers).get_json()
    for line in read["lines"]:
        assert (line["counted"], line["expected"], line["variance"]) == (None, None, None)
        assert "quantity_on_hand" not in line
    assert "10" not in str([line.values() for line in read["lines"]])


def test_a_sheet_of_some_products_lists_only_their_lots(client, login_as, shelf, pharmacist):
    count = start(client, login_as(pharmacist), product_ids=[shelf["swab"].product_id])
    assert [line["lot_number"] for line in count["lines"]] == ["SW-1"]


# --- counting, submitting, approving ------------------------------------------------------------


def test_a_blind_count_accounts_for_a_movement_during_it(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="refrigerated")
    first, second = shelf["first"], shelf["second"]
    # The count has begun when 3 of HA-1 go to a patient: the ledger now says 7.
    taken = client.post(f"/api/lots/{first.id}/adjust", json={"quantity": -3, "reason": "used"},
                        headers=headers)  # fmt: skip
    assert taken.status_code == 200
    # The fridge holds 6 of HA-1 (one is missing) and the 4 of HA-2.
    enter(client, headers, count["id"], {"barcode": barcode(first), "counted": 6},
          {"lot_id": second.id, "counted": 4})  # fmt: skip
    submitted = act(client, headers, count["id"], "submit")
    assert submitted["status"] == "submitted"
    # Against the 10 of the start, 4 would be missing: against the ledger at submission, 1.
    assert has(line_of(submitted, first), counted=6, expected=7, variance=-1)
    assert has(line_of(submitted, second), counted=4, expected=4, variance=0)
    approved = act(client, headers, count["id"], "approve")
    assert approved["status"] == "approved" and approved["approved_by"] == pharmacist.username
    assert on_hand(first) == 6 and on_hand(second) == 4
    [adjusted] = [m for m in adjustments(first) if count["reference"] in m.reason]
    assert adjusted.quantity == -1 and adjusted.user_id == pharmacist.id
    assert adjusted.reason == (f"Stock count {count['reference']}: counted 6, the ledger held 7.")
    assert adjustments(second) == []


def test_a_movement_between_submission_and_approval_is_kept_and_the_variance_applied_once(
    client, login_as, shelf, pharmacist
):
    headers = login_as(pharmacist)
    count = start(client, headers, product_ids=[shelf["vial"].id])
    enter(client, headers, count["id"], {"lot_id": shelf["first"].id, "counted": 8},
          {"lot_id": shelf["second"].id, "counted": 4})  # fmt: skip
    act(client, headers, count["id"], "submit")
    client.post(f"/api/lots/{shelf['first'].id}/adjust", json={"quantity": -3, "reason": "used"},
                headers=headers)  # fmt: skip
    act(client, headers, count["id"], "approve")
    # 10 in the ledger, 8 on the shelf at submission, 3 used since: 5 left.
    assert on_hand(shelf["first"]) == 5


def test_a_lot_missing_from_the_shelf_is_counted_zero_not_skipped(
    client, login_as, shelf, pharmacist
):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="refrigerated")
    enter(client, headers, count["id"], {"lot_id": shelf["first"].id, "counted": 10})
    submitted = act(client, headers, count["id"], "submit")
    missing = line_of(submitted, shelf["second"])
    assert has(missing, counted=0, expected=4, variance=-4, entered=False)
    act(client, headers, count["id"], "approve", status=409)  # beyond the threshold of 2
    approved = act(client, login_as(factories.make_user(role="pharmacist")), count["id"],
                   "approve")  # fmt: skip
    assert approved["status"] == "approved"
    assert on_hand(shelf["second"]) == 0 and on_hand(shelf["first"]) == 10


def test_a_lot_of_the_site_the_sheet_did_not_expect_joins_it(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    # HA-3 was used up: no stock, so not on the sheet, yet two boxes turn up in the fridge.
    forgotten = factories.make_lot(shelf["vial"], quantity="2", lot_number="HA-3",
                                   expiry_date=LATER)  # fmt: skip
    client.post(f"/api/lots/{forgotten.id}/adjust", json={"quantity": -2, "reason": "used"},
                headers=headers)  # fmt: skip
    count = start(client, headers, storage="refrigerated")
    assert forgotten.id not in {line["lot_id"] for line in count["lines"]}
    entered = enter(client, headers, count["id"], {"barcode": barcode(forgotten), "counted": 2})
    assert has(line_of(entered, forgotten), added=True, counted=2, expected=None)
    submitted = act(client, headers, count["id"], "submit")
    assert has(line_of(submitted, forgotten), expected=0, variance=2)


def test_an_entry_again_replaces_the_earlier_one(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="refrigerated")
    enter(client, headers, count["id"], {"lot_id": shelf["first"].id, "counted": 3})
    again = enter(client, headers, count["id"], {"lot_id": shelf["first"].id, "counted": 10})
    assert line_of(again, shelf["first"])["counted"] == 10
    assert len(again["lines"]) == 2


# --- the second approval -----------------------------------------------------------------------


def test_a_variance_beyond_the_threshold_needs_a_second_pharmacist(
    client, login_as, shelf, pharmacist, second_pharmacist
):
    headers = login_as(pharmacist)
    count = start(client, headers, product_ids=[shelf["vial"].id])
    enter(client, headers, count["id"], {"lot_id": shelf["first"].id, "counted": 7},
          {"lot_id": shelf["second"].id, "counted": 4})  # fmt: skip
    submitted = act(client, headers, count["id"], "submit")
    assert submitted["needs_second_approval"] is True  # 3 missing, more than 2
    refused = act(client, headers, count["id"], "approve", status=409)
    assert "second pharmacist" in refused["message"]
    assert on_hand(shelf["first"]) == 10
    approved = act(client, login_as(second_pharmacist), count["id"], "approve")
    assert (approved["submitted_by"], approved["approved_by"]) == (
        pharmacist.username,
        second_pharmacist.username,
    )
    assert on_hand(shelf["first"]) == 7


def test_a_variance_within_the_threshold_is_approved_by_the_one_who_submitted_it(
    client, login_as, shelf, pharmacist
):
    headers = login_as(pharmacist)
    count = start(client, headers, product_ids=[shelf["vial"].id])
    enter(client, headers, count["id"], {"lot_id": shelf["first"].id, "counted": 8},
          {"lot_id": shelf["second"].id, "counted": 4})  # fmt: skip
    assert act(client, headers, count["id"], "submit")["needs_second_approval"] is False
    assert act(client, headers, count["id"], "approve")["status"] == "approved"
    assert on_hand(shelf["first"]) == 8


def test_the_threshold_is_the_clinic_s(app, client, login_as, shelf, pharmacist, monkeypatch):
    monkeypatch.setitem(app.config, "COUNT_APPROVAL_QUANTITY", Decimal(0))
    headers = login_as(pharmacist)
    count = start(client, headers, product_ids=[shelf["vial"].id])
    enter(client, headers, count["id"], {"lot_id": shelf["first"].id, "counted": 9.5},
          {"lot_id": shelf["second"].id, "counted": 4})  # fmt: skip
    assert act(client, headers, count["id"], "submit")["needs_second_approval"] is True


def test_a_variance_worth_more_than_the_value_threshold_needs_a_second_pharmacist(shelf):
    # Products carry no unit cost yet (purchasing adds it, as `unit_cost`): given one, a
    # variance within the quantity threshold can still be worth too much.
    line = CountLine(lot=shelf["first"], variance=Decimal(-2))
    thresholds = Thresholds(quantity=Decimal(2), value=Decimal(100))
    assert not beyond_threshold(line, thresholds)
    shelf["vial"].unit_cost = Decimal("60.00")
    assert beyond_threshold(line, thresholds)
    shelf["vial"].unit_cost = Decimal("40.00")
    assert not beyond_threshold(line, thresholds)


# --- the steps, once each -------------------------------------------------------------------------


def test_a_step_out_of_turn_is_a_conflict_that_changes_nothing(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="room")
    act(client, headers, count["id"], "approve", status=409)
    enter(client, headers, count["id"], {"lot_id": shelf["swab"].id, "counted": 49})
    act(client, headers, count["id"], "submit")
    assert "submitted" in act(client, headers, count["id"], "submit", status=409)["message"]
    enter(client, headers, count["id"], {"lot_id": shelf["swab"].id, "counted": 1}, status=409)
    act(client, headers, count["id"], "approve")
    act(client, headers, count["id"], "approve", status=409)
    act(client, headers, count["id"], "cancel", status=409)
    assert on_hand(shelf["swab"]) == 49 and len(adjustments(shelf["swab"])) == 1


def test_a_cancelled_count_adjusts_nothing(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="room")
    enter(client, headers, count["id"], {"lot_id": shelf["swab"].id, "counted": 1})
    act(client, headers, count["id"], "submit")
    cancelled = act(client, headers, count["id"], "cancel")
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == pharmacist.username
    act(client, headers, count["id"], "approve", status=409)
    assert on_hand(shelf["swab"]) == 50 and adjustments(shelf["swab"]) == []


def test_every_write_of_a_count_is_in_the_audit_log(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="room")
    enter(client, headers, count["id"], {"lot_id": shelf["swab"].id, "counted": 49})
    act(client, headers, count["id"], "submit")
    act(client, headers, count["id"], "approve")
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity.in_(["counts", "count_lines"]))
    ).all()
    assert {entry.username for entry in entries} == {pharmacist.username}
    steps = [(entry.action, entry.changes["status"]) for entry in entries
             if entry.entity == "counts" and "status" in entry.changes]  # fmt: skip
    assert steps == [
        ("create", "open"),
        ("update", {"old": "open", "new": "submitted"}),
        ("update", {"old": "submitted", "new": "approved"}),
    ]
    assert any("counted" in e.changes for e in entries if e.entity == "count_lines")


def test_the_count_list_is_by_site_and_status_newest_first(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    older = start(client, headers, storage="room")
    newer = start(client, headers, storage="refrigerated")
    act(client, headers, older["id"], "submit")
    listed = client.get("/api/counts", headers=headers)
    assert [c["id"] for c in listed.get_json()] == [newer["id"], older["id"]]
    assert "X-Pagination" in listed.headers and "lines" not in listed.get_json()[0]
    submitted = client.get("/api/counts", query_string={"status": "submitted"}, headers=headers)
    assert [c["id"] for c in submitted.get_json()] == [older["id"]]


# --- sites and bad input ----------------------------------------------------------------------


def test_a_count_of_another_site_is_refused_with_a_403(client, login_as, shelf):
    lyon = factories.make_site(name="Lyon")
    there = factories.make_user(role="pharmacist", sites=[lyon])
    here = login_as(factories.make_user(role="pharmacist"))
    count = start(client, here, storage="room")
    for call in (
        client.get(f"/api/counts/{count['id']}", headers=login_as(there)),
        client.post(f"/api/counts/{count['id']}/submit", headers=login_as(there)),
        client.post("/api/counts", json={"site_id": factories.clinic_site().id},
                    headers=login_as(there)),
        client.get("/api/counts", query_string={"site_id": factories.clinic_site().id},
                   headers=login_as(there)),
    ):  # fmt: skip
        assert call.status_code == 403, call.get_json()
    assert client.get("/api/counts", headers=login_as(there)).get_json() == []


def test_a_lot_of_another_site_is_refused_by_its_entry(client, login_as, shelf, pharmacist):
    lyon = factories.make_site(name="Lyon")
    elsewhere = factories.make_lot(shelf["vial"], quantity="3", lot_number="HA-LY",
                                   site_id=lyon.id)  # fmt: skip
    headers = login_as(pharmacist)
    count = start(client, headers, storage="refrigerated")
    for entry, field in (({"lot_id": elsewhere.id}, "1.lot_id"),
                         ({"barcode": barcode(elsewhere)}, "1.barcode")):  # fmt: skip
        refused = enter(client, headers, count["id"],
                        {"lot_id": shelf["first"].id, "counted": 1}, {**entry, "counted": 3},
                        status=422)  # fmt: skip
        assert list(refused["errors"]) == [field]
        assert "HA-LY is at Lyon" in refused["errors"][field][0]
    lines = db.session.scalars(select(CountLine).where(CountLine.count_id == count["id"])).all()
    assert all(line.counted is None for line in lines)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"storage": "attic"}, "storage"),
        ({"product_ids": [999999]}, "product_ids"),
        ({"product_ids": "all"}, "product_ids"),
        ({"site_id": 0}, "site_id"),
    ],
)
def test_a_bad_sheet_is_a_422_naming_the_field(client, login_as, body, field):
    answer = client.post("/api/counts", json=body, headers=login_as("pharmacist"))
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(StockCount)) == 0


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"lot_id": "first", "counted": -1}, "0.counted"),
        ({"lot_id": "first", "counted": "many"}, "0.counted"),
        ({"lot_id": "first", "counted": 0.0000001}, "0.counted"),
        ({"lot_id": "first"}, "0.counted"),
        ({"counted": 1}, "0.lot_id"),
        ({"lot_id": "first", "barcode": "first", "counted": 1}, "0.barcode"),
        ({"barcode": "not a barcode", "counted": 1}, "0.barcode"),
        ({"barcode": f"01{GTIN}10NO-SUCH-LOT", "counted": 1}, "0.barcode"),
        ({"lot_id": 999999, "counted": 1}, "0.lot_id"),
    ],
)
def test_a_bad_entry_is_a_422_naming_its_field(client, login_as, shelf, pharmacist, entry, field):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="refrigerated")
    entry = {
        name: (shelf["first"].id if value == "first" and name == "lot_id" else
               barcode(shelf["first"]) if value == "first" else value)
        for name, value in entry.items()
    }  # fmt: skip
    refused = enter(client, headers, count["id"], entry, status=422)
    assert field in refused["errors"], refused


def test_an_entry_list_that_is_not_a_list_is_a_422(client, login_as, shelf, pharmacist):
    headers = login_as(pharmacist)
    count = start(client, headers, storage="refrigerated")
    answer = client.post(f"/api/counts/{count['id']}/lines", json={"counted": 1}, headers=headers)
    assert answer.status_code == 422


# --- concurrent approvals ---------------------------------------------------------------------

PARALLEL_APPROVALS = 10


@pytest.mark.server
def test_parallel_approvals_of_one_count_adjust_it_once(live_app, live_server):
    password = "a long test password"
    with live_app.app_context():
        counter = create_user("counting-pharmacist", "pharmacist", password=password)
        product = create_product(kind="consumable", name="Counted vial", unit="vial")
        lot = receive(product_id=product.id, lot_number="RACE-COUNT",
                      expiry=Expiry(clinic_today() + timedelta(days=365)),
                      quantity=Decimal(10), user_id=counter.id, now=utcnow()).lot  # fmt: skip
        db.session.commit()
        lot_id = lot.id
    token = live_server.token("counting-pharmacist", password)
    status, count = live_server.request("POST", "/api/counts", {}, token=token)
    assert status == 201, count
    path = f"/api/counts/{count['id']}"
    status, _ = live_server.request(
        "POST", f"{path}/lines", [{"lot_id": lot_id, "counted": 9}], token=token
    )
    assert status == 200
    assert live_server.request("POST", f"{path}/submit", token=token)[0] == 200

    def approve(_):
        return live_server.request("POST", f"{path}/approve", token=token)

    with ThreadPoolExecutor(max_workers=PARALLEL_APPROVALS) as pool:
        answers = list(pool.map(approve, range(PARALLEL_APPROVALS)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * (PARALLEL_APPROVALS - 1), answers
    with live_app.app_context():
        assert db.session.get(Lot, lot_id).quantity_on_hand == 9
        adjusted = select(func.count()).where(
            Movement.lot_id == lot_id, Movement.kind == MovementKind.ADJUST
        )
        assert db.session.scalar(adjusted) == 1
        assert db.session.get(StockCount, count["id"]).status == CountStatus.APPROVED


# --- the pages --------------------------------------------------------------------------------


def test_the_count_screen_never_shows_what_the_records_hold_while_open(client, sign_in_page, shelf):
    sign_in_page("pharmacist")
    started = client.post("/stock/counts", data={"storage": "refrigerated"})
    assert started.status_code == 302
    page = client.get(started.location).get_data(as_text=True)
    assert "HA-1" in page and "HA-2" in page and "SW-1" not in page
    assert "autofocus" in page and 'name="barcode"' in page
    assert ">10<" not in page and "10 vial" not in page and "Records" not in page


def test_a_box_scanned_on_the_page_asks_how_many_then_records_it(client, sign_in_page, shelf):
    sign_in_page("pharmacist")
    url = client.post("/stock/counts", data={"storage": "refrigerated"}).location
    count_id = int(url.rsplit("/", 1)[-1])
    asked = client.post(f"{url}/lines", data={"barcode": barcode(shelf["first"])})
    assert asked.status_code == 200
    assert "Lot HA-1 of Hyaluronic vial: how many vial are on the shelf?" in asked.get_data(
        as_text=True
    )
    recorded = client.post(f"{url}/lines", data={"barcode": barcode(shelf["first"]),
                                                 "counted": "9"})  # fmt: skip
    assert recorded.status_code == 302
    line = db.session.scalar(
        select(CountLine).where(
            CountLine.count_id == count_id, CountLine.lot_id == shelf["first"].id
        )
    )
    assert line.counted == 9


def test_a_bad_entry_on_the_page_is_told_next_to_its_field(client, sign_in_page, shelf):
    sign_in_page("pharmacist")
    url = client.post("/stock/counts", data={"storage": "refrigerated"}).location
    refused = client.post(f"{url}/lines", data={"barcode": "nonsense", "counted": "1"})
    assert refused.status_code == 422
    assert 'id="barcode-error"' in refused.get_data(as_text=True)
    negative = client.post(f"{url}/lines", data={"lot_id": shelf["first"].id, "counted": "-1"})
    assert negative.status_code == 422
    assert f'id="counted-{shelf["first"].id}-error"' in negative.get_data(as_text=True)


def test_the_page_asks_before_submitting_and_a_second_pharmacist_approves(
    client, sign_in_page, shelf
):
    submitter = sign_in_page("pharmacist")
    url = client.post("/stock/counts", data={"storage": "refrigerated"}).location
    client.post(f"{url}/lines", data={"lot_id": shelf["first"].id, "counted": "5"})
    asked = client.post(f"{url}/submit")
    assert asked.status_code == 200 and "1 lot not counted will be counted as 0" in asked.get_data(
        as_text=True
    )
    assert client.post(f"{url}/submit", data={"confirmed": "yes"}).status_code == 302
    view = client.get(url).get_data(as_text=True)
    assert 'id="second-pharmacist-needed"' in view and 'id="approve-form"' not in view
    assert on_hand(shelf["first"]) == 10
    refused = client.post(f"{url}/approve", data={"confirmed": "yes"})
    assert refused.status_code == 409 and on_hand(shelf["first"]) == 10
    client.post("/logout")
    second = sign_in_page("pharmacist")
    assert second.id != submitter.id
    view = client.get(url).get_data(as_text=True)
    assert 'id="approve-form"' in view and "beyond the threshold" in view
    assert client.post(f"{url}/approve").status_code == 200  # asked first
    assert client.post(f"{url}/approve", data={"confirmed": "yes"}).status_code == 302
    assert on_hand(shelf["first"]) == 5 and on_hand(shelf["second"]) == 0


def test_the_count_page_of_another_site_is_refused(client, sign_in_page, login_as, shelf):
    count = start(client, login_as("pharmacist"), storage="room")
    sign_in_page(factories.make_user(role="pharmacist", sites=[factories.make_site()]))
    assert client.get(f"/stock/counts/{count['id']}").status_code == 403
    assert client.post(f"/stock/counts/{count['id']}/submit",
                       data={"confirmed": "yes"}).status_code == 403  # fmt: skip
