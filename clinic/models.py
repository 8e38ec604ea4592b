"""Clinic tables: patients, allergies, conditions, courses, sessions and side effects."""
