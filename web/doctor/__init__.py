"""The doctor's pages: patients (`patients`: search, the patient page, allergies, conditions,
stage, courses and sessions), what the patient page shows of courses (`panel`), and their
forms (`forms`). Administrators may read these pages; only doctors change anything."""
