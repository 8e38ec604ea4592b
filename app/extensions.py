"""The Flask extensions the factory binds with init_app. (Flask-Login's manager belongs to the
pages: `web.login`; the database handle to every domain: `core.database`.)"""

from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf import CSRFProtect

from app.converters import IdConverter

migrate = Migrate(compare_type=True, render_as_batch=True)
api = Api()
csrf = CSRFProtect()

api.register_converter(IdConverter, lambda converter: {"type": "integer", "minimum": 1})
