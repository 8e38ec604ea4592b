"""The JSON API\x27s marshmallow schemas, one module per resource (shared fields in `fields`)."""
