"""Configuration classes.

Every environment variable the product reads (SPEC section 6) is read here and nowhere else.
`config_for(name)` picks the class; the app factory may also be handed a mapping (tests do).
"""

import os
from decimal import Decimal
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent / "instance"


def database_url(url: str | None) -> str | None:
    """A plain `postgresql://` URL means psycopg 3, not SQLAlchemy's default psycopg2."""
    if not url:
        return url
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _expiry_alert_days(raw: str) -> tuple[int, ...]:
    days = sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True)
    if not days or any(day <= 0 for day in days):
        raise ValueError(f"EXPIRY_ALERT_DAYS must list positive whole days, got {raw!r}")
    return tuple(days)


def _review_weeks(raw: str) -> int:
    weeks = int(raw)
    if not 10 <= weeks <= 12:
        raise ValueError(
            f"REVIEW_WEEKS_AFTER_FIRST_SESSION must be 10 to 12 weeks (2 to 3 months), got {raw!r}"
        )
    return weeks


def _reminder_hour(raw: str) -> int:
    hour = int(raw)
    if not 0 <= hour <= 23:
        raise ValueError(f"REMINDER_HOUR must be an hour of the day, 0 to 23, got {raw!r}")
    return hour


def _at_least_one(name: str, default: str) -> int:
    raw = os.environ.get(name, default)
    value = int(raw)
    if value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return value


def _decimal(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite() or value < 0:
        raise ValueError(f"A count approval threshold must be a number of 0 or more, got {raw!r}")
    return value


def _flag(raw: str | None, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class BaseConfig:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL")) or (
        f"sqlite:///{INSTANCE_DIR / 'formulary.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "UTC")
    EXPIRY_ALERT_DAYS = _expiry_alert_days(os.environ.get("EXPIRY_ALERT_DAYS", "90,60,30,7"))
    SCAN_TIME = os.environ.get("SCAN_TIME", "06:00")
    # How far ahead the daily scan looks for planned sessions that stock will not cover.
    SHORTFALL_ALERT_WEEKS = int(os.environ.get("SHORTFALL_ALERT_WEEKS", "4"))
    # Reorder suggestions cover the supplier's lead time and this many days after it.
    REORDER_SAFETY_DAYS = int(os.environ.get("REORDER_SAFETY_DAYS", "7"))
    # How far past its ordered quantity an order line may be received, in percent.
    PURCHASE_OVER_RECEIPT_TOLERANCE = float(os.environ.get("PURCHASE_OVER_RECEIPT_TOLERANCE", "10"))
    SCHEDULER_ENABLED = _flag(os.environ.get("SCHEDULER_ENABLED"), default=False)
    # On PostgreSQL several `flask scheduler run` processes may run: one works, holding the
    # scheduler lock, and each other one tries to take it this often (seconds), and checks
    # this often that it still holds it once it works.
    SCHEDULER_LEADER_POLL_SECONDS = float(os.environ.get("SCHEDULER_LEADER_POLL_SECONDS", "15"))
    # How often (seconds) the scheduler sends what waits in the outbox.
    OUTBOX_RETRY_SECONDS = float(os.environ.get("OUTBOX_RETRY_SECONDS", "300"))
    # Set by the `flask` command line (every command, `flask run` included) and by Werkzeug in
    # the reloader's child: together they tell the development server from gunicorn workers.
    RUN_FROM_CLI = _flag(os.environ.get("FLASK_RUN_FROM_CLI"), default=False)
    RELOADER_CHILD = _flag(os.environ.get("WERKZEUG_RUN_MAIN"), default=False)
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_FROM = os.environ.get("MAIL_FROM", "serum-formulary@localhost")
    # Seconds an SMTP conversation may stall before the message goes back to the queue: a mail
    # server that accepts connections and never answers must not hold the delivery job.
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "5"))
    # The clinic's letterhead on the patient's aftercare sheet.
    CLINIC_NAME = os.environ.get("CLINIC_NAME", "")
    CLINIC_ADDRESS = os.environ.get("CLINIC_ADDRESS", "")
    CLINIC_PHONE = os.environ.get("CLINIC_PHONE", "")
    # The review of a course (its results, and whether to go on): this many weeks after the
    # first session, as the clinic's guide says results take 2 to 3 months to show.
    REVIEW_WEEKS_AFTER_FIRST_SESSION = _review_weeks(
        os.environ.get("REVIEW_WEEKS_AFTER_FIRST_SESSION", "11")
    )
    # Scalp photos of assessments: the largest upload taken (bytes), the longest side kept
    # (pixels; larger photos are scaled down), and where they are stored, by content hash.
    PHOTO_MAX_BYTES = int(os.environ.get("PHOTO_MAX_BYTES", str(10 * 1024 * 1024)))
    PHOTO_MAX_PIXELS = int(os.environ.get("PHOTO_MAX_PIXELS", "2048"))
    PHOTO_FOLDER = os.environ.get("PHOTO_FOLDER") or str(INSTANCE_DIR / "photos")
    # Patient reminders: the day before a session (REMINDER_DAYS_BEFORE days before, at
    # REMINDER_HOUR on the clinic's wall clock), looked for every REMINDER_INTERVAL_SECONDS;
    # the aftercare advice after a session completed within the last AFTERCARE_WITHIN_HOURS.
    REMINDER_DAYS_BEFORE = int(os.environ.get("REMINDER_DAYS_BEFORE", "1"))
    REMINDER_HOUR = _reminder_hour(os.environ.get("REMINDER_HOUR", "9"))
    REMINDER_INTERVAL_SECONDS = float(os.environ.get("REMINDER_INTERVAL_SECONDS", "600"))
    AFTERCARE_WITHIN_HOURS = int(os.environ.get("AFTERCARE_WITHIN_HOURS", "24"))
    # A refrigerated or frozen lot longer than this many hours between shipment and receipt
    # arrives in quarantine at the other site, to be checked before release.
    TRANSFER_COLD_CHAIN_HOURS = int(os.environ.get("TRANSFER_COLD_CHAIN_HOURS", "8"))
    # Vigilance: an adverse-signal alert when this many sessions with one lot had an allergic
    # reaction or a severe side effect within this many days.
    VIGILANCE_SIGNAL_COUNT = _at_least_one("VIGILANCE_SIGNAL_COUNT", "3")
    VIGILANCE_SIGNAL_DAYS = _at_least_one("VIGILANCE_SIGNAL_DAYS", "30")
    # A stock count's variance beyond either needs a second pharmacist's approval: more than
    # this many units of a lot, or worth more than this at the product's unit cost (where the
    # product has one).
    COUNT_APPROVAL_QUANTITY = _decimal(os.environ.get("COUNT_APPROVAL_QUANTITY", "2"))
    COUNT_APPROVAL_VALUE = _decimal(os.environ.get("COUNT_APPROVAL_VALUE", "100"))
    # `flask seed --demo` creates users whose passwords are printed in the README.
    DEMO_DATA_ALLOWED = False

    TOKEN_LIFETIME_HOURS = int(os.environ.get("TOKEN_LIFETIME_HOURS", "12"))
    # How many reverse proxies (a TLS terminator, a load balancer) stand in front of the app:
    # the client's address, which the sign-in throttle counts by, is the one the nearest of
    # them reports in X-Forwarded-For. 0 (the default) trusts no header.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    PASSWORD_HASH_METHOD = "scrypt"

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_ENABLED = True
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024

    API_TITLE = "Serum formulary"
    API_VERSION = "1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    # Swagger UI's files come from the swagger-ui-bundle package, served by the app itself.
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


class DevelopmentConfig(BaseConfig):
    DEBUG = True
    DEMO_DATA_ALLOWED = True
    CLINIC_NAME = BaseConfig.CLINIC_NAME or "Demo hair clinic"
    CLINIC_ADDRESS = BaseConfig.CLINIC_ADDRESS or "1 Example Street, Example Town"
    CLINIC_PHONE = BaseConfig.CLINIC_PHONE or "+1 555 0100"
    SECRET_KEY = BaseConfig.SECRET_KEY or "development-only-secret-key"
    SCHEDULER_ENABLED = _flag(os.environ.get("SCHEDULER_ENABLED"), default=True)


class TestingConfig(BaseConfig):
    TESTING = True
    DEMO_DATA_ALLOWED = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("TEST_DATABASE_URL")) or "sqlite://"
    SCHEDULER_ENABLED = False
    WTF_CSRF_ENABLED = False
    MAIL_SERVER = None
    # Still a salted key-derivation hash, but cheap enough for a suite that creates many users.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:2000"


class ProductionConfig(BaseConfig):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None = None) -> type[BaseConfig]:
    name = name or os.environ.get("FLASK_CONFIG") or "production"
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(
            f"FLASK_CONFIG must be one of {', '.join(CONFIGS)}, got {name!r}"
        ) from None
