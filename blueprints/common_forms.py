"""Forms shared by several areas."""

from flask import flash

from blueprints.validators import InputForm
from services.errors import Invalid


class ActionForm(InputForm):
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


def judged_too(form, judge) -> None:
    """A form its own validators refused (a field missing or unreadable) is also judged by the domain's rules,
    ``judge()``, which saves nothing, so that one submit shows every fault: the domain's faults go beside the
    fields the form found nothing wrong with. A field the form could not read reaches ``judge`` empty; the
    form's word on it (its type, that it is missing) is the one shown. A submit without a valid CSRF token is
    not judged: it is no one's form."""
    if "csrf_token" in form and form.csrf_token.errors:
        return
    try:
        judge()
    except Invalid as error:
        for field, message in error.fields.items():
            if field in form and not form[field].errors:
                form[field].errors = [*form[field].errors, message]
