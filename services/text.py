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

CONTROL_CHARACTERS = re.compile(f"[{CONTROL_CLASS}]")
LINE_BREAKS = re.compile(f"[{BREAK_CLASS}]")


@overload
def strip_control_characters(value: str) -> str: ...
@overload
def strip_control_characters(value: _T) -> _T: ...
def strip_control_characters(value: object) -> object:
    """``value`` without the control characters above (anything not a string as it is)."""
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


def has_line_break(value: object) -> bool:
    return isinstance(value, str) and LINE_BREAKS.search(value) is not None
