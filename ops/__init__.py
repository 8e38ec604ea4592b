"""Running the clinic's work outside a request: the command line (`flask --app wsgi ...`), the
scheduler and the jobs both run. Each command and job is a boundary that ends its own unit of
work; nothing here imports the JSON API or the pages.
"""
