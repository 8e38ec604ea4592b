"""A formula changes only as a draft, also when requests race (SPEC 3.2), on SQLite and on
PostgreSQL: an edit racing the draft's approval either lands before it (and the approval then
checks the edited formula) or is refused after it; two approvals of one draft give one."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from core.accounts import create_user
from core.database import db
from formulary.models import Serum, SerumStatus, Substance
from formulary.seed import seed_catalogue

ROUNDS = 8
PASSWORD = "a long test password"
SAFE = {"value": 1, "unit": "mg"}  # biotin's maximum is 5 mg/mL: 1 mg in a 1 mL dose is fine
TEN_TIMES_THE_MAXIMUM = {"value": 50, "unit": "mg"}


@pytest.mark.server
def test_an_edit_racing_the_approval_never_changes_an_approved_formula(live_app, live_server):
    with live_app.app_context():
        seed_catalogue()
        create_user("race-writer", "pharmacist", password=PASSWORD)
        create_user("race-approver", "admin", password=PASSWORD)
        biotin = db.session.scalar(select(Substance.id).where(Substance.name == "biotin"))
        db.session.commit()
    writer = live_server.token("race-writer", PASSWORD)
    approver = live_server.token("race-approver", PASSWORD)
    outcomes = []
    for round_number in range(ROUNDS):
        status, draft = live_server.request(
            "POST",
            "/api/serums",
            {"code": f"RACE-{round_number}", "name": "Biotin race", "source": "compounded",
             "dose_volume_ml": 1,
             "components": [{"substance_id": biotin, "amount_per_dose": SAFE}]},
            token=writer,
        )  # fmt: skip
        assert status == 201, draft
        start = threading.Barrier(3)

        def approve(_, serum_id=draft["id"], start=start):
            start.wait()
            return live_server.request("POST", f"/api/serums/{serum_id}/approve", token=approver)

        def edit(serum_id=draft["id"], start=start):
            start.wait()
            body = {"components": [{"substance_id": biotin,
                                    "amount_per_dose": TEN_TIMES_THE_MAXIMUM}]}  # fmt: skip
            return live_server.request("PATCH", f"/api/serums/{serum_id}", body, token=writer)

        with ThreadPoolExecutor(max_workers=3) as pool:
            racing = [pool.submit(approve, n) for n in range(2)], pool.submit(edit)
            approvals, edited = [f.result() for f in racing[0]], racing[1].result()
        with live_app.app_context():
            serum = db.session.get(Serum, draft["id"])
            amounts = [c.amount_value for c in serum.components]
            outcomes.append((serum.status, amounts, sorted(s for s, _ in approvals), edited[0]))

    for status, amounts, approval_statuses, edit_status in outcomes:
        assert approval_statuses.count(200) <= 1, outcomes
        if status == SerumStatus.APPROVED:
            assert amounts == [1], outcomes  # the edit came too late and was refused
            assert edit_status == 409, outcomes
        else:  # the edit came first: both approvals checked 50 mg and refused it
            assert (status, approval_statuses, edit_status) == (
                SerumStatus.DRAFT,
                [422, 422],
                200,
            ), outcomes
