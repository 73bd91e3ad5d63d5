"""What text typed by a person or read from an uploaded file may hold: the rules forms and services share."""

import re

# C0 control characters other than tab, newline and carriage return, and DEL. PostgreSQL refuses NUL in text
# outright (the insert raises), and none of them belongs in anything a person types or a file names.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Line breaks the filter above keeps (for text areas): CR, LF, NEL and the Unicode line and paragraph separators.
LINE_BREAKS = re.compile("[\r\n\x85\u2028\u2029]")


def strip_control_characters(value):
    """``value`` without the control characters above (anything not a string as it is)."""
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


def has_line_break(value) -> bool:
    return isinstance(value, str) and LINE_BREAKS.search(value) is not None
