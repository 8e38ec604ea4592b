"""The approval queue (SPEC 3.2): every draft waiting for a second person, with what it changes
from the version it replaces, approved after a confirmation, never by whoever wrote or changed
it (the formulary's rule, which the JSON API obeys too)."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.database import db
from formulary import serums
from formulary.models import Serum, SerumStatus
from tests import factories


def html(response) -> str:
    return response.get_data(as_text=True)


def draft_card(page: str, code: str) -> str:
    start = page.index(f'data-serum="{code}"')
    end = page.find("</section>", start)
    return page[start:end]


@pytest.fixture
def admin(sign_in_page):
    return sign_in_page("admin")


def next_version(serum: Serum, author=None, **changes) -> Serum:
    draft = serums.new_version(serum, author=author or factories.make_user(role="pharmacist"))
    if changes:
        serums.update_draft(draft, changes=changes)
    db.session.commit()
    return draft


def components(*triples):
    return [
        {"substance_id": s.id, "amount_per_dose": {"value": value, "unit": unit}}
        for s, value, unit in triples
    ]


# --- who reaches the queue -----------------------------------------------------------------------


def test_the_queue_is_linked_from_the_admin_menu_and_overview(client, admin):
    factories.make_serum()
    home = html(client.get("/admin"))
    assert '<a href="/formulary/approvals">Approvals</a>' in home
    assert "1</strong> draft formula waiting for a second person" in home
    assert "Open the approval queue" in home


def test_doctors_cannot_open_the_queue_nor_approve(client, sign_in_page):
    draft = factories.make_serum(components=[(factories.make_substance(), 1, "mg")])
    sign_in_page("doctor")
    assert client.get("/formulary/approvals").status_code == 403
    assert client.post(f"/formulary/approvals/{draft.id}/approve").status_code == 403
    db.session.expire_all()
    assert draft.status == SerumStatus.DRAFT


# --- what a draft changes ------------------------------------------------------------------------


def test_each_draft_shows_its_changes_from_the_approved_version_it_replaces(client, admin):
    biotin, zinc, panthenol = (factories.make_substance(n) for n in ("biotin", "zinc", "panthenol"))
    approved = factories.make_approved_serum(
        code="HAIR-V", components=[(biotin, 1, "mg"), (zinc, 2, "mg")], dose_volume_ml=2
    )
    next_version(
        approved,
        dose_volume_ml=Decimal(3),
        components=components((biotin, 1.5, "mg"), (panthenol, 50, "mg")),
    )

    card = draft_card(html(client.get("/formulary/approvals")), "HAIR-V")

    assert "Changes from version 1 (approved)" in card
    assert '<tr class="change-changed"><td>biotin</td><td>changed</td>' in card
    assert '1 mg</td><td class="num">1.5 mg' in card
    assert '<tr class="change-added"><td>panthenol</td>' in card
    assert '<tr class="change-removed"><td>zinc</td>' in card
    assert "Dose volume: 2 mL → 3 mL" in card


def test_a_serums_first_draft_shows_every_component_as_new(client, admin):
    factories.make_serum(code="HAIR-1", components=[(factories.make_substance("biotin"), 1, "mg")])
    card = draft_card(html(client.get("/formulary/approvals")), "HAIR-1")
    assert "A new serum: every component is new" in card
    assert '<tr class="change-added"><td>biotin</td>' in card


def test_the_same_amount_in_another_unit_is_no_change():
    biotin = factories.make_substance("biotin")
    approved = factories.make_approved_serum(components=[(biotin, 1, "mg")])
    draft = next_version(approved, components=components((biotin, 1000, "ug")))
    changes = serums.formula_changes(draft, serums.versions_replaced([draft])[draft.id])
    assert changes.base == approved and changes.any is False


def test_a_draft_after_a_retired_version_is_compared_with_that_version():
    biotin = factories.make_substance("biotin")
    approved = factories.make_approved_serum(components=[(biotin, 1, "mg")])
    serums.retire(approved)
    draft = next_version(approved, components=components((biotin, 2, "mg")))
    assert serums.versions_replaced([draft]) == {draft.id: approved}


def test_the_queue_sends_the_same_number_of_queries_for_few_and_many_drafts(
    client, admin, queries_of_get
):
    substance = factories.make_substance()

    def add_draft_with_history():
        approved = factories.make_approved_serum(components=[(substance, 1, "mg")])
        next_version(approved, components=components((substance, 2, "mg")))

    add_draft_with_history()
    few = queries_of_get("/formulary/approvals")[0]
    for _ in range(8):
        add_draft_with_history()
    many, response = queries_of_get("/formulary/approvals")
    assert many == few
    assert html(response).count('<tr class="change-changed">') == 9


# --- approving ------------------------------------------------------------------------------------


def test_approving_asks_first_and_changes_nothing_until_the_yes(client, admin):
    biotin = factories.make_substance("biotin")
    approved = factories.make_approved_serum(code="HAIR-V", components=[(biotin, 1, "mg")])
    draft = next_version(approved, components=components((biotin, 2, "mg")))
    card = draft_card(html(client.get("/formulary/approvals")), "HAIR-V")
    assert 'data-confirm="Approve HAIR-V version 2' in card and "Version 1 is then retired." in card

    asked = client.post(f"/formulary/approvals/{draft.id}/approve")

    page = html(asked)
    assert asked.status_code == 200
    assert "Approve HAIR-V version 2" in page
    assert "It replaces version 1, which is then retired." in page
    assert "biotin: 1 mg → 2 mg" in page
    db.session.expire_all()
    assert (draft.status, approved.status) == (SerumStatus.DRAFT, SerumStatus.APPROVED)


def test_approving_with_the_yes_approves_and_retires_the_version_it_replaces(client, admin):
    biotin = factories.make_substance("biotin")
    approved = factories.make_approved_serum(code="HAIR-V", components=[(biotin, 1, "mg")])
    draft = next_version(approved, components=components((biotin, 2, "mg")))

    response = client.post(f"/formulary/approvals/{draft.id}/approve", data={"confirmed": "yes"})

    assert response.status_code == 302 and response.headers["Location"] == "/formulary/approvals"
    db.session.expire_all()
    assert (draft.status, draft.approved_by_id) == (SerumStatus.APPROVED, admin.id)
    assert approved.status == SerumStatus.RETIRED
    page = html(client.get("/formulary/approvals"))
    assert "HAIR-V version 2 (Serum HAIR-V) is approved: doctors can choose it now." in page
    assert 'data-serum="HAIR-V"' not in page and "No draft is waiting for approval." in page


def test_the_author_sees_no_approve_button_and_a_forged_approval_is_refused(client, sign_in_page):
    author = sign_in_page("pharmacist")
    draft = factories.make_serum(
        author=author, code="HAIR-OWN", components=[(factories.make_substance(), 1, "mg")]
    )
    card = draft_card(html(client.get("/formulary/approvals")), "HAIR-OWN")
    assert "You wrote this draft: another person approves it." in card
    assert "<button" not in card

    for data in ({}, {"confirmed": "yes"}):
        refused = client.post(f"/formulary/approvals/{draft.id}/approve", data=data)
        assert refused.status_code == 409
        assert f"{author.username} wrote this draft of HAIR-OWN and cannot also approve it" in html(
            refused
        )
    db.session.expire_all()
    assert draft.status == SerumStatus.DRAFT


def test_whoever_changed_a_draft_cannot_approve_it_on_the_page(client, sign_in_page):
    draft = factories.make_serum(code="HAIR-ED", components=[(factories.make_substance(), 1, "mg")])
    editor = sign_in_page("admin")
    client.post(
        f"/formulary/serums/{draft.id}/edit",
        data={"name": "Edited", "source": "compounded", "dose_volume_ml": "2",
              "components-0-substance": draft.components[0].substance.name,
              "components-0-amount": "3", "components-0-unit": "mg"},
    )  # fmt: skip
    card = draft_card(html(client.get("/formulary/approvals")), "HAIR-ED")
    assert "You changed this draft: another person approves it." in card
    refused = client.post(f"/formulary/approvals/{draft.id}/approve", data={"confirmed": "yes"})
    assert refused.status_code == 409
    assert f"{editor.username} changed this draft of HAIR-ED" in html(refused)
    db.session.expire_all()
    assert draft.status == SerumStatus.DRAFT


def test_whoever_changed_a_draft_through_the_api_cannot_approve_it_there(client, login_as):
    draft = factories.make_serum(components=[(factories.make_substance(), 1, "mg")])
    editor = factories.make_user(role="pharmacist")
    headers = login_as(editor)
    edited = client.patch(f"/api/serums/{draft.id}", headers=headers, json={"name": "Edited"})
    assert edited.status_code == 200 and edited.get_json()["editors"] == [editor.username]

    refused = client.post(f"/api/serums/{draft.id}/approve", headers=headers)

    assert refused.status_code == 409
    assert "cannot also approve it" in refused.get_json()["message"]
    approved = client.post(f"/api/serums/{draft.id}/approve", headers=login_as("admin"))
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"


def test_an_approval_the_rules_refuse_is_shown_on_its_draft_and_changes_nothing(client, admin):
    lidocaine = factories.make_substance(
        "lidocaine", category="anaesthetic", max_concentration_per_ml={"value": 5, "unit": "mg"}
    )
    over = factories.make_serum(code="HAIR-HI", components=[(lidocaine, 20, "mg")])
    empty = factories.make_serum(code="HAIR-EMPTY")
    page = html(client.get("/formulary/approvals"))
    assert "Approval will be refused: lidocaine: 10 mg per mL is above" in draft_card(
        page, "HAIR-HI"
    )

    refused = client.post(f"/formulary/approvals/{over.id}/approve", data={"confirmed": "yes"})
    assert refused.status_code == 422
    card = draft_card(html(refused), "HAIR-HI")
    assert "Approval refused for lidocaine." in card
    refused = client.post(f"/formulary/approvals/{empty.id}/approve", data={"confirmed": "yes"})
    assert refused.status_code == 422
    assert "A serum without components cannot be approved." in draft_card(
        html(refused), "HAIR-EMPTY"
    )
    db.session.expire_all()
    assert {s.status for s in db.session.scalars(select(Serum))} == {SerumStatus.DRAFT}
