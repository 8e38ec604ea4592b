"""Every Flask extension, created unbound here and bound by the app factory with init_app."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf import CSRFProtect

from api.common import IdConverter
from core.database import db

migrate = Migrate(compare_type=True, render_as_batch=True)
api = Api()
login_manager = LoginManager()
csrf = CSRFProtect()

api.register_converter(IdConverter, lambda converter: {"type": "integer", "minimum": 1})

__all__ = ["api", "csrf", "db", "login_manager", "migrate"]
