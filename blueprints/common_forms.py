"""Forms shared by several areas."""

from flask import flash
from flask_wtf import FlaskForm

from services.errors import Invalid


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def field_error(form, error, fallback: str | None = None) -> None:
    """Show a domain error beside its field (``error.field``, else ``fallback``); with neither, as a flash.
    An Invalid names several fields: each message goes beside its own, the same way.

    Field errors may be tuples once a form has validated, so the list is rebuilt rather than appended to.
    """
    problems = error.fields if isinstance(error, Invalid) else {error.field: error.message}
    for field, message in problems.items():
        name = field if field and field in form else fallback
        if name:
            form[name].errors = [*form[name].errors, message]
        else:
            flash(message, "danger")
