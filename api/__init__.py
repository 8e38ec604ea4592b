"""The JSON API: flask-smorest blueprints, one module per resource, over the domain operations.

Handlers parse (schemas in `api.schemas`), call one domain operation and answer; the rules
live in the domain packages. Nothing here imports the pages (`web/`).
"""
