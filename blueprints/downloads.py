"""Files handed out as downloads: one response for every attachment, its name safe in the header whatever the text."""

import re
import unicodedata
from urllib.parse import quote

from flask import Response, send_file

from services.infra.spreadsheets import XLSX_MIMETYPE

MAX_NAME_LENGTH = 120
# Characters that no file system or header should get from a name: path separators, Windows' reserved ones, quotes.
_RESERVED = re.compile(r'[\\/:*?"<>|;]')
_BLANKS = re.compile(r"\s+")
# RFC 5987 attr-char, left as they are in filename*; everything else is percent-encoded UTF-8.
_ATTR_CHARS = "!#$&+-.^_`|~"


def _clean(name: str) -> str:
    """``name`` with no control, format or line/paragraph separator character (a CR/LF in a course title
    would otherwise split the header, and Werkzeug refuses that with a 500), no path separator, in one
    line of at most MAX_NAME_LENGTH characters that keeps its extension."""
    kept = []
    for char in name:
        category = unicodedata.category(char)
        if category in ("Zl", "Zp") or char in "\r\n\t\x85":
            kept.append(" ")
        elif not category.startswith("C"):  # Cc controls, Cf such as U+202E (reversing "xslx.exe"), Co, Cs, Cn
            kept.append(char)
    text = _BLANKS.sub(" ", _RESERVED.sub("_", "".join(kept))).strip(" .")
    stem, dot, extension = text.rpartition(".")
    if not dot or not stem or len(extension) > 8:
        stem, dot, extension = text, "", ""
    stem = stem[:MAX_NAME_LENGTH - len(dot + extension)].rstrip(" .")
    return f"{stem}{dot}{extension}" if stem else f"download{dot}{extension}"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the whole name as RFC 5987/6266 ``filename*``."""
    clean = _clean(name)
    ascii_name = unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode("ascii")
    stem, dot, extension = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).rpartition(".")
    if not dot:
        stem, extension = extension, ""
    stem = stem.strip("._-") or "download"
    fallback = f"{stem}.{extension}" if extension else stem
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe=_ATTR_CHARS)}"


def attachment(data: bytes, name: str, mimetype: str) -> Response:
    """``data`` as a download called ``name`` (app.py marks it no-store, as every signed-in answer)."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(name)
    return response


def xlsx(data: bytes, name: str) -> Response:
    return attachment(data, name, XLSX_MIMETYPE)


def private_file(path, name: str, mimetype: str) -> Response:
    """A private upload (evidence, an application's attachment) as a download: never rendered from this
    origin, not sniffed, sandboxed if a browser opens it anyway, never cached."""
    response = send_file(path, mimetype=mimetype, as_attachment=True, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response
