"""Every module that defines tables, imported in one place: the metadata the app, create_all
and Alembic see is whole, whatever else happens to be imported."""

import clinic.models
import core.accounts
import core.audit
import core.mail
import core.signin
import core.sites
import formulary.models
import inventory.alerts.models
import inventory.models

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
)
