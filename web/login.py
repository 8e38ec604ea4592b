"""Flask-Login's manager: who is signed in to the pages (the JSON API uses bearer tokens)."""

from flask_login import LoginManager

from core.accounts import User
from core.database import db

login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None
