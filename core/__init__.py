"""What every domain package stands on: the database handle, users and roles, the audit log,
domain errors and the clinic's clock. It knows nothing of HTTP."""
