"""`flask users create` and `flask seed`."""

import pytest
from sqlalchemy import func, select

from app import create_app
from clinic.models import Patient
from core.accounts import User
from core.audit import AuditEntry
from core.database import db
from inventory.models import Lot


def test_users_create_makes_a_user_with_a_hashed_password(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "pharm",
            "--role",
            "pharmacist",
            "--email",
            "p@clinic.example",
            "--password",
            "a long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "pharm"))
    assert user.role.value == "pharmacist" and user.check_password("a long enough password")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_id == str(user.id)))
    assert entry.username == "cli"


def test_users_create_prompts_for_the_password_when_not_given(runner):
    result = runner.invoke(
        args=["users", "create", "--username", "doc", "--role", "doctor"],
        input="prompted password\nprompted password\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.username == "doc")).check_password(
        "prompted password"
    )


def test_users_create_refuses_a_short_password_and_a_taken_name(runner):
    short = runner.invoke(
        args=["users", "create", "--username", "a", "--role", "admin", "--password", "short"]
    )
    assert short.exit_code != 0 and "12 characters" in short.output
    runner.invoke(
        args=["users", "create", "--username", "b", "--role", "admin", "--password", "x" * 12]
    )
    taken = runner.invoke(
        args=["users", "create", "--username", "b", "--role", "admin", "--password", "x" * 12]
    )
    assert taken.exit_code != 0 and "already exists" in taken.output


def test_users_create_refuses_an_unknown_role(runner):
    result = runner.invoke(
        args=["users", "create", "--username", "a", "--role", "wizard", "--password", "x" * 12]
    )
    assert result.exit_code != 0


def test_seed_demo_prints_the_demo_logins_and_is_idempotent(runner):
    first = runner.invoke(args=["seed", "--demo"])
    assert first.exit_code == 0, first.output
    assert "doctor / " in first.output
    assert "pharmacist2 / pharmacist2-demo-pass" in first.output
    count = db.session.scalar(select(func.count()).select_from(User))
    second = runner.invoke(args=["seed", "--demo"])
    assert second.exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == count


def test_seed_demo_adds_patients_courses_and_stock_once(runner):
    first = runner.invoke(args=["seed", "--demo"])
    assert first.exit_code == 0, first.output
    assert "3 courses" in first.output
    patients = db.session.scalar(select(func.count()).select_from(Patient))
    lots = db.session.scalar(select(func.count()).select_from(Lot))
    assert patients >= 4 and lots >= 20
    second = runner.invoke(args=["seed", "--demo"])
    assert "0 patients, 0 courses and 0 lots added" in second.output
    assert db.session.scalar(select(func.count()).select_from(Lot)) == lots


def test_the_demo_doctors_today_lists_sessions_from_the_first_start(runner, client):
    assert runner.invoke(args=["seed", "--demo"]).exit_code == 0
    db.session.commit()
    client.post("/login", data={"username": "doctor", "password": "doctor-demo-pass"})
    page = client.get("/today").get_data(as_text=True)
    assert "Carlos Mendes" in page and "HAIR-PN" in page
    assert "Ana Souza" in page and "Maria Costa" in page


def test_production_refuses_demo_data(app, runner):
    app.config["DEMO_DATA_ALLOWED"] = False
    try:
        result = runner.invoke(args=["seed", "--demo"])
    finally:
        app.config["DEMO_DATA_ALLOWED"] = True
    assert result.exit_code != 0
    assert "Demo data is for development" in result.output
    assert db.session.scalar(select(User).where(User.username == "admin")) is None


def test_production_refuses_a_secret_key_shorter_than_32_characters():
    with pytest.raises(RuntimeError, match="shorter than 32"):
        create_app(
            {"CONFIG": "production", "SECRET_KEY": "a", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
        )
    assert create_app(
        {"CONFIG": "production", "SECRET_KEY": "k" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    )
