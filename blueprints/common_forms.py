"""Forms shared by several areas."""

from flask import flash
from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def field_error(form, error, fallback: str | None = None) -> None:
    """Show a domain error beside its field (``error.field``, else ``fallback``); with neither, as a flash.

    Field errors may be tuples once a form has validated, so the list is rebuilt rather than appended to.
    """
    name = error.field if error.field and error.field in form else fallback
    if name:
        form[name].errors = [*form[name].errors, error.message]
    else:
        flash(error.message, "danger")
