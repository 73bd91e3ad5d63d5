"""Accepting uploaded images: checked by content, stripped of metadata, re-encoded to bounded sizes."""

import secrets
import warnings
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from flask import current_app
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from extensions import db
from models import Image, User
from models.image import IMAGE_VARIANTS
from services.errors import ImageRejected
from services.infra.transaction import on_rollback

# MPO is a JPEG carrying extra pictures (phones add depth or gain maps): its first picture is kept.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}


def _read_limited(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageRejected(f"图片不能超过 {limit / (1024 * 1024):g} MB")
    if not data:
        raise ImageRejected("上传的文件是空的")
    return data


def _decode(data: bytes, max_pixels: int) -> PILImage.Image:
    """Open and fully decode the image, refusing anything that is not an accepted format or too large."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: treat the warning as a refusal too.
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            probe = PILImage.open(BytesIO(data))
            if probe.format not in ACCEPTED_FORMATS:
                raise ImageRejected("只接受 JPEG、PNG 或 WebP 格式的图片")
            width, height = probe.size
            if width * height > max_pixels:
                raise ImageRejected("图片像素过多，请缩小后再上传")
            probe.verify()
            image = PILImage.open(BytesIO(data))
            image.load()
    except ImageRejected:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageRejected("图片像素过多，请缩小后再上传") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("无法识别的图片文件，请上传 JPEG、PNG 或 WebP 图片") from exc
    return image


def clean_pixels(image: PILImage.Image) -> tuple[PILImage.Image, bool]:
    """Upright pixels only: EXIF orientation applied, then a new image built from the raw pixels.

    Building from bytes leaves EXIF, GPS, ICC, XMP and comments behind (a plain re-save keeps some).
    """
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if has_alpha else "RGB"
    converted = image.convert(mode)
    return PILImage.frombytes(mode, converted.size, converted.tobytes()), has_alpha


def without_metadata(data: bytes, kind: str) -> bytes:
    """A JPEG or PNG (``kind``, already checked and decoded once by the caller) again in the same format,
    upright, with its pixels only (clean_pixels): no EXIF (GPS, camera, owner), comments, PNG text chunks,
    XMP or ICC profile. Same size in pixels; a JPEG is encoded again at quality 95, a PNG without loss."""
    with PILImage.open(BytesIO(data)) as image:
        pixels, _alpha = clean_pixels(image)
    out = BytesIO()
    if kind == "PNG":
        pixels.save(out, "PNG")
    else:
        pixels.save(out, "JPEG", quality=95)
    return out.getvalue()


def _encode(image: PILImage.Image, bounds: tuple[int, int], as_png: bool) -> bytes:
    variant = image.copy()
    variant.thumbnail(bounds, PILImage.Resampling.LANCZOS)
    out = BytesIO()
    if as_png:
        variant.save(out, "PNG", optimize=True)
    else:
        variant.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def store_image(stream: IO[bytes], uploaded_by: User | None = None) -> Image:
    """Check, clean and store an uploaded image; add its Image row to the session (the caller's unit of work
    commits it). Should the transaction roll back instead, the files are removed (transaction.on_rollback).

    :raise ImageRejected: not JPEG/PNG/WebP by content, corrupt, too many pixels or too many bytes.
    """
    config = current_app.config
    data = _read_limited(stream, config["IMAGE_MAX_BYTES"])
    pixels, as_png = clean_pixels(_decode(data, config["IMAGE_MAX_PIXELS"]))
    image = Image(
        key=secrets.token_hex(16),
        content_type="image/png" if as_png else "image/jpeg",
        width=pixels.width,
        height=pixels.height,
        uploaded_by_id=uploaded_by.id if uploaded_by is not None else None,
    )
    written = []
    try:
        for variant, bounds in IMAGE_VARIANTS.items():
            path = upload_root() / image.filename(variant)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_encode(pixels, bounds, as_png))
            written.append(path)
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    on_rollback(lambda: discard_files(image))
    db.session.add(image)
    return image


def replace(owner: Any, relation: str, stream: IO[bytes], uploaded_by: User | None, changes: dict) -> Image:
    """Store a new image as ``owner.<relation>`` (a cover, a logo), noted in ``changes``
    ({"<relation>_id": [old, new]}) for the audit."""
    old_id = getattr(owner, f"{relation}_id")
    image = store_image(stream, uploaded_by)
    setattr(owner, relation, image)
    db.session.flush()
    changes[f"{relation}_id"] = [old_id, image.id]
    return image


def discard_files(image: Image) -> None:
    """Remove an image's files, when the transaction that was to keep its row rolled back."""
    for variant in IMAGE_VARIANTS:
        (upload_root() / image.filename(variant)).unlink(missing_ok=True)


def image_file(key: str, variant: str) -> tuple[Path, str] | None:
    """The file and content type of one variant of a stored image, or None."""
    if variant not in IMAGE_VARIANTS:
        return None
    image = db.session.execute(db.select(Image).filter_by(key=key)).scalar_one_or_none()
    if image is None:
        return None
    path = upload_root() / image.filename(variant)
    return (path, image.content_type) if path.exists() else None
