"""Who receives serums: patients, allergies, conditions, courses, sessions, side effects."""
