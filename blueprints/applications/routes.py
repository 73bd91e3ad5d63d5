"""Applicant views: the application form and the page that follows an application."""

from blueprints.applications import bp  # noqa: F401
