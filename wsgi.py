"""Entry point for gunicorn and `flask --app wsgi`: the only module that builds an app at import."""

from api import create_app

app = create_app()
