"""The administrator's pages: an overview (open alerts, scan history, the service's health and
a scan on demand), users (list, create, deactivate and reactivate, the sites they work at),
the clinic's sites, the audit log with its filters, and the condition rules the safety screen
applies."""

import marshmallow as ma
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from clinic.conditions import CONDITION_CODE_HINT, create_condition_rule
from clinic.models import ConditionRule
from core.accounts import PASSWORD_MIN_LENGTH, Role, User, create_user, get_user, update_user
from core.audit import audit_writes, entries_of_writes
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from core.errors import DomainError, Invalid
from core.sites import (
    SITE_ADDRESS_LENGTH,
    SITE_CODE,
    SITE_CODE_HINT,
    SITE_CODE_LENGTH,
    SITE_NAME_LENGTH,
    SITE_PHONE_LENGTH,
    TIMEZONE_NAMES,
    Site,
    accounts_per_site,
    create_site,
    get_site,
    site_list,
    update_site,
)
from formulary.screen import Verdict
from formulary.serums import drafts_waiting
from inventory.alerts import open_counts, recent_scan_runs, service_health
from ops.jobs import scan_in_request
from web.alerts import counts_text
from web.audit_log import kind_choices, write_rows
from web.pages import confirmation_page, confirmed, page_of, role_page, show_domain_error

bp = Blueprint("admin", __name__, url_prefix="/admin")

RECENT_WRITES = 10
RECENT_SCANS = 10


def email_address(form, field) -> None:
    """The same e-mail check as the JSON API's (marshmallow's)."""
    try:
        ma.validate.Email()(field.data)
    except ma.ValidationError:
        raise ValidationError("Not a valid e-mail address.") from None


SITES_HINT = (
    "A pharmacist or a doctor works at one site at least (with none ticked, at the clinic's "
    "only site). An administrator with none ticked works at every site."
)
# The user forms' field is named site_ids, not sites: a form filled from a user (obj=user)
# would read the user's Site objects into it.
USER_FIELDS = {"sites": "site_ids"}


def sites_field() -> SelectMultipleField:
    """The sites as checkboxes labelled with their names; the choices are set per request."""
    return SelectMultipleField(
        "Works at",
        coerce=int,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        description=SITES_HINT,
    )


def with_site_choices(form):
    form.site_ids.choices = [
        SelectChoice(site.id, site.name) for site in db.session.scalars(site_list())
    ]
    return form


class UserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    role = SelectField("Role", choices=[SelectChoice(role.value) for role in Role])
    email = EmailField("E-mail (optional)", validators=[Optional(), Length(max=254), email_address])
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=PASSWORD_MIN_LENGTH)],
        description=f"At least {PASSWORD_MIN_LENGTH} characters; the user can be told it once.",
    )
    alert_emails = BooleanField("Send this user the alert e-mails")
    site_ids = sites_field()


class UserEditForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(role.value) for role in Role])
    email = EmailField("E-mail (optional)", validators=[Optional(), Length(max=254), email_address])
    alert_emails = BooleanField("Send this user the alert e-mails")
    password = PasswordField(
        "New password (optional)",
        validators=[Optional(), Length(min=PASSWORD_MIN_LENGTH)],
        description=f"Leave empty to keep the current one; at least {PASSWORD_MIN_LENGTH} "
        "characters.",
    )
    site_ids = sites_field()


def site_code(value):
    """People type codes as they come; the code is kept in capitals."""
    return value.strip().upper() if isinstance(value, str) else value


def stripped(value):
    return value.strip() if isinstance(value, str) else value


class SiteForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[
            DataRequired(),
            Length(max=SITE_CODE_LENGTH),
            Regexp(rf"{SITE_CODE.pattern}\Z", message=f"Not a site code. {SITE_CODE_HINT}"),
        ],
        filters=[site_code],
        description=f"Printed on transfer notes and written in CSV files. {SITE_CODE_HINT}",
    )
    name = StringField(
        "Name", validators=[DataRequired(), Length(max=SITE_NAME_LENGTH)], filters=[stripped]
    )
    address = TextAreaField(
        "Address (optional)",
        validators=[Optional(), Length(max=SITE_ADDRESS_LENGTH)],
        filters=[stripped],
    )
    phone = StringField(
        "Phone (optional)",
        validators=[Optional(), Length(max=SITE_PHONE_LENGTH)],
        filters=[stripped],
    )
    timezone = SelectField(
        "Time zone",
        choices=[SelectChoice(name) for name in TIMEZONE_NAMES],
        description="The site's local clock.",
    )

    def site_fields(self) -> dict:
        return {
            "code": self.code.data,
            "name": self.name.data,
            "address": self.address.data or None,
            "phone": self.phone.data or None,
            "timezone": self.timezone.data,
        }


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    user = StringField("User", validators=[Optional(), Length(max=80)])
    entity = SelectField(
        "Kind of record",
        choices=[SelectChoice("", "Every kind"), *(SelectChoice(*c) for c in kind_choices())],
        default="",
    )
    # One record's history, from a link on its page (not typed: people don't know ids).
    entity_id = HiddenField(validators=[Optional(), Length(max=60)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class ConditionRuleForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired()],
        description=CONDITION_CODE_HINT,
    )
    label = StringField("Label", validators=[DataRequired(), Length(max=160)])
    verdict = SelectField(
        "Verdict", choices=[SelectChoice(v.value) for v in Verdict if v != Verdict.SAFE]
    )
    message = TextAreaField(
        "Message for the doctor", validators=[DataRequired()], description="Said in plain words."
    )


@bp.route("")
@role_page(Role.ADMIN)
def home():
    return _home()


def _home(status: int = 200):
    counts = dict(db.session.execute(select(User.active, func.count()).group_by(User.active)).all())
    writes = db.session.execute(audit_writes().limit(RECENT_WRITES)).all()
    recent = write_rows(writes, entries_of_writes(writes))
    return render_template(
        "admin/home.html",
        active_users=counts.get(True, 0),
        inactive_users=counts.get(False, 0),
        recent=recent,
        open_alerts=open_counts(),
        scan_runs=recent_scan_runs(RECENT_SCANS),
        recent_scans=RECENT_SCANS,
        health=service_health(utcnow()),
        drafts_waiting=drafts_waiting(),
    ), status


@bp.route("/scan", methods=["POST"])
@role_page(Role.ADMIN)
def scan_now():
    """The daily scan, run now for the clinic's today by the signed-in administrator; its
    digests are queued and sent as the daily scan's are."""
    now = utcnow()
    as_of = clinic_today(now)
    try:
        run = scan_in_request(as_of, now=now)
    except Exception as error:  # noqa: BLE001 - the job logged it and keeps the failed run
        flash(
            f"The scan of {day_text(as_of)} failed ({type(error).__name__}): "
            "see the scan history below. No alert of it was kept.",
            "error",
        )
        return redirect(url_for("admin.home"), 303)
    created = sum(run.counts.values())
    found = f"created {created} alert(s): {counts_text(run.counts)}"
    if not created:
        found = "found nothing new"
    flash(f"The scan of {run.day_text} {found}.", "success")
    return redirect(url_for("admin.home"))


@bp.route("/users")
@role_page(Role.ADMIN)
def users():
    return _users_page(UserForm(formdata=None))


def _users_page(form: UserForm, status: int = 200):
    users = select(User).options(selectinload(User.sites)).order_by(User.username, User.id)
    page = page_of(users)
    form = with_site_choices(form)
    return render_template("admin/users.html", page=page, form=form), status


@bp.route("/users", methods=["POST"])
@role_page(Role.ADMIN)
def add_user():
    form = with_site_choices(UserForm())
    if not form.validate():
        return _users_page(form, status=422)
    try:
        user = create_user(
            username=form.username.data.strip(),
            role=form.role.data,
            password=form.password.data,
            email=form.email.data or None,
            alert_emails=form.alert_emails.data,
            site_ids=form.site_ids.data,
        )
    except DomainError as error:
        return _users_page(form, status=show_domain_error(form, error, USER_FIELDS))
    flash(f"User {user.username} ({user.role.value}) created.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<id:user_id>")
@role_page(Role.ADMIN)
def user_page(user_id):
    user = get_user(user_id)
    return _user_page(user, UserEditForm(obj=user, site_ids=[site.id for site in user.sites]))


def _user_page(user: User, form: UserEditForm, status: int = 200):
    form = with_site_choices(form)
    return render_template("admin/user.html", user=user, form=form), status


@bp.route("/users/<id:user_id>", methods=["POST"])
@role_page(Role.ADMIN)
def edit_user(user_id):
    user = get_user(user_id)
    form = with_site_choices(UserEditForm())
    if not form.validate():
        return _user_page(user, form, status=422)
    changes = {"role": form.role.data, "email": form.email.data or None}
    changes["alert_emails"] = form.alert_emails.data
    changes["sites"] = form.site_ids.data
    if form.password.data:
        changes["password"] = form.password.data
    try:
        update_user(user, changes, by=current_user)
    except DomainError as error:
        status = show_domain_error(form, error, USER_FIELDS)
        return _user_page(user, form, status=status)
    flash(f"{user.username}'s account is saved.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<id:user_id>/active", methods=["POST"])
@role_page(Role.ADMIN)
def set_user_active(user_id):
    user = get_user(user_id)
    active = request.form.get("active") == "1"
    if not active and not confirmed():
        return confirmation_page(
            title=f"Deactivate {user.username}?",
            question=f"Deactivate {user.username} ({user.role.value})?",
            action=f"Yes, deactivate {user.username}",
            cancel_url=url_for("admin.users"),
            details=(
                "They are signed out of every browser and every API token of theirs stops "
                "working now.",
                "You can reactivate the account later, but they must sign in again and new "
                "tokens must be issued.",
            ),
        )
    try:
        update_user(user, {"active": active}, by=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _users_page(UserForm(formdata=None), status=409)
    outcome = "can sign in again" if active else "can no longer sign in"
    flash(f"{user.username} {outcome}.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/sites")
@role_page(Role.ADMIN)
def sites():
    form = SiteForm(formdata=None, timezone=current_app.config["CLINIC_TIMEZONE"])
    return _sites_page(form)


def _sites_page(form: SiteForm, status: int = 200):
    page = page_of(site_list())
    accounts = accounts_per_site()
    return render_template("admin/sites.html", page=page, accounts=accounts, form=form), status


@bp.route("/sites", methods=["POST"])
@role_page(Role.ADMIN)
def add_site():
    form = SiteForm()
    if not form.validate():
        return _sites_page(form, status=422)
    try:
        site = create_site(**form.site_fields())
    except DomainError as error:
        return _sites_page(form, status=show_domain_error(form, error))
    flash(f"Site {site.name} ({site.code}) added.", "success")
    return redirect(url_for("admin.sites"))


@bp.route("/sites/<id:site_id>")
@role_page(Role.ADMIN)
def site_page(site_id):
    site = get_site(site_id)
    return _site_page(site, SiteForm(obj=site))


def _site_page(site: Site, form: SiteForm, status: int = 200):
    return render_template("admin/site.html", site=site, form=form), status


@bp.route("/sites/<id:site_id>", methods=["POST"])
@role_page(Role.ADMIN)
def edit_site(site_id):
    site = get_site(site_id)
    form = SiteForm()
    if not form.validate():
        return _site_page(site, form, status=422)
    try:
        update_site(site, form.site_fields())
    except DomainError as error:
        return _site_page(site, form, status=show_domain_error(form, error))
    flash(f"Site {site.name} is saved.", "success")
    return redirect(url_for("admin.sites"))


@bp.route("/audit")
@role_page(Role.ADMIN)
def audit():
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("admin/audit.html", form=form, page=None), 422
    try:
        writes = audit_writes(
            username=(form.user.data or "").strip() or None,
            entity=form.entity.data or None,
            entity_id=(form.entity_id.data or "").strip() or None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    except Invalid as error:
        status = show_domain_error(form, error)
        return render_template("admin/audit.html", form=form, page=None), status
    page = page_of(writes, scalars=False)
    rows = write_rows(page.items, entries_of_writes(page.items))
    return render_template("admin/audit.html", form=form, page=page, rows=rows)


@bp.route("/condition-rules")
@role_page(Role.ADMIN)
def condition_rules():
    return _rules_page(ConditionRuleForm(formdata=None))


def _rules_page(form: ConditionRuleForm, status: int = 200):
    page = page_of(select(ConditionRule).order_by(ConditionRule.code))
    return render_template("admin/condition_rules.html", page=page, form=form), status


@bp.route("/condition-rules", methods=["POST"])
@role_page(Role.ADMIN)
def add_condition_rule():
    form = ConditionRuleForm()
    if not form.validate():
        return _rules_page(form, status=422)
    try:
        rule = create_condition_rule(
            {
                "code": form.code.data,
                "label": form.label.data.strip(),
                "verdict": Verdict(form.verdict.data),
                "message": form.message.data.strip(),
            }
        )
    except DomainError as error:
        return _rules_page(form, status=show_domain_error(form, error))
    flash(f"Rule {rule.code} added: the screen applies it from now on.", "success")
    return redirect(url_for("admin.condition_rules"))
