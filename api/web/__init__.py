"""Server-rendered pages of the web interface (Flask-Login sessions, Flask-WTF forms)."""
