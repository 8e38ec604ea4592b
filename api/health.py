"""GET /api/health: is the service able to do its job (`inventory.alerts.health`)."""

from api.blueprint import Blueprint
from api.schemas.health import HealthSchema
from core.clock import utcnow
from inventory.alerts.health import service_health

blp = Blueprint("health", __name__, url_prefix="/api", description="Service health.")


@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health():
    """Answers 200 while the process runs; `status` says whether it is doing its job."""
    return service_health(utcnow())
