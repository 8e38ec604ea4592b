"""Flask-Login's manager: who is signed in to the pages (the JSON API uses bearer tokens).

The session cookie holds the user's id and the key of a stored sign-in (`core.accounts`
WebSession): a cookie whose sign-in was ended (signed out, password changed, deactivated)
opens nothing, even though Flask cannot take the cookie itself back."""

from flask import session
from flask_login import LoginManager, login_user, logout_user

from core.accounts import User, end_web_session, start_web_session, web_session_user

login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message_category = "info"


SIGN_IN_KEY = "sign_in"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    return web_session_user(int(user_id), session.get(SIGN_IN_KEY))


def sign_in_browser(user: User) -> None:
    login_user(user)
    session[SIGN_IN_KEY] = start_web_session(user)


def sign_out_browser() -> None:
    end_web_session(session.pop(SIGN_IN_KEY, None))
    logout_user()
