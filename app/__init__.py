"""The app factory: binds the extensions, the JSON API (`api/`), the pages (`web/`), the
command line and the scheduler (`ops/`), the error handlers and the request's unit of work.

This is the one package that knows every boundary; nothing imports it but `wsgi.py`, the
tests and the benchmarks.
"""

from pathlib import Path

import swagger_ui_bundle
from flask import Flask, request, send_from_directory
from werkzeug.middleware.proxy_fix import ProxyFix

from api import (
    alerts,
    assessments,
    audit,
    batches,
    condition_rules,
    counts,
    courses,
    cross_reactivity,
    forecast,
    health,
    lots,
    patients,
    products,
    purchase_orders,
    serums,
    sites,
    substances,
    suppliers,
    transfers,
    users,
    vigilance,
)
from api.documentation import complete_the_document
from app.converters import IdConverter
from app.errors import register_error_handlers
from app.extensions import api, babel, csrf, migrate
from app.models import MODEL_MODULES
from app.security import register_security_headers
from config import BaseConfig, config_for
from core.audit import SYSTEM, set_actor
from core.database import db, end_unit_of_work, sqlite_write_intent
from ops.cli import register_cli
from ops.scheduler import register_scheduler
from web import admin as web_admin
from web import aftercare as web_aftercare
from web import alerts as web_alerts
from web import auth as web_auth
from web import sites as web_sites
from web import vigilance as web_vigilance
from web.doctor import patients as doctor_patients
from web.doctor import results as doctor_results
from web.doctor import today as doctor_today
from web.formulary import approvals as formulary_approvals
from web.formulary import common as formulary_home
from web.formulary import groups as formulary_groups
from web.formulary import products as formulary_products
from web.formulary import serums as formulary_serums
from web.formulary import substances as formulary_substances
from web.login import login_manager
from web.stock import batches as stock_batches
from web.stock import board as stock_board
from web.stock import counts as stock_counts
from web.stock import lists as stock_lists
from web.stock import lots as stock_lots
from web.stock import purchasing as stock_purchasing
from web.stock import trace as stock_trace
from web.stock import transfers as stock_transfers

# Imported for its side effect: every table is in the metadata before anything uses it.
assert MODEL_MODULES

ROOT = Path(__file__).resolve().parent.parent
MIN_SECRET_KEY_LENGTH = 32
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REST_BLUEPRINTS = [
    users.blp,
    sites.blp,
    transfers.blp,
    audit.blp,
    health.blp,
    substances.blp,
    cross_reactivity.blp,
    serums.blp,
    patients.blp,
    condition_rules.blp,
    products.blp,
    lots.blp,
    counts.blp,
    courses.blp,
    assessments.blp,
    batches.blp,
    forecast.blp,
    alerts.blp,
    vigilance.blp,
    suppliers.blp,
    purchase_orders.blp,
]
WEB_BLUEPRINTS = [
    web_auth.bp,
    stock_board.bp,
    stock_lots.bp,
    stock_lists.bp,
    stock_trace.bp,
    stock_transfers.bp,
    stock_batches.bp,
    stock_purchasing.bp,
    stock_counts.bp,
    doctor_patients.bp,
    doctor_results.bp,
    doctor_today.bp,
    web_admin.bp,
    web_aftercare.bp,
    web_alerts.bp,
    web_sites.bp,
    web_vigilance.bp,
    formulary_home.bp,
    formulary_substances.bp,
    formulary_groups.bp,
    formulary_products.bp,
    formulary_serums.bp,
    formulary_approvals.bp,
]


def create_app(config: type[BaseConfig] | dict | str | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    _load_config(app, config)
    _trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_request_hooks(app)
    register_security_headers(app)
    register_cli(app)
    register_scheduler(app)
    return app


def _load_config(app: Flask, config) -> None:
    overrides = config if isinstance(config, dict) else {}
    name = None if isinstance(config, dict) else config
    base = name if isinstance(name, type) else config_for(name or overrides.get("CONFIG"))
    app.config.from_object(base)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set. Set it in the environment (or instance/config.py); "
            "for local development use FLASK_CONFIG=development."
        )
    if not (app.debug or app.testing) and len(app.config["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(
            f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters: anyone who guesses"
            " it can forge a session. Generate one with"
            " `python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(exist_ok=True)


def _trust_proxies(app: Flask) -> None:
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    app.url_map.converters["id"] = IdConverter
    api.init_app(app)
    complete_the_document(api)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, default_translation_directories=str(ROOT / "translations"))


def register_blueprints(app: Flask) -> None:
    for blueprint in REST_BLUEPRINTS:
        api.register_blueprint(blueprint)
        # The JSON API authenticates with bearer tokens, not cookies: no CSRF to forge.
        csrf.exempt(blueprint)
    for blueprint in WEB_BLUEPRINTS:
        app.register_blueprint(blueprint)
    _serve_swagger_ui_assets(app)


def _serve_swagger_ui_assets(app: Flask) -> None:
    @app.route("/api/docs/assets/<path:filename>")
    def swagger_ui_asset(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def start_request():
        sqlite_write_intent.set(request.method in WRITE_METHODS)

    @app.teardown_request
    def end_request(error=None):
        # Threads serve one request after another: nothing of this one may leak into the next.
        set_actor(SYSTEM.user_id, SYSTEM.username)
        sqlite_write_intent.set(False)

    @app.after_request
    def commit_or_roll_back(response):
        """One transaction per request: a write that answered 2xx/3xx is committed, anything
        else is rolled back, so a refused request changes nothing."""
        commit = request.method in WRITE_METHODS and response.status_code < 400
        try:
            end_unit_of_work(commit=commit)
        except Exception as error:  # noqa: BLE001 - answered as JSON below
            db.session.rollback()
            return app.make_response(app.handle_user_exception(error))
        return response
