"""What text typed by a person or read from an uploaded file may hold: the rules forms and services share."""

import re
from typing import TypeVar, overload

_T = TypeVar("_T")

# C0 control characters other than tab, newline and carriage return, and DEL. PostgreSQL refuses NUL in text
# outright (the insert raises), and none of them belongs in anything a person types or a file names.
# Written as a regular-expression class that Python and JSON Schema read alike: the API's schemas publish it.
CONTROL_CLASS = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f"
# Line breaks the filter above keeps (for text areas): CR, LF, NEL and the Unicode line and paragraph separators.
BREAK_CLASS = "\\r\\n\\u0085\\u2028\\u2029"

# A phone number to call: a mainland mobile number, or a landline with its area code (028-61234567,
# 0535-6123456, an extension allowed). ASCII digits only ([0-9]: \d would take Arabic-Indic or full-width
# digits); read alike by Python and JSON Schema (the API's).
CONTACT_PHONE = "1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?"
CONTACT_PHONE_MESSAGE = "请填写有效的手机号或带区号的固定电话，如 028-61234567"
_CONTACT_PHONE = re.compile(CONTACT_PHONE)

CONTROL_CHARACTERS = re.compile(f"[{CONTROL_CLASS}]")
LINE_BREAKS = re.compile(f"[{BREAK_CLASS}]")


@overload
def strip_control_characters(value: str) -> str: ...
@overload
def strip_control_characters(value: _T) -> _T: ...
def strip_control_characters(value: object) -> object:
    """``value`` without the control characters above (anything not a string as it is)."""
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


def is_contact_phone(value: object) -> bool:
    # fullmatch, not $: $ would take a trailing newline.
    return isinstance(value, str) and _CONTACT_PHONE.fullmatch(value) is not None


def has_line_break(value: object) -> bool:
    return isinstance(value, str) and LINE_BREAKS.search(value) is not None


def masked_contact(contact: str) -> str:
    """A phone or e-mail as a log or the audit log may keep it: its shape, not the person (139****5678,
    c***@x.cn)."""
    name, at, domain = contact.partition("@")
    if at:
        return f"{name[:1]}***@{domain}"
    return contact[:3] + "*" * max(len(contact) - 7, 0) + contact[-4:] if len(contact) > 7 else "***"
