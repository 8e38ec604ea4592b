"""The `<id:...>` URL converter of every route, JSON API and pages alike."""

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from core.database import MAX_ID


class IdConverter(BaseConverter):
    """Ids fit a 32-bit integer column on every database: 0 or anything larger is simply not
    found (404) rather than an overflow deep in the driver.

    Not found is raised here rather than refused as a non-match: Werkzeug, finding that the
    path fits another method's rule, would otherwise answer 405 to a PATCH or a DELETE of such
    an id while a GET of it answers 404."""

    regex = r"\d+"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise NotFound()
        return number

    def to_url(self, value) -> str:
        return str(int(value))
