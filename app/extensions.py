"""The Flask extensions the factory binds with init_app. (Flask-Login's manager belongs to the
pages: `web.login`; the database handle to every domain: `core.database`.)"""

from flask_babel import Babel
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf import CSRFProtect

from api.schemas.errors import ErrorSchema
from app.converters import IdConverter
from core.database import MAX_ID

migrate = Migrate(compare_type=True, render_as_batch=True)
api = Api()
api.ERROR_SCHEMA = ErrorSchema
csrf = CSRFProtect()
# What patients read (reminders) in their language; no locale selector, so the staff's pages
# stay in the default, English.
babel = Babel()

api.register_converter(
    IdConverter, lambda converter: {"type": "integer", "minimum": 1, "maximum": MAX_ID}
)
