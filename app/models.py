"""Every module that defines tables, imported in one place: the metadata the app, create_all
and Alembic see is whole, whatever else happens to be imported. The mappers are configured
here too, once they are all defined: at start-up, not in the first query of a request or a
command (0.1 to 0.4 s of relationships resolved, on this project's machine)."""

from sqlalchemy.orm import configure_mappers

import clinic.models
import core.accounts
import core.audit
import core.mail
import core.signin
import core.sites
import formulary.models
import inventory.alerts.models
import inventory.counts
import inventory.models
import inventory.purchase_orders
import inventory.suppliers

MODEL_MODULES = (
    core.accounts,
    core.audit,
    core.mail,
    core.signin,
    core.sites,
    formulary.models,
    clinic.models,
    inventory.models,
    inventory.alerts.models,
    inventory.suppliers,
    inventory.purchase_orders,
    inventory.counts,
)

configure_mappers()
