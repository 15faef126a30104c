"""Custody use-cases by feature (DESIGN.md, Words): deposits, releases, exams, safeguarding,
people, queries, and the hardware log; :mod:`kiosk.usecases.base` holds the shared unit of
work and event helper."""
