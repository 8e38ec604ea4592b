"""The `<id:...>` URL converter of every route, JSON API and pages alike."""

from werkzeug.routing import IntegerConverter

from core.database import MAX_ID


class IdConverter(IntegerConverter):
    """Ids fit a 32-bit integer column on every database: anything larger is simply not found
    (404) rather than an overflow deep in the driver."""

    def __init__(self, map, **kwargs):
        super().__init__(map, min=1, max=MAX_ID)
