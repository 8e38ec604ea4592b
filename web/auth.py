"""Sign in and out of the web interface; `/` sends each role to its home page."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from core.audit import set_actor
from core.clock import day_text, moment_text
from core.errors import DomainError
from core.signin import sign_in
from formulary.codes import system_name
from web.login import sign_in_browser, sign_out_browser
from web.pages import ROLE_HOMES, first_error_on_page, quantity_text

bp = Blueprint("web", __name__)
# The texts every page writes the same way: quantities, days and moments (clinic timezone).
bp.add_app_template_filter(quantity_text, "quantity")
bp.add_app_template_filter(day_text, "day")
bp.add_app_template_filter(moment_text, "moment")
bp.add_app_template_filter(system_name, "code_system")
bp.add_app_template_global(first_error_on_page)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400 if form.errors else 200
    try:
        user = sign_in(form.username.data, form.password.data, address=request.remote_addr or "")
    except DomainError as refusal:
        form.password.errors.append(refusal.message)
        return render_template("login.html", form=form), refusal.status
    set_actor(user.id, user.username)
    sign_in_browser(user)
    flash(f"Signed in as {user.username}.", "success")
    return redirect(_safe_next(request.args.get("next")) or url_for("web.home"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    sign_out_browser()
    flash("Signed out.", "info")
    return redirect(url_for("web.login"))


@bp.route("/")
@login_required
def home():
    """Each role starts on its own page."""
    return redirect(url_for(ROLE_HOMES[current_user.role]))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect. Browsers drop tabs and line breaks
    and read a backslash as a slash, so `/\t/evil.example` would leave the site."""
    if not target or any(char.isspace() or char == "\\" or ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
