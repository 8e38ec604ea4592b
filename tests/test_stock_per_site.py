"""Stock per site (issue 15): every lot is on one site's shelves; receiving, FEFO and the
lot list are per site; someone outside a site is refused its stock with a 403; the migration
puts an existing clinic's whole stock at its first site."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import flask_migrate
import pytest
from sqlalchemy import MetaData, func, select, text

from app import create_app
from clinic.sessions import complete_session
from config import database_url as driver_url
from core.database import db
from core.errors import Conflict, Invalid
from inventory.alerts import Alert, scan
from inventory.alerts.models import AlertKind
from inventory.fefo import dispense
from inventory.lots import Expiry, receive
from inventory.models import Lot, Movement
from inventory.products import set_site_reorder_point, site_reorder_points
from inventory.stock import low_stock, stock_of
from tests import factories

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
# Far enough for the API, which receives and dispenses now.
LATER = date(2099, 12, 31)


@pytest.fixture
def lyon():
    return factories.make_site(code=factories.unique("LYON-"), name="Lyon")


def lot_body(product, **fields) -> dict:
    return {
        "product_id": product.id,
        "lot_number": factories.unique("SITE-"),
        "expiry_date": LATER.isoformat(),
        "quantity": 4,
        **fields,
    }


# --- receiving at a site ---------------------------------------------------------------------


def test_a_lot_received_by_someone_at_one_site_goes_to_that_site(client, login_as):
    product = factories.make_product()
    created = client.post("/api/lots", json=lot_body(product), headers=login_as("pharmacist"))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["site_id"] == factories.clinic_site().id


def test_in_a_chain_a_pharmacist_at_several_sites_names_the_site(client, login_as, lyon):
    product = factories.make_product()
    both = factories.make_user(role="pharmacist", sites=[factories.clinic_site(), lyon])
    refused = client.post("/api/lots", json=lot_body(product), headers=login_as(both))
    assert refused.status_code == 422
    assert "site_id" in refused.get_json()["errors"]
    named = client.post(
        "/api/lots", json=lot_body(product, site_id=lyon.id), headers=login_as(both)
    )
    assert named.status_code == 201 and named.get_json()["site_id"] == lyon.id


def test_receiving_at_a_site_one_does_not_work_at_is_a_403(client, login_as, lyon):
    product = factories.make_product()
    refused = client.post(
        "/api/lots", json=lot_body(product, site_id=lyon.id), headers=login_as("pharmacist")
    )
    assert refused.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Lot)) == 0


def test_the_same_lot_number_is_a_lot_of_its_own_at_each_site(lyon):
    product = factories.make_product()
    here = factories.make_lot(
        product, lot_number="A-1", quantity="3", site_id=factories.clinic_site().id
    )
    there = factories.make_lot(product, lot_number="A-1", quantity="5", site_id=lyon.id)
    again = receive(
        product_id=product.id, lot_number="A-1", expiry=Expiry(here.expiry_date),
        quantity=Decimal(2), user_id=None, now=NOW, site_id=lyon.id,
    )  # fmt: skip
    assert here.id != there.id and (again.lot.id, again.created) == (there.id, False)
    assert (here.quantity_on_hand, there.quantity_on_hand) == (3, 7)


def test_the_domain_asks_for_the_site_in_a_chain(lyon):
    product = factories.make_product()
    with pytest.raises(Invalid) as refused:
        factories.make_lot(product)
    assert set(refused.value.errors) == {"site_id"}


# --- FEFO per site ---------------------------------------------------------------------------


def test_fefo_takes_from_the_sites_own_lots_only(lyon):
    product = factories.make_product()
    main_site = factories.clinic_site()
    earliest_elsewhere = factories.make_lot(
        product, quantity="10", expiry_date=date(2025, 4, 1), site_id=lyon.id
    )
    here = factories.make_lot(
        product, quantity="3", expiry_date=date(2025, 9, 1), site_id=main_site.id
    )
    [pick] = dispense(
        product.id, Decimal(2), reason=None, user_id=None, now=NOW, site_id=main_site.id
    )
    assert (pick.lot_id, pick.quantity) == (here.id, 2)
    with pytest.raises(Conflict):
        # Lyon's ten units do not make up for what this site lacks.
        dispense(product.id, Decimal(2), reason=None, user_id=None, now=NOW, site_id=main_site.id)
    db.session.refresh(earliest_elsewhere)
    assert earliest_elsewhere.quantity_on_hand == 10


def test_a_dispense_at_a_site_one_does_not_work_at_is_a_403(client, login_as, lyon):
    product = factories.make_product()
    lot = factories.make_lot(product, quantity="5", expiry_date=LATER, site_id=lyon.id)
    refused = client.post(
        f"/api/products/{product.id}/dispense",
        json={"quantity": 1, "site_id": lyon.id},
        headers=login_as("pharmacist"),
    )
    assert refused.status_code == 403
    db.session.refresh(lot)
    assert lot.quantity_on_hand == 5
    at_lyon = factories.make_user(role="pharmacist", sites=[lyon])
    done = client.post(
        f"/api/products/{product.id}/dispense", json={"quantity": 1}, headers=login_as(at_lyon)
    )
    assert done.status_code == 200 and done.get_json()["picks"][0]["lot_id"] == lot.id


# --- the migration ---------------------------------------------------------------------------


def fill_the_0019_schema(connection) -> None:
    """A product, three lots and their movements, as 0019's tables hold them (reflected)."""
    tables = MetaData()
    tables.reflect(connection, only=["products", "lots", "movements"])

    def insert(table: str, *rows: dict) -> None:
        for row in rows:
            connection.execute(tables.tables[table].insert(), row)

    insert(
        "products",
        {"id": 1, "kind": "consumable", "name": "Syringe", "unit": "piece",
         "reorder_point": 0, "created_at": NOW},
    )  # fmt: skip
    insert(
        "lots",
        *[
            {"id": n, "product_id": 1, "lot_number": f"L{n}", "expiry_date": date(2030, 1, n),
             "expiry_month_only": False, "effective_expiry": date(2030, 1, n),
             "quantity_on_hand": 2_000_000, "status": "available", "received_at": NOW,
             "storage": "room"}
            for n in (1, 2, 3)
        ],
    )  # fmt: skip
    insert(
        "movements",
        *[
            {"id": 10 * n + k, "lot_id": n, "kind": kind, "quantity": quantity,
             "created_at": NOW}
            for n in (1, 2, 3)
            for k, (kind, quantity) in enumerate([("receive", 3_000_000),
                                                  ("dispense", -1_000_000)])
        ],
    )  # fmt: skip


def stock_rows() -> tuple[list, list]:
    lots = db.session.execute(
        text("SELECT id, product_id, lot_number, quantity_on_hand FROM lots ORDER BY id")
    ).all()
    movements = db.session.execute(
        text("SELECT id, lot_id, kind, quantity FROM movements ORDER BY id")
    ).all()
    return [tuple(row) for row in lots], [tuple(row) for row in movements]


@pytest.mark.own_database
def test_the_migration_puts_every_lot_at_the_first_site_and_keeps_every_movement(scratch_db):
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(scratch_db)})
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="0019")
            with db.engine.begin() as connection:
                fill_the_0019_schema(connection)
                connection.execute(
                    text(
                        "INSERT INTO sites (code, name, timezone)"
                        " VALUES ('LYON', 'Lyon', 'Europe/Paris')"
                    )
                )
            before = stock_rows()
            db.session.remove()

            flask_migrate.upgrade(revision="0020")
            assert stock_rows() == before
            first = db.session.scalar(text("SELECT min(id) FROM sites"))
            sites = db.session.scalars(text("SELECT DISTINCT site_id FROM lots")).all()
            assert sites == [first]
            db.session.remove()

            flask_migrate.downgrade(revision="0019")
            assert stock_rows() == before
        finally:
            db.session.remove()
            db.engine.dispose()


def test_every_movement_stays_with_its_lot_at_its_site(lyon):
    product = factories.make_product()
    lot = factories.make_lot(product, site_id=lyon.id)
    [movement] = db.session.scalars(select(Movement).where(Movement.lot_id == lot.id)).all()
    assert movement.lot.site_id == lyon.id


# --- low stock per site ----------------------------------------------------------------------


def test_low_stock_is_per_product_and_site_with_the_sites_own_reorder_point(lyon):
    main_site = factories.clinic_site()
    product = factories.make_product(reorder_point=Decimal(5))
    factories.make_lot(product, quantity="8", expiry_date=LATER, site_id=main_site.id)
    factories.make_lot(product, quantity="3", expiry_date=LATER, site_id=lyon.id)
    as_of = date(2025, 3, 1)
    [short] = low_stock(as_of)
    assert (short.site.id, short.usable, short.reorder_point, short.missing) == (lyon.id, 3, 5, 2)
    assert low_stock(as_of, site_ids=[main_site.id]) == []
    # The main site keeps more: 8 is short of its own 10; Lyon needs only 2.
    set_site_reorder_point(product, main_site.id, reorder_point=Decimal(10))
    set_site_reorder_point(product, lyon.id, reorder_point=Decimal(2))
    [short] = low_stock(as_of)
    assert (short.site.id, short.usable, short.reorder_point) == (main_site.id, 8, 10)
    [stock] = stock_of([product], as_of=as_of, site_ids=[lyon.id])
    assert (stock.usable, stock.reorder_point, stock.low) == (3, 2, False)
    [both] = stock_of([product], as_of=as_of)
    assert (both.on_hand, both.usable, both.reorder_point, both.low) == (11, 11, 12, True)
    set_site_reorder_point(product, main_site.id, reorder_point=None)
    assert low_stock(as_of) == []


def test_the_scan_tells_low_stock_once_per_product_and_site(lyon):
    main_site = factories.clinic_site()
    product = factories.make_product(reorder_point=Decimal(5))
    factories.make_lot(product, quantity="1", expiry_date=LATER, site_id=main_site.id)
    factories.make_lot(product, quantity="2", expiry_date=LATER, site_id=lyon.id)
    as_of = date(2025, 3, 1)
    scan(as_of, now=NOW)
    scan(as_of, now=NOW)
    alerts = db.session.scalars(
        select(Alert).where(Alert.kind == AlertKind.LOW_STOCK).order_by(Alert.site_id)
    ).all()
    assert [(a.site_id, a.quantity, a.resolved) for a in alerts] == [
        (main_site.id, 1, False),
        (lyon.id, 2, False),
    ]
    # Lyon recovers: its alert is resolved, the main site's stands.
    factories.make_lot(product, quantity="9", expiry_date=LATER, site_id=lyon.id)
    scan(as_of, now=NOW)
    db.session.expire_all()
    assert [(a.site_id, a.resolved) for a in alerts] == [(main_site.id, False), (lyon.id, True)]


def test_a_low_stock_alert_recovers_against_its_own_sites_reorder_point(lyon):
    main_site = factories.clinic_site()
    product = factories.make_product(reorder_point=Decimal(5))
    set_site_reorder_point(product, main_site.id, reorder_point=Decimal(20))
    set_site_reorder_point(product, lyon.id, reorder_point=Decimal(3))
    factories.make_lot(product, quantity="4", expiry_date=LATER, site_id=main_site.id)
    factories.make_lot(product, quantity="1", expiry_date=LATER, site_id=lyon.id)
    as_of = date(2025, 3, 1)
    scan(as_of, now=NOW)
    alerts = db.session.scalars(
        select(Alert).where(Alert.kind == AlertKind.LOW_STOCK).order_by(Alert.site_id)
    ).all()
    assert [a.site_id for a in alerts] == [main_site.id, lyon.id]
    # 4 more at each: Lyon (5 of its 3) recovers, the main site (8 of its 20) does not.
    factories.make_lot(product, quantity="4", expiry_date=LATER, site_id=main_site.id)
    factories.make_lot(product, quantity="4", expiry_date=LATER, site_id=lyon.id)
    scan(as_of, now=NOW)
    db.session.expire_all()
    assert [(a.site_id, a.resolved) for a in alerts] == [(main_site.id, False), (lyon.id, True)]


def test_a_lots_alerts_carry_its_site(lyon):
    lot = factories.make_lot(expiry_date=date(2025, 3, 5), site_id=lyon.id)
    scan(date(2025, 3, 1), now=NOW)
    [expiring] = db.session.scalars(select(Alert).where(Alert.lot_id == lot.id)).all()
    assert expiring.site_id == lyon.id


# --- the lots of a site one does not work at ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("get", "", None),
        ("get", "/movements", None),
        ("get", "/trace", None),
        ("get", "/label", None),
        ("post", "/open", {}),
        ("post", "/adjust", {"quantity": 1, "reason": "count"}),
        ("post", "/dispose", {"reason": "broken"}),
        ("post", "/recall", {"reason": "sterility"}),
        ("post", "/release", None),
    ],
)
def test_a_lot_of_a_site_one_does_not_work_at_is_a_403(
    client, login_as, lyon, method, action, body
):
    lot = factories.make_lot(quantity="4", expiry_date=LATER, site_id=lyon.id)
    response = getattr(client, method)(
        f"/api/lots/{lot.id}{action}", json=body, headers=login_as("pharmacist")
    )
    assert response.status_code == 403, response.get_json()
    db.session.refresh(lot)
    assert (lot.quantity_on_hand, lot.status.value) == (4, "available")


def test_the_lot_list_shows_the_users_sites_and_filters_by_one(client, login_as, lyon):
    main_site = factories.clinic_site()
    here = factories.make_lot(expiry_date=LATER, site_id=main_site.id)
    there = factories.make_lot(expiry_date=LATER, site_id=lyon.id)

    def listed(user, **query):
        response = client.get("/api/lots", query_string=query, headers=login_as(user))
        assert response.status_code == 200, response.get_json()
        return [lot["id"] for lot in response.get_json()]

    pharmacist = factories.make_user(role="pharmacist")
    both = factories.make_user(role="pharmacist", sites=[main_site, lyon])
    assert listed(pharmacist) == [here.id]
    assert sorted(listed(both)) == sorted([here.id, there.id])
    assert listed(both, site_id=lyon.id) == [there.id]
    assert sorted(listed(factories.make_user(role="admin"))) == sorted([here.id, there.id])
    refused = client.get(
        "/api/lots", query_string={"site_id": lyon.id}, headers=login_as(pharmacist)
    )
    assert refused.status_code == 403


# --- the pages follow the site chosen in the header ------------------------------------------


def test_the_header_offers_a_site_switcher_to_someone_at_several_sites_only(
    client, sign_in_page, lyon
):
    sign_in_page("pharmacist")
    assert 'id="site-switcher"' not in client.get("/stock").get_data(as_text=True)
    client.post("/logout")
    sign_in_page(factories.make_user(role="pharmacist", sites=[factories.clinic_site(), lyon]))
    page = client.get("/stock").get_data(as_text=True)
    assert 'id="site-switcher"' in page and "All my sites" in page and "Lyon" in page


def test_the_lot_list_and_the_board_follow_the_site_chosen(client, sign_in_page, lyon):
    main_site = factories.clinic_site()
    product = factories.make_product(name="Biotin ampoule", reorder_point=Decimal(5))
    here = factories.make_lot(product, lot_number="HERE-1", expiry_date=LATER,
                              site_id=main_site.id)  # fmt: skip
    there = factories.make_lot(product, lot_number="THERE-1", quantity="2", expiry_date=LATER,
                               site_id=lyon.id)  # fmt: skip
    sign_in_page(factories.make_user(role="pharmacist", sites=[main_site, lyon]))
    every = client.get("/stock/lots").get_data(as_text=True)
    assert here.lot_number in every and there.lot_number in every
    chosen = client.post("/site", data={"site_id": main_site.id, "next": "/stock/lots"})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/stock/lots"
    only_here = client.get("/stock/lots").get_data(as_text=True)
    assert here.lot_number in only_here and there.lot_number not in only_here
    # Lyon's 2 are short of 5; the main site's 10 are not.
    assert "Biotin ampoule" not in client.get("/stock/products?low=y").get_data(as_text=True)
    client.post("/site", data={"site_id": lyon.id})
    assert "Biotin ampoule" in client.get("/stock/products?low=y").get_data(as_text=True)
    client.post("/site", data={"site_id": ""})
    assert there.lot_number in client.get("/stock/lots").get_data(as_text=True)


def test_a_site_one_does_not_work_at_cannot_be_chosen(client, sign_in_page, lyon):
    sign_in_page("pharmacist")
    assert client.post("/site", data={"site_id": lyon.id}).status_code == 403


def test_the_board_receives_at_the_site_chosen_or_asks_for_one(client, sign_in_page, lyon):
    product = factories.make_product(kind="consumable")
    sign_in_page(factories.make_user(role="pharmacist", sites=[factories.clinic_site(), lyon]))
    fields = {"product_id": product.id, "lot_number": "WEB-1", "expiry_date": "2099-12-31",
              "quantity": "3", "storage": "room"}  # fmt: skip
    asked = client.post("/stock/receive", data=fields)
    assert asked.status_code == 422
    assert "Choose a site in the header first." in asked.get_data(as_text=True)
    client.post("/site", data={"site_id": lyon.id})
    assert client.post("/stock/receive", data=fields).status_code == 302
    lot = db.session.scalar(select(Lot).where(Lot.lot_number == "WEB-1"))
    assert lot.site_id == lyon.id


def test_the_page_of_a_lot_at_a_site_one_does_not_work_at_is_a_403(client, sign_in_page, lyon):
    lot = factories.make_lot(expiry_date=LATER, site_id=lyon.id)
    sign_in_page("pharmacist")
    assert client.get(f"/stock/lots/{lot.id}").status_code == 403
    assert client.post(f"/stock/lots/{lot.id}/recall", data={"reason": "x"}).status_code == 403


# --- sessions at a site ----------------------------------------------------------------------

PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 80}
MONDAY = date(2025, 3, 3)
ON_MONDAY = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def test_a_completed_session_consumes_its_own_sites_stock(lyon):
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    elsewhere = factories.make_lot(product, quantity="5", expiry_date=date(2025, 4, 1),
                                   site_id=factories.clinic_site().id)  # fmt: skip
    at_lyon = factories.make_lot(product, quantity="5", expiry_date=date(2025, 9, 1),
                                 site_id=lyon.id)  # fmt: skip
    course = factories.make_course(serum=serum, start_date=MONDAY, site_id=lyon.id)
    session = course.sessions[0]
    assert (course.site_id, session.site_id) == (lyon.id, lyon.id)
    complete_session(session, factories.make_user(role="doctor", sites=[lyon]),
                     fields=dict(PROCEDURE), now=ON_MONDAY)  # fmt: skip
    assert session.lot_id == at_lyon.id
    second = course.sessions[1]
    with pytest.raises(Conflict, match="at another site"):
        # The main site's earlier-expiring lot is not Lyon's to use.
        complete_session(second, factories.make_user(role="doctor", sites=[lyon]),
                         fields={**PROCEDURE, "lot_id": elsewhere.id, "performed_on": MONDAY},
                         now=ON_MONDAY)  # fmt: skip


def test_sessions_and_the_forecast_are_per_site(client, login_as, lyon):
    main_site = factories.clinic_site()
    serum = factories.make_approved_serum()
    product = factories.make_serum_product(serum)
    factories.make_lot(product, quantity="2", expiry_date=LATER, site_id=main_site.id)
    here = factories.make_course(serum=serum, start_date=MONDAY, site_id=main_site.id)
    there = factories.make_course(serum=serum, start_date=MONDAY, site_id=lyon.id)
    both = factories.make_user(role="doctor", sites=[main_site, lyon])

    def session_ids(user, **query):
        response = client.get("/api/sessions", query_string=query, headers=login_as(user))
        assert response.status_code == 200, response.get_json()
        return {s["id"] for s in response.get_json()}

    assert session_ids(both, site_id=lyon.id) == {s.id for s in there.sessions}
    assert session_ids(factories.make_user(role="doctor")) == {s.id for s in here.sessions}
    refused = client.get(
        "/api/sessions", query_string={"site_id": lyon.id}, headers=login_as("doctor")
    )
    assert refused.status_code == 403

    def needed(site_id):
        response = client.get(
            "/api/forecast",
            query_string={"site_id": site_id, "as_of": MONDAY.isoformat(), "weeks": 4},
            headers=login_as("admin"),
        )
        assert response.status_code == 200, response.get_json()
        [row] = [row for row in response.get_json() if row["serum_id"] == serum.id]
        return [(week["needed"], week["usable"]) for week in row["weeks"]]

    # Each site plans 4 weekly sessions of one dose; only the main site holds 2 doses.
    assert needed(main_site.id)[0] == (1, 2)
    assert needed(lyon.id)[0] == (1, 0)


# --- the reorder point per site --------------------------------------------------------------


def test_each_site_lists_its_own_reorder_point_or_the_products(client, login_as, lyon):
    product = factories.make_product(reorder_point=Decimal(5))
    set_site_reorder_point(product, lyon.id, reorder_point=Decimal(12))
    db.session.commit()
    response = client.get(f"/api/products/{product.id}/reorder-points", headers=login_as("admin"))
    assert response.status_code == 200, response.get_json()
    assert [(row["site_name"], row["reorder_point"], row["own"]) for row in response.get_json()] \
        == [("Lyon", 12, True), (factories.clinic_site().name, 5, False)]  # fmt: skip
    mine = client.get(f"/api/products/{product.id}/reorder-points", headers=login_as("doctor"))
    assert [row["site_id"] for row in mine.get_json()] == [factories.clinic_site().id]


def test_a_pharmacist_sets_a_sites_reorder_point_and_falls_back_to_the_products(
    client, login_as, lyon
):
    product = factories.make_product(reorder_point=Decimal(5))
    headers = login_as(factories.make_user(role="pharmacist", sites=[lyon]))
    url = f"/api/products/{product.id}/reorder-points/{lyon.id}"
    put = client.put(url, json={"reorder_point": "2.5"}, headers=headers)
    assert put.status_code == 200, put.get_json()
    assert (put.get_json()["reorder_point"], put.get_json()["own"]) == (2.5, True)
    assert site_reorder_points(product.id) == {lyon.id: Decimal("2.5")}
    assert client.delete(url, headers=headers).status_code == 204
    assert site_reorder_points(product.id) == {}
    assert client.delete(url, headers=headers).status_code == 204  # none of its own: still none


@pytest.mark.parametrize("body", [{}, {"reorder_point": -1}, {"reorder_point": "many"}])
def test_a_sites_reorder_point_must_be_a_number_not_below_zero(client, login_as, body):
    product = factories.make_product()
    response = client.put(
        f"/api/products/{product.id}/reorder-points/{factories.clinic_site().id}",
        json=body,
        headers=login_as("pharmacist"),
    )
    assert response.status_code == 422
    assert "reorder_point" in response.get_json()["errors"]
    assert site_reorder_points(product.id) == {}


def test_the_reorder_point_of_a_site_one_does_not_work_at_is_a_403(client, login_as, lyon):
    product = factories.make_product()
    url = f"/api/products/{product.id}/reorder-points/{lyon.id}"
    headers = login_as("pharmacist")
    assert client.put(url, json={"reorder_point": 1}, headers=headers).status_code == 403
    assert client.delete(url, headers=headers).status_code == 403
    assert site_reorder_points(product.id) == {}
    missing = client.put(
        f"/api/products/{product.id}/reorder-points/999999", json={"reorder_point": 1},
        headers=login_as("admin"),
    )  # fmt: skip
    assert missing.status_code == 404


def test_the_product_page_leads_to_each_sites_reorder_point(client, sign_in_page, lyon):
    product = factories.make_product(name="Dexpanthenol vial", reorder_point=Decimal(5))
    set_site_reorder_point(product, lyon.id, reorder_point=Decimal(12))
    db.session.commit()
    sign_in_page("admin")
    form = client.get(f"/formulary/products/{product.id}/edit").get_data(as_text=True)
    url = f"/formulary/products/{product.id}/reorder-points"
    assert f'href="{url}"' in form
    page = client.get(url).get_data(as_text=True)
    assert "12 vial, its own" in page and "The product's: 5 vial" in page


def test_the_page_saves_a_sites_reorder_point_or_says_what_is_wrong_next_to_it(
    client, sign_in_page, lyon
):
    product = factories.make_product(reorder_point=Decimal(5))
    sign_in_page(factories.make_user(role="pharmacist", sites=[factories.clinic_site(), lyon]))
    url = f"/formulary/products/{product.id}/reorder-points/{lyon.id}"
    refused = client.post(url, data={f"site-{lyon.id}-reorder_point": "-2"})
    assert refused.status_code == 422
    assert f'id="site-{lyon.id}-reorder_point-error">Cannot be below 0.' in refused.get_data(
        as_text=True
    )
    saved = client.post(url, data={f"site-{lyon.id}-reorder_point": "8"})
    assert saved.status_code == 302
    assert site_reorder_points(product.id) == {lyon.id: 8}
    client.post(url, data={"fall_back": "y"})
    assert site_reorder_points(product.id) == {}


def test_the_page_lists_and_changes_only_the_sites_one_works_at(client, sign_in_page, lyon):
    product = factories.make_product()
    sign_in_page("pharmacist")
    page = client.get(f"/formulary/products/{product.id}/reorder-points").get_data(as_text=True)
    assert "Lyon" not in page and "1 site" in page
    url = f"/formulary/products/{product.id}/reorder-points/{lyon.id}"
    assert client.post(url, data={f"site-{lyon.id}-reorder_point": "8"}).status_code == 403


# --- alerts per site -------------------------------------------------------------------------


def alerts_of_each_site(lyon) -> tuple[Alert, Alert, Alert]:
    """An expiring lot's alert at the main site and one at Lyon, and a clinic-wide shortfall
    no site carries."""
    here = factories.make_alert(
        lot=factories.make_lot(site_id=factories.clinic_site().id, expiry_date=LATER)
    )
    there = factories.make_alert(lot=factories.make_lot(site_id=lyon.id, expiry_date=LATER))
    everywhere = factories.save(
        Alert(kind=AlertKind.SHORTFALL, product_id=here.product_id, as_of=date(2030, 12, 1),
              week_start=date(2030, 12, 2))
    )  # fmt: skip
    return here, there, everywhere


def test_the_alert_list_shows_the_users_sites_and_the_clinic_wide_alerts(client, login_as, lyon):
    here, there, everywhere = alerts_of_each_site(lyon)

    def listed(user, **query):
        response = client.get("/api/alerts", query_string=query, headers=login_as(user))
        assert response.status_code == 200, response.get_json()
        return {alert["id"] for alert in response.get_json()}

    both = factories.make_user(role="pharmacist", sites=[factories.clinic_site(), lyon])
    assert listed("pharmacist") == {here.id, everywhere.id}
    assert listed(both) == {here.id, there.id, everywhere.id}
    assert listed(both, site_id=lyon.id) == {there.id, everywhere.id}
    assert listed("admin") == {here.id, there.id, everywhere.id}
    refused = client.get(
        "/api/alerts", query_string={"site_id": lyon.id}, headers=login_as("pharmacist")
    )
    assert refused.status_code == 403


def test_acknowledging_an_alert_of_a_site_one_does_not_work_at_is_a_403(client, login_as, lyon):
    here, there, everywhere = alerts_of_each_site(lyon)
    headers = login_as("pharmacist")
    assert client.post(f"/api/alerts/{there.id}/ack", headers=headers).status_code == 403
    bulk = client.post("/api/alerts/ack", json={"alert_ids": [here.id, there.id]}, headers=headers)
    assert bulk.status_code == 403
    db.session.expire_all()
    assert {db.session.get(Alert, a.id).status.value for a in (here, there)} == {"open"}
    done = client.post(
        "/api/alerts/ack", json={"alert_ids": [here.id, everywhere.id]}, headers=headers
    )
    assert done.status_code == 200, done.get_json()
    assert {alert["id"] for alert in done.get_json()} == {here.id, everywhere.id}


def test_the_inbox_follows_the_site_chosen_and_says_where_each_alert_is(client, sign_in_page, lyon):
    here, there, everywhere = alerts_of_each_site(lyon)
    sign_in_page(factories.make_user(role="pharmacist", sites=[factories.clinic_site(), lyon]))

    def shown():
        page = client.get("/alerts").get_data(as_text=True)
        return page, {int(found) for found in re.findall(r'<tr id="alert-(\d+)"', page)}

    page, ids = shown()
    assert ids == {here.id, there.id, everywhere.id}
    assert '<th scope="col">Site</th>' in page
    assert '<td class="alert-site">Lyon</td>' in page
    assert '<td class="alert-site">Every site</td>' in page
    client.post("/site", data={"site_id": lyon.id})
    assert shown()[1] == {there.id, everywhere.id}
    board = client.get("/stock").get_data(as_text=True)
    assert "1 expiring" in board and "1 shortfall" in board


def test_in_a_clinic_of_one_site_the_inbox_names_no_site(client, sign_in_page):
    factories.make_alert()
    sign_in_page("pharmacist")
    assert '<th scope="col">Site</th>' not in client.get("/alerts").get_data(as_text=True)
