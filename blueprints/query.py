"""Whole numbers read from what a browser sends (query strings, posted id lists): ASCII digits in bounds, or nothing.

``str.isdigit()`` takes "²" (which ``int()`` refuses) and "١٢٣" or "２０２６" (which ``int()`` reads), and a
string of 20 digits is beyond the database's 64-bit integers, where the driver raises instead of finding
nothing: every one of those was a 500 somewhere. Here anything but plain digits in range is absent.
"""

from flask import request

from models._common import MAX_ID

# 18 digits always fit a signed 64-bit integer; the bounds below are narrower anyway.
MAX_DIGITS = 18


def parse_int(raw: str | None, low: int = 0, high: int = MAX_ID) -> int | None:
    """``raw`` as an int when it is 1 to 18 ASCII digits and within ``low``..``high``, else None."""
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_DIGITS:
        return None
    value = int(raw)
    return value if low <= value <= high else None


def query_int(name: str, low: int = 0, high: int = MAX_ID, default: int | None = None) -> int | None:
    """The query parameter ``name`` as an int in ``low``..``high``; ``default`` when absent or malformed."""
    value = parse_int(request.args.get(name), low, high)
    return default if value is None else value


def form_ids(name: str) -> list[int]:
    """The row ids posted under ``name`` (checkboxes of a list); the malformed ones are left out."""
    values = (parse_int(raw, 1) for raw in request.form.getlist(name))
    return [value for value in values if value is not None]
