"""Field validators shared by the forms, with their messages in Chinese."""

import functools
import re

from babel import support
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.i18n import messages_path
from wtforms.validators import Regexp, StopValidation

from services import identifiers, text

# A contact phone, as services.text spells it; \Z, not $: $ would take a trailing newline.
PHONE_PATTERN = re.compile(rf"\A({text.CONTACT_PHONE})\Z")
MOBILE_PATTERN = identifiers.MOBILE


def contact_phone():
    return Regexp(PHONE_PATTERN, message=text.CONTACT_PHONE_MESSAGE)


def mobile_phone():
    return Regexp(MOBILE_PATTERN, message=_l("请填写 11 位手机号"))


def finite_number():
    """Before NumberRange on a DecimalField: "NaN", "sNaN" and "Infinity" parse as Decimals, and a signalling
    NaN makes NumberRange itself raise."""
    def check(form, field):
        if field.data is not None and not field.data.is_finite():
            field.data = None
            raise StopValidation(_l("请填写有效的数字"))
    return check


def bounded(low: int, high: int, message=None):
    """NumberRange that also forgets a value outside it, so that a page drawn again from the invalid form
    never queries or stores it (beyond 64 bits the database driver raises instead of answering)."""
    message = message or _l("数值应在 %(low)s 到 %(high)s 之间", low=low, high=high)

    def check(form, field):
        if field.data is not None and not low <= field.data <= high:
            field.data = None
            raise StopValidation(message)
    return check


# The rules themselves live in services.text, where a service reading an uploaded file applies them too.
CONTROL_CHARACTERS, LINE_BREAKS = text.CONTROL_CHARACTERS, text.LINE_BREAKS
strip_control_characters = text.strip_control_characters


def single_line(form, field):
    """A one-line field refuses a line break: pasted into a course title it would end up splitting a download's
    header, a CSV row or a log line, and nobody can type one into an <input>."""
    if text.has_line_break(field.data):
        raise StopValidation(_l("不能包含换行"))


# StringField subclasses that are not one-line text a person types: a text area is many lines; a password is
# compared as typed (one set before line breaks were refused must still sign in; a new one is refused by the
# service, services.auth.check_new_password); a hidden field is the page's own value, checked by its view.
_NOT_ONE_LINE = (TextAreaField, PasswordField, HiddenField)


@functools.cache
def wtforms_catalog(locale: str) -> support.Translations:
    """WTForms' own messages ("不是有效的整数。") in ``locale``, read from the package once per process."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsTranslations:
    """WTForms' messages in the request's language. Flask-WTF's own reads and parses the catalog again in every
    request that shows one of them (~150 µs: issue 20's profile of the catalog); this keeps each language's."""

    def gettext(self, string: str) -> str:
        return wtforms_catalog(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return wtforms_catalog(str(get_locale())).ungettext(singular, plural, n)


WTFORMS_TRANSLATIONS = _WTFormsTranslations()


class InputForm(FlaskForm):
    """A FlaskForm whose every field drops control characters from its text before validation, and whose
    one-line text fields (StringField, not a text area, a password or a hidden field) refuse line breaks.
    WTForms' own messages come from a catalog read once per process (WTFORMS_TRANSLATIONS)."""

    class Meta:
        def get_translations(self, form):
            return WTFORMS_TRANSLATIONS

        def bind_field(self, form, unbound_field, options):
            filters = [*unbound_field.kwargs.get("filters", ()), strip_control_characters]
            field = unbound_field.bind(form=form, filters=filters, **options)
            if isinstance(field, StringField) and not isinstance(field, _NOT_ONE_LINE):
                field.validators = [single_line, *field.validators]
            return field
