"""The clinic's guide to patients, before and after a mesotherapy session (SPEC 3.6): printed
on the aftercare sheet and sent with the reminders, in the patient's language (the message
catalogues under translations/; these English texts are their keys)."""

from flask_babel import lazy_gettext as _l

BEFORE = (
    _l(
        "Limit aspirin and other blood thinners before the session (ask your doctor first if "
        "they were prescribed to you): they raise the risk of bruising."
    ),
    _l("Wash your hair the day before or on the morning of the session."),
)
AFTER = (
    _l("Do not wash your hair (no shampoo) for 48 hours."),
    _l("No swimming and no sauna for 48 hours."),
)
