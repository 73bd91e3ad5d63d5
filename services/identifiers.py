"""Identifiers people type (ID numbers, phones, codes, logins), each reduced to its one ASCII spelling.

Every path that stores, compares or looks up an identifier goes through here first, so that one number
typed two ways is one number: "１３９…" (full-width), "١٣٩…" (Arabic-Indic), "139 0000 0001" and a copy
carrying a zero-width space all name the same account. Python's ``str.isdigit()``, ``\\d`` and ``int()``
accept the digits of every script, so validation after this runs on ASCII only (``is_ascii_digits``).
"""

import re
import unicodedata

# Invisible characters a copy from a chat, a web page or a spreadsheet carries along: Unicode format
# characters (Cf: zero-width space and joiners, the byte-order mark, bidirectional marks, soft hyphen) and
# controls (Cc). They change nothing a person sees, so they must change nothing we compare.
_INVISIBLE = frozenset({"Cf", "Cc"})
# What people type between groups of digits ("139-0000-0001", "110105 19491231 002X"): spaces of every kind
# and dashes of every kind (Pd: hyphen, en dash, the full-width hyphen-minus, …).
_SEPARATORS = frozenset({"Zs", "Pd"})


def canonical(text: str | None) -> str:
    """``text`` in one spelling: NFKC (full-width letters, digits and signs become ASCII), the decimal
    digits of every script as ASCII digits, no invisible format or control characters, no spaces around."""
    if text is not None and text.isascii() and text.isalnum():
        return text  # already its one spelling (the usual number, typed or sent as it should be): 20× faster
    out = []
    for ch in unicodedata.normalize("NFKC", text or ""):
        category = unicodedata.category(ch)
        if category == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        elif category not in _INVISIBLE:
            out.append(ch)
    return "".join(out).strip()


def compact(text: str | None) -> str:
    """``canonical`` without the spaces and dashes people type to group digits."""
    spelled = canonical(text)
    if spelled.isascii() and spelled.isalnum():
        return spelled
    return "".join(ch for ch in spelled if unicodedata.category(ch) not in _SEPARATORS)


def id_number(raw: str | None) -> str:
    """A resident ID number as validated, stored, hashed and looked up: ASCII, upper-case X, ungrouped."""
    return compact(raw).upper()


def phone(raw: str | None) -> str:
    """A mobile number as validated, stored and looked up: ASCII digits, ungrouped."""
    return compact(raw)


# A mainland mobile number in its one spelling (phone): 11 ASCII digits, 1 then 3–9. The one rule every
# form and service that takes a mobile number checks against.
MOBILE = re.compile(r"\A1[3-9][0-9]{9}\Z")


def is_mobile(number: str) -> bool:
    return MOBILE.match(number) is not None


def code(raw: str | None) -> str:
    """A code printed for people to type back (a certificate's): ASCII, upper-case, ungrouped."""
    return compact(raw).upper()


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more of 0–9 (``str.isdigit()`` also takes "²", "١" and "１")."""
    return text.isascii() and text.isdigit()
