"""What keeps a list page of the API cheap (issue 18, bench/api_throughput.py) without changing a
byte of what it answers: the lean dump is marshmallow's, the GS1 element string is biip's, the
count stops at COUNT_LIMIT and says so, a page is one statement after the token, the lot list
builds no Lot objects, and argument schemas are built once."""

import json
from datetime import date, timedelta
from decimal import Decimal

import biip
import marshmallow as ma
import pytest
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from sqlalchemy import event

from api import pagination
from api.schemas.lean import LeanSchema
from api.schemas.lots import LotQuerySchema, LotSchema
from core.accounts import Role
from core.audit import AuditEntry
from inventory.barcodes import lot_element_string
from inventory.models import Lot
from tests import factories

GTIN = "09501101530003"
FAR = date.today() + timedelta(days=3650)


def biip_element_string(*, gtin, expiry_date, month_only, lot_number):
    """The element string as biip builds it from parsed element strings (the way the lot list
    built it before it matched biip's patterns itself)."""
    expiry = f"{expiry_date:%y%m}" + ("00" if month_only else f"{expiry_date:%d}")
    fields = [f"01{gtin}"] if gtin else []
    fields += [f"17{expiry}", f"10{lot_number}"]
    try:
        elements = GS1ElementStrings(GS1ElementString.parse(field) for field in fields)
    except biip.ParseError:
        return None
    return GS1Message.from_element_strings(elements).value


class LotFields:
    def __init__(self, expiry_date, expiry_month_only, lot_number):
        self.expiry_date = expiry_date
        self.expiry_month_only = expiry_month_only
        self.lot_number = lot_number


@pytest.mark.parametrize("gtin", [GTIN, None, "123"])
@pytest.mark.parametrize("month_only", [False, True])
@pytest.mark.parametrize("expiry", [date(2030, 3, 31), date(2005, 1, 9), date(2099, 12, 1)])
@pytest.mark.parametrize(
    "lot_number",
    ["AB-123", "M1", "X" * 20, "X" * 21, "HAS SPACE", "quote\"'%&", "a/b:c;d<e>f?g_h", "é", ""],
)
def test_the_element_string_is_what_biip_builds_from_the_same_fields(
    gtin, month_only, expiry, lot_number
):
    lot = LotFields(expiry, month_only, lot_number)
    expected = biip_element_string(
        gtin=gtin, expiry_date=lot.expiry_date, month_only=month_only, lot_number=lot_number
    )
    assert lot_element_string(lot, gtin=gtin) == expected


@pytest.fixture
def every_kind_of_row(client, login_as):
    """Lists holding the values a dump can meet: a GTIN or none, a month-only expiry, a lot
    number with no GS1 form, opened, disposed of with a reason, recalled, a fractional
    quantity; alerts on a lot and on a product; patients with courses and sessions."""
    boxed = factories.make_product(kind="consumable", unit="mL", gtin=GTIN)
    plain = factories.make_product(kind="consumable", unit="piece")
    pharmacist = login_as("pharmacist")
    lots = [
        factories.make_lot(boxed, quantity="2.5", expiry_date=FAR, lot_number="AB-1"),
        factories.make_lot(plain, quantity="3", expiry_date=FAR, lot_number="HAS SPACE"),
        factories.make_lot(boxed, quantity="1", expiry_date=FAR, lot_number="M1"),
        factories.make_lot(plain, quantity="7", expiry_date=FAR),
    ]
    client.post(f"/api/lots/{lots[0].id}/open", headers=pharmacist)
    client.post(f"/api/lots/{lots[1].id}/recall", json={"reason": "Maker"}, headers=pharmacist)
    client.post(f"/api/lots/{lots[2].id}/dispose", json={"reason": "Broken"}, headers=pharmacist)
    client.post(
        f"/api/lots/{lots[3].id}/adjust", json={"quantity": -0.25, "reason": "Count"},
        headers=pharmacist,
    )  # fmt: skip
    factories.make_alert(lot=lots[3])
    seen = factories.make_low_stock_alert(quantity="1.5")
    client.post(f"/api/alerts/{seen.id}/ack", headers=pharmacist)
    patient = factories.make_safe_patient()
    factories.make_course(patient=patient)
    factories.make_cross_reactivity_group(
        members=[factories.make_substance(), factories.make_substance()]
    )
    return {"lot": lots[3], "patient": patient}


def list_urls(rows) -> list[tuple[str, str]]:
    lot, patient = rows["lot"].id, rows["patient"].id
    return [
        ("admin", "/api/lots?page_size=50"),
        ("admin", "/api/lots?page_size=2&sort=lot_number"),
        ("pharmacist", f"/api/lots/{lot}/movements"),
        ("admin", "/api/alerts"),
        ("admin", "/api/alerts?status=acknowledged"),
        ("admin", "/api/audit"),
        ("admin", "/api/products"),
        ("admin", "/api/substances"),
        ("admin", "/api/serums"),
        ("admin", "/api/users"),
        ("admin", "/api/cross-reactivity"),
        ("admin", "/api/condition-rules"),
        ("admin", "/api/forecast"),
        ("doctor", "/api/patients"),
        ("admin", f"/api/patients/{patient}/courses"),
        ("admin", f"/api/sessions?patient_id={patient}"),
        ("admin", f"/api/patients/{patient}/serums"),
    ]


def test_each_list_answers_the_bytes_marshmallows_own_dump_gives(
    client, login_as, every_kind_of_row, monkeypatch
):
    signed_in = {role: login_as(role) for role in ("admin", "pharmacist", "doctor")}
    answers = {}
    for role, url in list_urls(every_kind_of_row):
        headers = signed_in[role]
        lean = client.get(url, headers=headers)
        assert lean.status_code == 200, (url, lean.get_json())
        answers[url] = (headers, lean.get_data(), lean.headers["X-Pagination"])
    monkeypatch.setattr(LeanSchema, "dump", ma.Schema.dump)
    for url, (headers, body, position) in answers.items():
        plain = client.get(url, headers=headers)
        assert (plain.get_data(), plain.headers["X-Pagination"]) == (body, position), url
    assert any(json.loads(body) for _, body, _ in answers.values())


def test_a_lot_read_whole_and_a_row_of_the_lot_list_dump_alike(client, login_as):
    lot = factories.make_lot(
        factories.make_product(kind="consumable", unit="piece", gtin=GTIN), quantity="1.5"
    )
    headers = login_as("pharmacist")
    one = client.get(f"/api/lots/{lot.id}", headers=headers).get_json()
    [listed] = client.get("/api/lots", headers=headers).get_json()
    assert listed == one == ma.Schema.dump(LotSchema(), lot)
    assert one["gs1_element_string"].startswith(f"01{GTIN}")


@pytest.mark.parametrize(("url", "model"), [("/api/lots", Lot), ("/api/audit", AuditEntry)])
def test_a_page_of_lots_or_of_the_audit_log_is_read_as_rows_without_building_objects(
    client, login_as, url, model
):
    for _ in range(3):
        factories.make_lot(quantity="1")
    headers = login_as("admin")
    built = []

    def loaded(target, context):
        built.append(target)

    event.listen(model, "load", loaded)
    try:
        answer = client.get(url, headers=headers)
    finally:
        event.remove(model, "load", loaded)
    assert answer.status_code == 200 and len(answer.get_json()) >= 3
    assert built == []


@pytest.mark.parametrize(
    ("url", "statements"),
    # The token, then the page; the lot list reads the sites the user works at between them.
    [("/api/lots?page_size=5", 3), ("/api/alerts?page_size=5", 2)],
)
def test_a_first_page_takes_as_many_statements_for_twenty_items_as_for_two(
    login_as, queries_of_get, monkeypatch, url, statements
):
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 8)
    headers = login_as("pharmacist")
    counts = []
    for more in (2, 18):  # 2 items, then 20: more than the count goes
        for _ in range(more):
            factories.make_alert(lot=factories.make_lot(quantity="1"))
        statements, _ = queries_of_get(url, headers=headers)
        counts.append(statements)
    assert counts == [statements, statements]


def test_a_list_longer_than_the_count_goes_says_so_and_keeps_its_page_links(
    client, login_as, monkeypatch
):
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 3)
    product = factories.make_product(kind="consumable", unit="piece")
    for _ in range(5):
        factories.make_lot(product, quantity="1")
    headers = login_as("pharmacist")

    def position(page):
        answer = client.get(f"/api/lots?page_size=2&page={page}", headers=headers)
        assert answer.status_code == 200
        found = json.loads(answer.headers["X-Pagination"])
        return len(answer.get_json()), {k: v for k, v in found.items() if k != "next_after"}

    assert position(1) == (2, {"total_exceeds": 3, "first_page": 1, "page": 1, "next_page": 2})
    assert position(3) == (1, {"total_exceeds": 3, "first_page": 1, "page": 3, "previous_page": 2})
    assert position(4) == (0, {"total_exceeds": 3, "first_page": 1})


def test_a_list_within_the_count_keeps_flask_smorests_header(client, login_as):
    product = factories.make_product(kind="consumable", unit="piece")
    for _ in range(5):
        factories.make_lot(product, quantity="1")
    answer = client.get("/api/lots?page_size=2&page=2", headers=login_as("pharmacist"))
    position = json.loads(answer.headers["X-Pagination"])
    assert position.pop("next_after")
    assert position == {
        "total": 5, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 2,
        "previous_page": 1, "next_page": 3,
    }  # fmt: skip


@pytest.mark.parametrize("url", ["/api/products?page_size=2", "/api/lots?page_size=2"])
def test_a_page_answers_its_size_though_it_reads_one_row_more(client, login_as, url):
    for _ in range(3):
        factories.make_lot(factories.make_product(kind="consumable", unit="piece"), quantity="1")
    answer = client.get(url, headers=login_as("admin"))
    assert len(answer.get_json()) == 2
    assert json.loads(answer.headers["X-Pagination"])["next_page"] == 2


def test_the_last_full_page_has_no_next_cursor(client, login_as):
    product = factories.make_product(kind="consumable", unit="piece")
    for _ in range(4):
        factories.make_lot(product, quantity="1")
    answer = client.get("/api/lots?page_size=2&page=2", headers=login_as("pharmacist"))
    assert json.loads(answer.headers["X-Pagination"])["next_after"] is None


def test_a_query_schema_is_built_once_not_on_every_request(client, login_as, monkeypatch):
    headers = login_as(Role.PHARMACIST)
    assert client.get("/api/lots", headers=headers).status_code == 200
    built = []
    original = LotQuerySchema.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(LotQuerySchema, "__init__", counting)
    for _ in range(3):
        assert client.get("/api/lots?status=available", headers=headers).status_code == 200
    assert built == []


def test_the_bare_app_of_the_benchmark_answers_the_captured_bytes(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import api_throughput

    body = json.dumps([{"id": 1, "quantity": Decimal("1.5").__float__()}]).encode()
    captured = tmp_path / "answer.json"
    captured.write_text(
        json.dumps(
            {"body": body.hex(), "content_type": "application/json", "x_pagination": '{"a": 1}'}
        )
    )
    monkeypatch.setenv(api_throughput.CAPTURED_ENV, str(captured))
    answer = api_throughput.bare_app().test_client().get(api_throughput.URL_PATH)
    assert answer.get_data() == body
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["X-Pagination"] == '{"a": 1}'
