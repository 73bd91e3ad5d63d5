"""Evidence files of declarations: PDF, JPEG or PNG checked by content, at most 10 MB, stored privately
under random names and only ever served as downloads.

A picture is stored stripped of its metadata (services.infra.images.without_metadata: upright, pixels only, no
EXIF GPS or camera, comments or text chunks). A PDF is stored as uploaded, its document information (author,
producer, dates) included: rewriting it could change what it shows, and it is what the learner chose to send.
"""

import hashlib
import re
import secrets
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from extensions import db
from models import Evidence
from services.errors import DomainError
from services.infra import images
from services.infra.transaction import on_rollback

TYPES = {"PDF": "application/pdf", "JPEG": "image/jpeg", "PNG": "image/png"}
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


class EvidenceRejected(DomainError):
    """An evidence file that is empty, too large, or not the PDF, JPEG or PNG it claims to be."""


def _kind(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-2048:]:
            raise EvidenceRejected("PDF 文件不完整或已损坏")
        return "PDF"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
                probe.verify()
            if kind in ("JPEG", "MPO", "PNG"):
                # A picture that cannot be shown is no evidence: refused when it claims more pixels than an
                # image upload may have (a bomb in a small file), or when it does not decode to the end
                # (verify() reads a JPEG's headers only, so a truncated one would pass).
                if width * height > current_app.config["IMAGE_MAX_PIXELS"]:
                    raise EvidenceRejected("图片像素过多，请缩小后再上传")
                with PILImage.open(BytesIO(data)) as image:
                    image.load()
    except EvidenceRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PILImage.DecompressionBombError,
            PILImage.DecompressionBombWarning) as exc:
        raise EvidenceRejected("证明材料只接受 PDF、JPEG 或 PNG 文件") from exc
    if kind == "MPO":
        kind = "JPEG"
    if kind not in TYPES:
        raise EvidenceRejected("证明材料只接受 PDF、JPEG 或 PNG 文件")
    return kind


def _safe_name(filename: str, content_type: str) -> str:
    stem = Path(filename or "evidence").stem
    stem = re.sub(r"[^\w\u4e00-\u9fff.-]+", "_", stem).strip("._")[:80] or "evidence"
    return f"{stem}.{EXTENSIONS[content_type]}"


def root() -> Path:
    return Path(current_app.config["EVIDENCE_FOLDER"])


@dataclass(frozen=True)
class Written:
    """A checked file written under its random key: what a row describing it keeps."""

    key: str
    filename: str
    content_type: str
    size: int
    sha256: str
    path: Path


def write(upload: FileStorage) -> Written:
    """Check one uploaded file and write it under a random key; the file is removed if the transaction under
    way rolls back instead of keeping the row that describes it (transaction.on_rollback). For evidence and
    for any other private attachment (a base application's, services.base_applications).

    :raise EvidenceRejected: empty, over the limit, or not a PDF/JPEG/PNG by content.
    """
    limit = current_app.config["EVIDENCE_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    if not data:
        raise EvidenceRejected("上传的文件是空的")
    if len(data) > limit:
        raise EvidenceRejected(f"每个文件不能超过 {limit / 2**20:g} MB")
    kind = _kind(data)
    if kind != "PDF":
        # Reviewers and regulators download what is stored: a phone's photo would hand them where and when
        # it was taken, the camera and whatever comments it carries. PDFs are kept as uploaded (see the note).
        data = images.without_metadata(data, kind)
    content_type = TYPES[kind]
    key = secrets.token_hex(16)
    path = root() / key[:2] / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    on_rollback(lambda: path.unlink(missing_ok=True))
    return Written(key=key, filename=_safe_name(upload.filename or "", content_type), content_type=content_type,
                   size=len(data), sha256=hashlib.sha256(data).hexdigest(), path=path)


def store(upload: FileStorage) -> tuple[Evidence, Path]:
    """Check one uploaded file and write it (``write``); returns the unsaved Evidence row and the file written.

    :raise EvidenceRejected: empty, over the limit, or not a PDF/JPEG/PNG by content.
    """
    w = write(upload)
    evidence = Evidence(key=w.key, filename=w.filename, content_type=w.content_type, size=w.size, sha256=w.sha256)
    return evidence, w.path


def path_of(evidence: Evidence | Any) -> Path:
    """Where the file of a row with a ``key`` (Evidence, BaseApplicationFile) is kept."""
    return root() / evidence.key[:2] / evidence.key


def by_key(key: str) -> Evidence | None:
    return db.session.execute(sa.select(Evidence).where(Evidence.key == key)).scalar_one_or_none()
