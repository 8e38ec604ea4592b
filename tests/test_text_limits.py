"""Every free text has a documented maximum: 100,000 characters in a reason or a note is a 422
naming the field, never a 500, and changes nothing."""

import pytest

from core.database import NOTE_LENGTH, REASON_LENGTH
from tests import factories

LONG = "x" * 100_000


@pytest.fixture
def lot(db_session):
    return factories.make_lot()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("adjust", {"quantity": 1, "reason": LONG}, "reason"),
        ("dispose", {"reason": LONG}, "reason"),
        ("recall", {"reason": LONG}, "reason"),
    ],
)
def test_a_lot_reason_past_its_maximum_is_refused(client, login_as, lot, path, body, field):
    response = client.post(f"/api/lots/{lot.id}/{path}", json=body, headers=login_as("pharmacist"))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert client.get(f"/api/lots/{lot.id}", headers=login_as("pharmacist")).json["status"] == (
        "available"
    )


def test_a_reason_at_its_maximum_is_kept(client, login_as, lot):
    body = {"quantity": 1, "reason": "y" * REASON_LENGTH}
    response = client.post(f"/api/lots/{lot.id}/adjust", json=body, headers=login_as("pharmacist"))
    assert response.status_code == 200


def test_a_note_past_its_maximum_is_refused(client, login_as):
    substance = factories.make_substance("note-limit")
    response = client.patch(
        f"/api/substances/{substance.id}",
        json={"note": "n" * (NOTE_LENGTH + 1)},
        headers=login_as("pharmacist"),
    )
    assert response.status_code == 422
    assert "note" in response.get_json()["errors"]


def test_a_session_cancellation_reason_past_its_maximum_is_refused(client, login_as):
    course = factories.make_course()
    session = course.sessions[0]
    response = client.post(
        f"/api/sessions/{session.id}/cancel", json={"reason": LONG}, headers=login_as("doctor")
    )
    assert response.status_code == 422
    assert "reason" in response.get_json()["errors"]
