"""The formulary's pages (SPEC 3.1, 3.2, 3.4): substances, cross-reactivity groups, products
and serum formulas, kept by pharmacists through the same rules as the JSON API. Every form
shows all its errors at once next to their fields, in the clinic's words, and a refused form
changes nothing."""

import html as markup
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.database import db
from core.errors import Invalid
from formulary.models import (
    CrossReactivityGroup,
    Serum,
    SerumStatus,
    Substance,
)
from formulary.serums import approve
from inventory.lots import Expiry, receive
from inventory.models import Lot, Product, Storage
from tests import factories


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    return markup.unescape(found.group(1)) if found else ""


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def pharmacist(sign_in_page):
    return sign_in_page("pharmacist")


def serum_row(index: int, substance: str = "", amount: str = "", unit: str = "mg") -> dict:
    return {
        f"components-{index}-substance": substance,
        f"components-{index}-amount": amount,
        f"components-{index}-unit": unit,
    }


def serum_form(*rows: dict, blank_rows: int = 0, **fields) -> dict:
    data = {"code": "HAIR-NEW", "name": "Hair booster", "source": "compounded",
            "dose_volume_ml": "2", **fields}  # fmt: skip
    for row in rows:
        data.update(row)
    for index in range(len(rows), len(rows) + blank_rows):
        data.update(serum_row(index))
    return data


# --- who may use the pages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/formulary",
        "/formulary/substances",
        "/formulary/cross-reactivity",
        "/formulary/products",
        "/formulary/serums",
        "/formulary/serums/new",
    ],
)
def test_the_formulary_pages_are_for_pharmacists_and_administrators(client, sign_in_page, url):
    sign_in_page("doctor")
    response = client.get(url)
    assert response.status_code == 403
    assert "This page is for administrators and pharmacists." in html(response)


def test_the_pharmacists_menu_leads_to_the_formulary(client, pharmacist):
    page = html(client.get("/stock"))
    assert '<a href="/formulary">Formulary</a>' in page
    home = html(client.get("/formulary"))
    for link in ("/formulary/substances", "/formulary/cross-reactivity", "/formulary/products",
                 "/formulary/serums", "/formulary/serums/new", "/formulary/approvals"):  # fmt: skip
        assert f'href="{link}"' in home


# --- substances --------------------------------------------------------------------------------


def test_the_substance_list_finds_a_substance_by_a_synonym_in_any_case(client, pharmacist):
    factories.make_substance("cyanocobalamin", synonyms=["B12"])
    factories.make_substance("biotin")
    page = html(client.get("/formulary/substances?q=b12"))
    assert "cyanocobalamin" in page and "biotin" not in page


def test_the_substance_list_filters_by_category(client, pharmacist):
    factories.make_substance("zinc gluconate", category="trace_element")
    factories.make_substance("biotin", category="vitamin")
    page = html(client.get("/formulary/substances?category=trace_element"))
    assert "zinc gluconate" in page and "biotin" not in page


def test_the_substance_list_sends_the_same_number_of_queries_for_few_and_many(
    client, pharmacist, queries_of_get
):
    cobalt = factories.make_substance("cobalt", category="trace_element")
    vitamins = factories.make_class("B vitamins", category="vitamin")
    factories.make_substance(synonyms=["one"], parents=[vitamins.id], contains=[cobalt.id])
    few = queries_of_get("/formulary/substances")[0]
    for number in range(55):  # more than a page
        factories.make_substance(
            synonyms=[f"other {number}"], parents=[vitamins.id], contains=[cobalt.id]
        )
    count_many, response = queries_of_get("/formulary/substances")
    assert count_many == few
    assert "Page 1 of" in html(response)


def test_a_substance_page_shows_its_classes_allergens_synonyms_and_groups(client, pharmacist):
    cobalt = factories.make_substance("cobalt", category="trace_element")
    vitamins = factories.make_class("B vitamins", category="vitamin")
    b12 = factories.make_substance(
        "cyanocobalamin", synonyms=["B12"], parents=[vitamins.id], contains=[cobalt.id]
    )
    other = factories.make_substance("nickel", category="trace_element")
    factories.make_cross_reactivity_group("metal allergens", members=[cobalt, other])

    page = html(client.get(f"/formulary/substances/{b12.id}"))

    assert "B12" in page
    assert f'href="/formulary/substances/{vitamins.id}">B vitamins</a>' in page
    assert f'href="/formulary/substances/{cobalt.id}">cobalt</a>' in page
    assert "cyanocobalamin contains cobalt" in page
    assert "metal allergens" in page and "(through cyanocobalamin contains cobalt)" in page
    class_page = html(client.get(f"/formulary/substances/{vitamins.id}"))
    assert "In this class" in class_page and "cyanocobalamin" in class_page


def test_a_substance_is_added_with_its_classes_and_allergens_named_by_any_name(client, pharmacist):
    factories.make_substance("cobalt", category="trace_element", synonyms=["Co"])
    factories.make_class("B vitamins", category="vitamin")
    response = client.post(
        "/formulary/substances/new",
        data={
            "name": "hydroxocobalamin",
            "category": "vitamin",
            "synonyms": "B12a\nhydroxo-B12\n",
            "parents": "b vitamins",
            "contains": "co",
            "max_value": "0.5",
            "max_unit": "mg",
        },
    )
    assert response.status_code == 302, html(response)
    substance = db.session.scalar(select(Substance).where(Substance.name == "hydroxocobalamin"))
    assert [s.name for s in substance.synonyms] == ["B12a", "hydroxo-B12"]
    assert [s.name for s in substance.parents] == ["B vitamins"]
    assert [s.name for s in substance.contains] == ["cobalt"]
    assert substance.max_concentration_per_ml == {"value": Decimal("0.5"), "unit": "mg"}
    assert response.headers["Location"] == f"/formulary/substances/{substance.id}"


def test_a_substance_form_shows_every_error_at_once_next_to_its_field_and_adds_nothing(
    client, pharmacist
):
    factories.make_substance("selenium", category="trace_element")
    before = count(Substance)
    response = client.post(
        "/formulary/substances/new",
        data={"name": "", "category": "vitamin", "parents": "B vitamns", "contains": "selenum",
              "max_value": "2", "max_unit": ""},
    )  # fmt: skip
    page = html(response)
    assert response.status_code == 422
    assert field_error(page, "name") == "This field is required."
    assert field_error(page, "parents") == "'B vitamns' is not in the catalogue."
    assert field_error(page, "contains") == (
        "'selenum' is not in the catalogue. Did you mean: selenium?"
    )
    assert field_error(page, "max_unit") == "Choose the unit of the maximum."
    assert count(Substance) == before


def test_a_name_already_used_as_a_synonym_is_refused_next_to_the_name(client, pharmacist):
    factories.make_substance("procaine", category="anaesthetic", synonyms=["Novocain"])
    before = count(Substance)
    response = client.post(
        "/formulary/substances/new", data={"name": "novocain", "category": "anaesthetic"}
    )
    assert response.status_code == 409
    assert field_error(html(response), "name") == "'novocain' is already used by procaine."
    assert count(Substance) == before


def test_an_edit_that_would_make_a_cycle_is_refused_next_to_is_a_and_changes_nothing(
    client, pharmacist
):
    esters = factories.make_class("ester local anaesthetics", category="anaesthetic")
    procaine = factories.make_substance(
        "procaine", category="anaesthetic", parents=[esters.id], synonyms=["Novocain"]
    )
    response = client.post(
        f"/formulary/substances/{esters.id}/edit",
        data={"name": "ester local anaesthetics", "category": "anaesthetic", "is_class": "y",
              "parents": "Novocain", "synonyms": "esters"},
    )  # fmt: skip
    assert response.status_code == 422
    assert field_error(html(response), "parents") == (
        "ester local anaesthetics is a procaine would make a cycle: "
        "procaine -> ester local anaesthetics -> procaine"
    )
    db.session.expire_all()
    assert esters.parents == [] and esters.synonyms == []
    assert [s.name for s in procaine.parents] == ["ester local anaesthetics"]


def test_editing_a_substance_shows_its_fields_and_replaces_its_synonyms(client, pharmacist):
    biotin = factories.make_substance("biotin", synonyms=["vitamin H", "B7"])
    form = html(client.get(f"/formulary/substances/{biotin.id}/edit"))
    assert "B7\nvitamin H</textarea>" in form
    response = client.post(
        f"/formulary/substances/{biotin.id}/edit",
        data={"name": "biotin", "category": "vitamin", "synonyms": "B7\ncoenzyme R"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [s.name for s in biotin.synonyms] == ["B7", "coenzyme R"]


# --- cross-reactivity groups ---------------------------------------------------------------------


def test_a_group_is_added_with_members_named_by_any_name(client, pharmacist):
    esters = factories.make_class("ester local anaesthetics", category="anaesthetic")
    factories.make_substance("para-aminobenzoic acid", category="other", synonyms=["PABA"])
    response = client.post(
        "/formulary/cross-reactivity/new",
        data={"name": "esters and PABA", "members": "ester local anaesthetics\npaba"},
    )
    assert response.status_code == 302, html(response)
    group = db.session.scalar(select(CrossReactivityGroup))
    assert [m.name for m in group.members] == ["ester local anaesthetics", "para-aminobenzoic acid"]
    page = html(client.get(f"/formulary/cross-reactivity/{group.id}"))
    assert f'href="/formulary/substances/{esters.id}">ester local anaesthetics</a>' in page


def test_a_group_needs_two_known_members_and_says_so_next_to_them(client, pharmacist):
    factories.make_substance("procaine", category="anaesthetic")
    response = client.post(
        "/formulary/cross-reactivity/new", data={"name": "", "members": "procaine"}
    )
    page = html(response)
    assert response.status_code == 422
    assert field_error(page, "name") == "This field is required."
    assert count(CrossReactivityGroup) == 0
    response = client.post(
        "/formulary/cross-reactivity/new", data={"name": "esters", "members": "procaine"}
    )
    assert response.status_code == 422
    assert (
        field_error(html(response), "members") == "A group links at least 2 different substances."
    )
    assert count(CrossReactivityGroup) == 0


def test_editing_a_group_changes_its_members(client, pharmacist):
    a, b, c = (factories.make_substance(name) for name in ("alpha", "beta", "gamma"))
    group = factories.make_cross_reactivity_group("greek", members=[a, b])
    response = client.post(
        f"/formulary/cross-reactivity/{group.id}/edit",
        data={"name": "greek letters", "members": "alpha\ngamma", "note": "made up"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (group.name, [m.name for m in group.members], group.note) == (
        "greek letters",
        ["alpha", "gamma"],
        "made up",
    )
    assert c in group.members


# --- products ------------------------------------------------------------------------------------


def test_a_component_product_is_added_with_its_substance_by_name_and_its_usual_storage(
    client, pharmacist
):
    biotin = factories.make_substance("biotin", synonyms=["vitamin H"])
    response = client.post(
        "/formulary/products/new",
        data={"kind": "component", "name": "Biotin powder", "unit": "g", "substance": "Vitamin H",
              "serum_id": "", "gtin": "7612345000053", "reorder_point": "5",
              "days_after_opening": "", "storage": "refrigerated"},
    )  # fmt: skip
    assert response.status_code == 302, html(response)
    product = db.session.scalar(select(Product).where(Product.name == "Biotin powder"))
    assert (product.substance_id, product.gtin, product.storage) == (
        biotin.id,
        "07612345000053",
        Storage.REFRIGERATED,
    )
    assert product.days_after_opening == 28  # a component's default
    listed = html(client.get("/formulary/products"))
    assert "Biotin powder" in listed and "07612345000053" in listed and "refrigerated" in listed


def test_a_product_form_shows_every_error_at_once_in_the_clinics_words(client, pharmacist):
    before = count(Product)
    response = client.post(
        "/formulary/products/new",
        data={"kind": "component", "name": "", "unit": "g", "substance": "biotine",
              "serum_id": "", "reorder_point": "-1", "storage": "room"},
    )  # fmt: skip
    page = html(response)
    assert response.status_code == 422
    assert field_error(page, "name") == "This field is required."
    assert field_error(page, "substance") == "'biotine' is not in the catalogue."
    assert field_error(page, "reorder_point") == "Cannot be below 0."
    response = client.post(
        "/formulary/products/new",
        data={"kind": "component", "name": "Powder", "unit": "g", "substance": "",
              "serum_id": "", "reorder_point": "0", "storage": "room"},
    )  # fmt: skip
    assert response.status_code == 422
    assert field_error(html(response), "substance") == "A component product names its substance."
    assert count(Product) == before


def test_a_gtin_of_another_product_is_refused_naming_that_product_not_its_id(client, pharmacist):
    factories.make_product(kind="consumable", name="Needle 30G", gtin="09501101530003")
    response = client.post(
        "/formulary/products/new",
        data={"kind": "consumable", "name": "Needle 32G", "unit": "piece", "serum_id": "",
              "gtin": "9501101530003", "reorder_point": "0", "storage": "room"},
    )  # fmt: skip
    page = html(response)
    assert response.status_code == 409
    assert field_error(page, "gtin") == "Already the GTIN of Needle 30G."
    assert "GTIN 09501101530003 already belongs to Needle 30G." in page
    assert count(Product) == 1


def test_the_unit_of_a_product_with_lots_cannot_change_and_nothing_is_saved(client, pharmacist):
    product = factories.make_product(kind="consumable", name="Syringe", unit="piece")
    factories.make_lot(product)
    form = html(client.get(f"/formulary/products/{product.id}/edit"))
    assert 'value="Syringe"' in form
    response = client.post(
        f"/formulary/products/{product.id}/edit",
        data={"kind": "consumable", "name": "Syringe 1 mL", "unit": "box", "serum_id": "",
              "reorder_point": "0", "storage": "room"},
    )  # fmt: skip
    assert response.status_code == 409
    assert field_error(html(response), "unit") == "Lots exist: its quantities are counted in it."
    db.session.expire_all()
    assert (product.name, product.unit) == ("Syringe", "piece")


def test_editing_a_product_changes_its_usual_storage(client, pharmacist):
    product = factories.make_product(kind="consumable", name="Gauze", unit="piece")
    response = client.post(
        f"/formulary/products/{product.id}/edit",
        data={"kind": "consumable", "name": "Gauze", "unit": "piece", "serum_id": "",
              "reorder_point": "10", "storage": "frozen"},
    )  # fmt: skip
    assert response.status_code == 302
    db.session.expire_all()
    assert (product.storage, product.reorder_point) == (Storage.FROZEN, Decimal(10))


def test_a_lot_received_without_a_storage_is_put_where_its_product_is_usually_kept():
    product = factories.make_product(kind="consumable", storage="refrigerated")
    expiry = Expiry(factories.STOCK_NOW.date().replace(year=2030))
    receipt = {"quantity": Decimal(1), "user_id": None, "now": factories.STOCK_NOW}
    kept = receive(product_id=product.id, lot_number="L-1", expiry=expiry, **receipt).lot
    moved = receive(
        product_id=product.id, lot_number="L-2", expiry=expiry, storage="room", **receipt
    ).lot
    assert (kept.storage, moved.storage) == (Storage.REFRIGERATED, Storage.ROOM)


def test_the_api_answers_and_takes_a_products_usual_storage(client, login_as):
    headers = login_as("pharmacist")
    created = client.post(
        "/api/products",
        headers=headers,
        json={"kind": "consumable", "name": "Cold pack", "unit": "piece", "storage": "frozen"},
    )
    assert created.status_code == 201 and created.get_json()["storage"] == "frozen"
    changed = client.patch(
        f"/api/products/{created.get_json()['id']}", headers=headers, json={"storage": "room"}
    )
    assert changed.get_json()["storage"] == "room"


# --- serum formulas ------------------------------------------------------------------------------


def test_a_draft_is_written_with_the_components_of_the_filled_rows(client, pharmacist):
    factories.make_substance("cyanocobalamin", synonyms=["B12"])
    factories.make_substance("biotin")
    response = client.post(
        "/formulary/serums/new",
        data=serum_form(
            serum_row(0, "b12", "0.5", "mg"),
            serum_row(1),
            serum_row(2, "Biotin", "500", "ug"),
            blank_rows=1,
        ),
    )
    assert response.status_code == 302, html(response)
    serum = db.session.scalar(select(Serum).where(Serum.code == "HAIR-NEW"))
    assert (serum.version, serum.status, serum.author_id) == (1, SerumStatus.DRAFT, pharmacist.id)
    assert [(c.substance.name, c.amount_value, c.amount_unit) for c in serum.components] == [
        ("cyanocobalamin", Decimal("0.5"), "mg"),
        ("biotin", Decimal("500"), "ug"),
    ]
    assert response.headers["Location"] == f"/formulary/serums/{serum.id}"
    page = html(client.get(response.headers["Location"]))
    assert "0.25 mg" in page  # 0.5 mg in a 2 mL dose
    assert "another person approves it" in page


def test_add_more_rows_keeps_what_was_typed_and_saves_nothing(client, pharmacist):
    page = html(client.get("/formulary/serums/new"))
    assert page.count('name="components-') == 4 * 3  # four blank rows of three fields
    response = client.post(
        "/formulary/serums/new",
        data={**serum_form(serum_row(0, "biotin", "1"), blank_rows=3), "add_rows": "1"},
    )
    page = html(response)
    assert response.status_code == 200
    assert 'name="components-7-substance"' in page and 'value="biotin"' in page
    assert count(Serum) == 0


def test_a_formula_form_marks_every_wrong_row_at_once_and_saves_nothing(client, pharmacist):
    factories.make_substance("selenium", category="trace_element")
    response = client.post(
        "/formulary/serums/new",
        data=serum_form(
            serum_row(0, "selenum", "1"),
            serum_row(1, "selenium", ""),
            serum_row(2, "", "3"),
            serum_row(3, "selenium", "0"),
            dose_volume_ml="",
            code="",
        ),
    )
    page = html(response)
    assert response.status_code == 422
    assert field_error(page, "code") == "This field is required."
    assert field_error(page, "dose_volume_ml") == "This field is required."
    assert field_error(page, "components-0-substance") == (
        "'selenum' is not in the catalogue. Did you mean: selenium?"
    )
    assert field_error(page, "components-1-amount") == "Give the amount per dose."
    assert field_error(page, "components-2-substance") == "Name the substance."
    assert field_error(page, "components-3-amount") == "Must be more than 0."
    assert 'value="selenum"' in page  # what was typed stays
    assert count(Serum) == 0


def test_the_catalogues_refusal_of_a_component_is_shown_on_its_own_row(client, pharmacist):
    factories.make_class("B vitamins")
    factories.make_substance("biotin", synonyms=["vitamin H"])
    response = client.post(
        "/formulary/serums/new",
        data=serum_form(serum_row(0, "biotin", "1"), serum_row(1), serum_row(2, "B vitamins", "1"),
                        serum_row(3, "vitamin H", "2")),
    )  # fmt: skip
    page = html(response)
    assert response.status_code == 422
    assert field_error(page, "components-2-substance") == (
        "B vitamins is a class of substances, not an ingredient."
    )
    assert field_error(page, "components-3-substance") == "biotin is listed twice."
    assert count(Serum) == 0


def test_a_code_in_use_is_refused_next_to_the_code(client, pharmacist):
    factories.make_serum(code="HAIR-NEW")
    response = client.post("/formulary/serums/new", data=serum_form())
    page = html(response)
    assert response.status_code == 409
    assert field_error(page, "code") == "Taken."
    assert "a change to it is a new version of that serum" in page
    assert count(Serum) == 1


def test_editing_a_draft_replaces_its_components_and_marks_the_editor(client, sign_in_page):
    author = factories.make_user(role="pharmacist")
    biotin, zinc = factories.make_substance("biotin"), factories.make_substance("zinc")
    draft = factories.make_serum(author=author, components=[(biotin, 1, "mg")])
    editor = sign_in_page("pharmacist")

    form = html(client.get(f"/formulary/serums/{draft.id}/edit"))
    assert 'value="biotin"' in form and 'name="code"' not in form

    response = client.post(
        f"/formulary/serums/{draft.id}/edit",
        data=serum_form(serum_row(0, "zinc", "2"), serum_row(1, "biotin", "1.5"), name="Renamed"),
    )
    assert response.status_code == 302, html(response)
    db.session.expire_all()
    assert draft.name == "Renamed" and draft.code != "HAIR-NEW"
    assert [(c.substance_id, c.amount_value) for c in draft.components] == [
        (zinc.id, Decimal(2)),
        (biotin.id, Decimal("1.5")),
    ]
    assert draft.editors == [editor]
    assert "changed by " + editor.username in html(client.get(f"/formulary/serums/{draft.id}"))


def test_an_approved_version_cannot_be_edited_only_followed_by_a_new_version(client, pharmacist):
    serum = factories.make_approved_serum(name="Hair vitamins")
    response = client.get(f"/formulary/serums/{serum.id}/edit")
    assert response.status_code == 409
    assert "is approved and cannot be edited: only a draft can." in html(response)
    response = client.post(
        f"/formulary/serums/{serum.id}/edit", data=serum_form(name="Changed anyway")
    )
    assert response.status_code == 409
    db.session.expire_all()
    assert serum.name == "Hair vitamins"


def test_a_new_version_of_an_approved_serum_is_a_draft_copy_to_edit(client, pharmacist):
    biotin = factories.make_substance("biotin")
    serum = factories.make_approved_serum(components=[(biotin, 1, "mg")])
    page = html(client.get(f"/formulary/serums/{serum.id}"))
    assert "Start version 2 from this one" in page

    response = client.post(f"/formulary/serums/{serum.id}/versions")

    draft = db.session.scalar(
        select(Serum).where(Serum.code == serum.code, Serum.status == SerumStatus.DRAFT)
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/formulary/serums/{draft.id}/edit"
    assert (draft.version, draft.author_id) == (2, pharmacist.id)
    assert [c.substance_id for c in draft.components] == [biotin.id]
    again = client.post(f"/formulary/serums/{serum.id}/versions")
    assert again.status_code == 409
    assert f"{serum.code} has a draft already (version 2)" in html(again)
    assert count(Serum) == 2


def test_retiring_asks_first_and_changes_nothing_until_the_yes(client, pharmacist):
    serum = factories.make_approved_serum(name="Hair vitamins")
    page = html(client.get(f"/formulary/serums/{serum.id}"))
    assert 'data-confirm="Retire' in page

    asked = client.post(f"/formulary/serums/{serum.id}/retire")
    assert asked.status_code == 200
    assert f"Retire {serum.code} version 1 (Hair vitamins)?" in html(asked)
    assert 'name="confirmed" value="yes"' in html(asked)
    db.session.expire_all()
    assert serum.status == SerumStatus.APPROVED

    done = client.post(f"/formulary/serums/{serum.id}/retire", data={"confirmed": "yes"})
    assert done.status_code == 302
    db.session.expire_all()
    assert serum.status == SerumStatus.RETIRED
    again = client.post(f"/formulary/serums/{serum.id}/retire", data={"confirmed": "yes"})
    assert again.status_code == 409 and "is retired already" in html(again)


def test_the_serum_list_shows_each_versions_status_and_filters_by_it(client, pharmacist):
    approved = factories.make_approved_serum(code="HAIR-A")
    factories.make_serum(code="HAIR-D")
    page = html(client.get("/formulary/serums"))
    assert "HAIR-A version 1" in page and "HAIR-D version 1" in page
    assert "badge-formula-approved" in page and "badge-formula-draft" in page
    drafts = html(client.get("/formulary/serums?status=draft"))
    assert "HAIR-D" in drafts and "HAIR-A" not in drafts
    assert "HAIR-A" in html(client.get("/formulary/serums?q=hair-a"))
    assert approved.approved_at is not None


def test_a_draft_above_a_maximum_concentration_is_marked_before_its_approval(client, pharmacist):
    lidocaine = factories.make_substance(
        "lidocaine", category="anaesthetic", max_concentration_per_ml={"value": 5, "unit": "mg"}
    )
    draft = factories.make_serum(components=[(lidocaine, 20, "mg")], dose_volume_ml=2)
    page = html(client.get(f"/formulary/serums/{draft.id}"))
    assert "10 mg per mL is above its maximum of 5 mg per mL." in page
    with pytest.raises(Invalid, match="Approval refused for lidocaine"):
        approve(draft, factories.make_user(role="admin"))


def test_the_receive_form_puts_a_lot_where_its_product_is_usually_kept_unless_told(
    client, pharmacist
):
    product = factories.make_product(kind="consumable", name="Cold gel", storage="refrigerated")
    fields = {"product_id": product.id, "expiry_date": "2099-12-31", "quantity": "3"}
    assert client.post("/stock/receive", data={**fields, "lot_number": "G-1"}).status_code == 302
    assert (
        client.post(
            "/stock/receive", data={**fields, "lot_number": "G-2", "storage": "room"}
        ).status_code
        == 302
    )
    stored = dict(
        db.session.execute(
            select(Lot.lot_number, Lot.storage).where(Lot.product_id == product.id)
        ).all()
    )
    assert stored == {"G-1": Storage.REFRIGERATED, "G-2": Storage.ROOM}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-sNaN", "1e400"])
def test_a_number_that_is_no_amount_is_refused_next_to_its_field_not_a_500(
    client, pharmacist, number
):
    factories.make_substance("biotin")
    response = client.post(
        "/formulary/serums/new",
        data=serum_form(serum_row(0, "biotin", number), dose_volume_ml=number),
    )
    page = html(response)
    assert response.status_code == 422
    assert field_error(page, "components-0-amount") in ("Not a number.", "Too large a number.")
    assert field_error(page, "dose_volume_ml") in ("Not a number.", "Too large a number.")
    response = client.post(
        "/formulary/substances/new",
        data={"name": "x", "category": "vitamin", "max_value": number, "max_unit": "mg"},
    )
    assert response.status_code == 422
    assert count(Serum) == 0


def test_the_group_product_and_formula_lists_send_as_many_queries_for_many_rows_as_for_few(
    client, pharmacist, queries_of_get
):
    def add_rows():
        members = [factories.make_substance(), factories.make_substance()]
        factories.make_cross_reactivity_group(members=members)
        factories.make_product(kind="component", substance_id=members[0].id)
        serum = factories.make_approved_serum(components=[(members[1], 1, "mg")])
        factories.make_serum_product(serum)
        factories.make_serum(author=serum.author, components=[(members[0], 1, "mg")])

    urls = ("/formulary/cross-reactivity", "/formulary/products", "/formulary/serums", "/formulary")
    add_rows()
    few = [queries_of_get(url)[0] for url in urls]
    for _ in range(6):
        add_rows()
    assert [queries_of_get(url)[0] for url in urls] == few
