"""A lot's page does everything the API does to a lot: release from quarantine, record the
opening (back-dated, never in the future), correct the count (up or down, with a reason),
dispose of some or all of it (with a reason), recall it. Disposing and recalling ask first,
without script too. Each form shows all its errors at once next to its fields and changes
nothing; after each step the page says what is now on hand. Administrators read the page
without its forms. The board lists the lots waiting for release and the recalled boxes."""

import html as html_lib
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from core.database import db
from inventory import lots
from inventory.alerts import Alert, AlertKind
from inventory.models import Lot, LotStatus, Movement, MovementKind
from tests import factories

NOW = datetime(2030, 3, 1, 10, 0, tzinfo=UTC)
FAR = date(2099, 12, 31)
YES = {"confirmed": "yes"}


def html(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def pharmacist(sign_in_page):
    return sign_in_page("pharmacist")


@pytest.fixture
def product():
    return factories.make_product(
        kind="serum", name="Biotin serum 5 mL", unit="vial", days_after_opening=28
    )


@pytest.fixture
def lot(product):
    return factories.make_lot(product, lot_number="BIO-7", quantity="10", expiry_date=FAR)


def stored(lot_id: int) -> Lot:
    db.session.expire_all()
    return db.session.get(Lot, lot_id)


def movements(lot_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Movement).where(Movement.lot_id == lot_id)
    )


def flash_after(client, response) -> str:
    assert response.status_code == 302, html(response)[:600]
    page = html(client.get(response.headers["Location"]))
    return re.findall(r'<p class="flash flash-\w+" role="\w+">([^<]*)</p>', page)[-1]


def field_error(page: str, field_id: str) -> str:
    return re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', page)[1]


# --- which steps the page offers --------------------------------------------------------------


def forms_of(page: str) -> list[str]:
    return re.findall(r'<form method="post" action="/stock/lots/\d+/(\w+)"', page)


def test_the_page_offers_only_the_steps_the_lot_can_still_take(client, pharmacist, product):
    held = factories.make_lot(product, lot_number="Q-1", expiry_date=FAR, quarantine=True)
    fresh = factories.make_lot(product, lot_number="A-1", expiry_date=FAR)
    gone = factories.make_lot(product, lot_number="D-1", expiry_date=FAR)
    lots.dispose(gone.id, reason="broken", user_id=None, now=NOW)
    recalled = factories.make_lot(product, lot_number="R-1", expiry_date=FAR)
    lots.recall(recalled.id, reason="supplier", now=NOW)
    db.session.commit()

    def offered(lot):
        return forms_of(html(client.get(f"/stock/lots/{lot.id}")))

    assert offered(held) == ["release", "adjust", "dispose", "recall"]
    assert offered(fresh) == ["open", "adjust", "dispose", "quarantine", "recall"]
    assert offered(gone) == ["recall"]
    assert offered(recalled) == ["adjust", "dispose"]


def test_recall_and_dispose_ask_in_a_dialog_before_they_are_sent(client, pharmacist, lot):
    page = html(client.get(f"/stock/lots/{lot.id}"))
    assert re.search(r'action="/stock/lots/\d+/dispose" novalidate\s+data-confirm="Dispose of '
                     r'stock of lot BIO-7\? This cannot be undone\."', page)  # fmt: skip
    assert re.search(r'action="/stock/lots/\d+/recall" novalidate\s+data-confirm="Recall lot '
                     r'BIO-7\? It can never be used again\."', page)  # fmt: skip
    assert '<script src="/static/confirm.js" defer></script>' in page


def test_the_lot_page_writes_its_dates_as_people_read_them(client, pharmacist, product):
    lot = factories.make_lot(product, lot_number="D-9", expiry_date=date(2031, 7, 31))
    page = html(client.get(f"/stock/lots/{lot.id}"))
    assert "<dt>Last day of use</dt><dd>31 Jul 2031" in page
    assert "<dt>Received</dt><dd>1 Jan 2025, 09:00" in page
    assert ">1 Jan 2025, 09:00</time></td><td>receive</td>" in page
    assert "Now 10 vial on hand, usable today." in page


# --- release ----------------------------------------------------------------------------------


def test_releasing_a_quarantined_lot_makes_it_stock(client, pharmacist, product):
    held = factories.make_lot(product, lot_number="Q-2", expiry_date=FAR, quarantine=True)
    assert "Now 10 vial on hand, in quarantine until released." in html(
        client.get(f"/stock/lots/{held.id}")
    )
    response = client.post(f"/stock/lots/{held.id}/release")
    assert flash_after(client, response) == (
        "Released lot Q-2 of Biotin serum 5 mL from quarantine. Now 10 vial on hand, usable today."
    )
    assert stored(held.id).status == LotStatus.AVAILABLE


def test_releasing_a_lot_that_is_not_quarantined_is_refused_and_changes_nothing(
    client, pharmacist, lot
):
    response = client.post(f"/stock/lots/{lot.id}/release")
    assert response.status_code == 409
    assert "Lot BIO-7 is available: only a quarantined lot can be released." in html(response)
    assert stored(lot.id).status == LotStatus.AVAILABLE


# --- open -------------------------------------------------------------------------------------


def test_the_opening_defaults_to_now_and_starts_the_opened_life(client, pharmacist, lot):
    page = html(client.get(f"/stock/lots/{lot.id}"))
    assert 'value="2030-03-01T10:00"' in page and 'max="2030-03-01T10:00"' in page
    response = client.post(f"/stock/lots/{lot.id}/open", data={"open-opened_at": ""})
    assert flash_after(client, response) == (
        "Opened lot BIO-7 of Biotin serum 5 mL on 1 Mar 2030, 10:00: last day of use "
        "28 Mar 2030. Now 10 vial on hand, usable today."
    )
    opened = stored(lot.id)
    assert opened.opened_at == NOW and opened.effective_expiry == date(2030, 3, 28)


def test_an_opening_can_be_back_dated(client, pharmacist, lot):
    response = client.post(
        f"/stock/lots/{lot.id}/open", data={"open-opened_at": "2030-02-10T08:30"}
    )
    assert "on 10 Feb 2030, 08:30: last day of use 9 Mar 2030." in flash_after(client, response)
    assert stored(lot.id).opened_at == datetime(2030, 2, 10, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("2030-03-01T10:01", "A vial cannot be opened in the future."),
        ("2024-12-31T23:00", "Before the lot was received (1 Jan 2025, 09:00)."),
        ("yesterday", "Not a valid datetime value."),
    ],
)
def test_an_opening_in_the_future_before_the_receipt_or_unreadable_is_refused_next_to_its_field(
    client, pharmacist, lot, typed, message
):
    response = client.post(f"/stock/lots/{lot.id}/open", data={"open-opened_at": typed})
    assert response.status_code == 422
    assert field_error(html(response), "open-opened_at") == message
    assert stored(lot.id).opened_at is None


def test_opening_again_changes_nothing_and_says_so(client, pharmacist, lot):
    lots.open_lot(lot.id, now=NOW, opened_at=datetime(2030, 2, 1, 9, 0, tzinfo=UTC))
    db.session.commit()
    assert "open" not in forms_of(html(client.get(f"/stock/lots/{lot.id}")))
    response = client.post(f"/stock/lots/{lot.id}/open", data={"open-opened_at": ""})
    assert flash_after(client, response) == (
        "Lot BIO-7 of Biotin serum 5 mL was already opened on 1 Feb 2030, 09:00: nothing changed."
    )
    assert stored(lot.id).opened_at == datetime(2030, 2, 1, 9, 0, tzinfo=UTC)


# --- adjust -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "change", "left"), [("2", "+2", "12"), ("+1.5", "+1.5", "11.5"), ("-3", "-3", "7")]
)
def test_a_count_is_corrected_up_or_down_with_its_reason(
    client, pharmacist, lot, typed, change, left
):
    response = client.post(
        f"/stock/lots/{lot.id}/adjust",
        data={"adjust-quantity": typed, "adjust-reason": "stock count"},
    )
    assert flash_after(client, response) == (
        f"Adjusted lot BIO-7 of Biotin serum 5 mL by {change} vial (stock count). "
        f"Now {left} vial on hand, usable today."
    )
    assert stored(lot.id).quantity_on_hand == Decimal(left)
    last = db.session.scalar(select(Movement).where(Movement.lot_id == lot.id).order_by(
        Movement.id.desc()))  # fmt: skip
    assert (last.kind, last.reason, last.user_id) == (
        MovementKind.ADJUST, "stock count", pharmacist.id
    )  # fmt: skip


def test_a_correction_shows_all_its_errors_at_once_and_changes_nothing(client, pharmacist, lot):
    response = client.post(
        f"/stock/lots/{lot.id}/adjust", data={"adjust-quantity": "", "adjust-reason": " "}
    )
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "adjust-quantity") == "Write the correction: +2 found, -2 missing."
    assert field_error(page, "adjust-reason") == "Say why: the ledger keeps the reason."
    assert 'id="adjust-quantity" inputmode="decimal" name="adjust-quantity"' in page
    assert movements(lot.id) == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "An adjustment changes the count: write +2 or -2, not 0."),
        ("0.0000001", "At most 6 decimal places."),
        ("two", "Not a valid decimal value."),
    ],
)
def test_a_correction_that_is_zero_too_fine_or_not_a_number_is_refused(
    client, pharmacist, lot, typed, message
):
    response = client.post(
        f"/stock/lots/{lot.id}/adjust",
        data={"adjust-quantity": typed, "adjust-reason": "count"},
    )
    assert response.status_code == 422
    assert field_error(html(response), "adjust-quantity") == message
    assert movements(lot.id) == 1


def test_a_correction_below_zero_is_refused_next_to_the_quantity(client, pharmacist, lot):
    response = client.post(
        f"/stock/lots/{lot.id}/adjust",
        data={"adjust-quantity": "-11", "adjust-reason": "count"},
    )
    assert response.status_code == 409
    assert field_error(html(response), "adjust-quantity") == "More than the lot holds."
    assert stored(lot.id).quantity_on_hand == 10 and movements(lot.id) == 1


# --- dispose ----------------------------------------------------------------------------------


def test_disposing_asks_first_on_a_page_of_its_own_without_script(client, pharmacist, lot):
    data = {"dispose-quantity": "", "dispose-reason": "dropped the box"}
    asked = client.post(f"/stock/lots/{lot.id}/dispose", data=data)
    assert asked.status_code == 200
    page = html(asked)
    assert "Dispose of all 10 vial on hand of Biotin serum 5 mL, lot BIO-7?" in page
    assert "<li>Reason: dropped the box</li>" in page
    assert f'<form method="post" action="/stock/lots/{lot.id}/dispose"' in page
    assert '<input type="hidden" name="dispose-reason" value="dropped the box">' in page
    assert f'<a href="/stock/lots/{lot.id}" class="button-link">Cancel, go back</a>' in page
    assert stored(lot.id).quantity_on_hand == 10 and movements(lot.id) == 1

    response = client.post(f"/stock/lots/{lot.id}/dispose", data=data | YES)
    assert flash_after(client, response) == (
        "Disposed of 10 vial of Biotin serum 5 mL, lot BIO-7 (dropped the box). "
        "Nothing left on hand: the lot is disposed of."
    )
    gone = stored(lot.id)
    assert gone.status == LotStatus.DISPOSED and gone.quantity_on_hand == 0


def test_disposing_of_part_of_a_lot_leaves_the_rest(client, pharmacist, lot):
    data = {"dispose-quantity": "3", "dispose-reason": "cracked vials"}
    assert "Dispose of 3 vial of Biotin serum 5 mL" in html(
        client.post(f"/stock/lots/{lot.id}/dispose", data=data)
    )
    response = client.post(f"/stock/lots/{lot.id}/dispose", data=data | YES)
    assert flash_after(client, response).endswith(
        "(cracked vials). Now 7 vial on hand, usable today."
    )
    assert stored(lot.id).status == LotStatus.AVAILABLE


def test_a_disposal_shows_all_its_errors_at_once_before_asking(client, pharmacist, lot):
    response = client.post(
        f"/stock/lots/{lot.id}/dispose", data={"dispose-quantity": "-1", "dispose-reason": ""}
    )
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "dispose-quantity") == "Must be more than 0."
    assert field_error(page, "dispose-reason") == "Say why: the ledger keeps the reason."
    assert 'name="confirmed" value="yes"' not in page  # not the confirm page
    assert movements(lot.id) == 1


def test_disposing_of_more_than_the_lot_holds_is_refused_and_changes_nothing(
    client, pharmacist, lot
):
    response = client.post(
        f"/stock/lots/{lot.id}/dispose",
        data={"dispose-quantity": "11", "dispose-reason": "count"} | YES,
    )
    assert response.status_code == 409
    assert field_error(html(response), "dispose-quantity") == "More than the lot holds."
    assert stored(lot.id).quantity_on_hand == 10 and movements(lot.id) == 1


# --- recall -----------------------------------------------------------------------------------


def test_recalling_asks_first_then_recalls_and_raises_its_alert(client, pharmacist, lot):
    data = {"recall-reason": "supplier notice 12"}
    asked = client.post(f"/stock/lots/{lot.id}/recall", data=data)
    assert asked.status_code == 200
    assert "Recall lot BIO-7 of Biotin serum 5 mL? It can never be used again" in html(asked)
    assert stored(lot.id).status == LotStatus.AVAILABLE

    response = client.post(f"/stock/lots/{lot.id}/recall", data=data | YES)
    assert flash_after(client, response) == (
        "Lot BIO-7 of Biotin serum 5 mL is recalled: it can never be used again. "
        "Now 10 vial on hand, recalled: not stock any more, dispose of them."
    )
    recalled = stored(lot.id)
    assert (recalled.status, recalled.status_reason) == (LotStatus.RECALLED, "supplier notice 12")
    assert db.session.scalar(
        select(Alert.id).where(Alert.lot_id == lot.id, Alert.kind == AlertKind.RECALL)
    )


def test_a_recall_needs_its_reason_next_to_the_field(client, pharmacist, lot):
    response = client.post(f"/stock/lots/{lot.id}/recall", data={"recall-reason": ""} | YES)
    assert response.status_code == 422
    assert field_error(html(response), "recall-reason") == "Say why the lot is recalled."
    assert stored(lot.id).status == LotStatus.AVAILABLE


def test_a_recalled_lot_is_not_on_hand_and_waits_on_the_board_to_be_disposed_of(
    client, pharmacist, product, lot
):
    lots.recall(lot.id, reason="supplier", now=NOW)
    db.session.commit()
    board = html(client.get("/stock"))
    recalled = board[board.index('id="recalled-title"') : board.index('id="expiring-title"')]
    assert f'<a href="/stock/lots/{lot.id}">Biotin serum 5 mL · lot BIO-7</a>' in recalled
    assert "10 vial to dispose of" in recalled
    products = html(client.get("/stock/products"))
    assert re.search(
        r'Biotin serum 5 mL</a></td>\s*<td>serum</td>\s*<td class="num">0 vial', products
    )

    response = client.post(f"/stock/lots/{lot.id}/dispose", data={"dispose-reason": "recall"} | YES)
    assert flash_after(client, response).endswith("(recall). Nothing left on hand.")
    assert stored(lot.id).status == LotStatus.RECALLED
    board = html(client.get("/stock"))
    assert "No recalled lot is left on the shelf." in board


# --- the board's waiting list ----------------------------------------------------------------


def test_the_board_lists_the_lots_waiting_for_release_until_they_are_released(
    client, pharmacist, product
):
    held = factories.make_lot(product, lot_number="Q-5", expiry_date=FAR, quarantine=True)
    board = html(client.get("/stock"))
    waiting = board[board.index('id="waiting-title"') : board.index('id="recalled-title"')]
    assert f'<a href="/stock/lots/{held.id}">Biotin serum 5 mL · lot Q-5</a>' in waiting
    assert "10 vial, received 1 Jan 2025, 09:00" in waiting
    client.post(f"/stock/lots/{held.id}/release")
    assert "No lot is waiting in quarantine." in html(client.get("/stock"))


def test_the_boards_waiting_and_recalled_lists_take_as_many_queries_for_many_lots(
    client, pharmacist, product, queries_of_get
):
    def measure():
        return queries_of_get("/stock")[0]

    factories.make_lot(product, expiry_date=FAR, quarantine=True)
    few = measure()
    for n in range(6):
        other = factories.make_product(kind="consumable")
        factories.make_lot(other, expiry_date=FAR, quarantine=True)
        recalled = factories.make_lot(other, expiry_date=FAR)
        lots.recall(recalled.id, reason=f"notice {n}", now=NOW)
    db.session.commit()
    assert measure() == few


# --- administrators read, pharmacists act -----------------------------------------------------


def test_an_administrator_reads_the_lot_page_without_its_forms_and_cannot_post_them(
    client, sign_in_page, lot
):
    sign_in_page("admin")
    page = html(client.get(f"/stock/lots/{lot.id}"))
    assert forms_of(page) == []
    assert "Read only: pharmacists release, open, correct, dispose of and recall lots." in page
    assert "Now 10 vial on hand, usable today." in page and "Ledger" in page
    assert "← Stock board" not in page  # the board is the pharmacist's
    for step in ("release", "open", "adjust", "dispose", "recall"):
        assert client.post(f"/stock/lots/{lot.id}/{step}", data=YES).status_code == 403
    assert movements(lot.id) == 1


def test_a_doctor_has_no_lot_page(client, sign_in_page, lot):
    sign_in_page("doctor")
    assert client.get(f"/stock/lots/{lot.id}").status_code == 403


# --- the confirm page with CSRF on, as in production -----------------------------------------


def test_the_confirm_page_sends_the_disposal_again_with_a_valid_token(csrf_client, product):
    lot_id = factories.make_lot(product, lot_number="C-1", expiry_date=FAR).id
    username = factories.make_user(role="pharmacist").username
    login = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)[1]
    password = factories.DEFAULT_PASSWORD
    csrf_client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    page = csrf_client.get(f"/stock/lots/{lot_id}").get_data(as_text=True)
    form = page[page.index(f'action="/stock/lots/{lot_id}/dispose"') :]
    form_token = re.search(r'name="dispose-csrf_token" type="hidden" value="([^"]+)"', form)[1]
    asked = csrf_client.post(
        f"/stock/lots/{lot_id}/dispose",
        data={"dispose-csrf_token": form_token, "dispose-reason": "expired box"},
    )
    assert asked.status_code == 200
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                             asked.get_data(as_text=True)))  # fmt: skip
    assert hidden["confirmed"] == "yes" and hidden["dispose-reason"] == "expired box"
    done = csrf_client.post(f"/stock/lots/{lot_id}/dispose", data=hidden)
    assert done.status_code == 302
    assert stored(lot_id).status == LotStatus.DISPOSED
