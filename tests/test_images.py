"""Uploaded images: checked by content, stripped of metadata, stored in bounded variants, served safely."""

import os
import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import ExifTags
from PIL import Image as PILImage

from extensions import db
from models import Category, Course, Image, Mode
from models.image import IMAGE_VARIANTS
from services import courses as course_service
from services.errors import ImageRejected
from services.infra import clock
from services.infra.images import store_image

MAX_BYTES = 1024 * 1024
SECRET_COMMENT = b"secret-comment-home-address"
CAMERA_MAKE = "SecretCam"


@pytest.fixture
def app_config():
    # A 1 MB limit lets an oversized upload stay small enough to build quickly.
    return {"IMAGE_MAX_BYTES": MAX_BYTES}


# --- image builders ---------------------------------------------------------------------------------

def encode(image: PILImage.Image, fmt: str, **params) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def photo_with_metadata() -> bytes:
    """A 900×600 camera JPEG that must be shown rotated (Orientation=6), with GPS, a maker and a comment.

    The top-left 300×200 block is red: once turned upright it sits in the top-right corner.
    """
    image = PILImage.new("RGB", (900, 600), "white")
    image.paste((255, 0, 0), (0, 0, 300, 200))
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (30.0, 39.0, 0.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (104.0, 4.0, 0.0),
    }
    return encode(image, "JPEG", exif=exif, comment=SECRET_COMMENT)


def png(size=(400, 300), mode="RGB") -> bytes:
    color = (0, 128, 255, 128) if mode == "RGBA" else (0, 128, 255)
    return encode(PILImage.new(mode, size, color), "PNG")


def stored_files(app) -> list[Path]:
    return [p for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*") if p.is_file()]


def variant_path(app, image: Image, variant: str) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / image.filename(variant)


@pytest.fixture(scope="module")
def bomb_png():
    """20000×20000 pixels claimed by a 48 KB file: decoding it would take hundreds of megabytes."""
    return encode(PILImage.new("1", (20000, 20000)), "PNG")


def noise_png(nbytes: int) -> bytes:
    """A real, decodable PNG of random pixels, so that it cannot compress below ``nbytes``."""
    side = int((nbytes / 3) ** 0.5) + 20
    return encode(PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3)), "PNG")


# --- store_image --------------------------------------------------------------------------------------

def test_exif_orientation_is_applied_to_every_variant(app):
    image = store_image(BytesIO(photo_with_metadata()))

    assert (image.width, image.height) == (600, 900)
    for variant, (max_w, max_h) in IMAGE_VARIANTS.items():
        with PILImage.open(variant_path(app, image, variant)) as stored:
            assert stored.height > stored.width, variant
            assert stored.width <= max_w and stored.height <= max_h, variant
            rgb = stored.convert("RGB")
            top = rgb.height // 9
            red, green, blue = rgb.getpixel((rgb.width * 5 // 6, top))
            assert red > 200 and green < 60 and blue < 60, variant
            assert min(rgb.getpixel((rgb.width // 6, top))) > 200, variant


def test_stored_jpeg_keeps_no_exif_gps_or_comment(app):
    image = store_image(BytesIO(photo_with_metadata()))

    for variant in IMAGE_VARIANTS:
        path = variant_path(app, image, variant)
        with PILImage.open(path) as stored:
            assert stored.format == "JPEG"
            assert "exif" not in stored.info and "comment" not in stored.info
            assert len(stored.getexif()) == 0
            assert len(stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)) == 0
        raw = path.read_bytes()
        assert SECRET_COMMENT not in raw
        assert CAMERA_MAKE.encode() not in raw
        assert b"Exif\x00\x00" not in raw


def test_stored_png_keeps_no_text_chunks(app):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "secret-png-text")
    data = encode(PILImage.new("RGBA", (200, 100), (1, 2, 3, 100)), "PNG", pnginfo=info)

    image = store_image(BytesIO(data))

    assert image.content_type == "image/png"
    raw = variant_path(app, image, "large").read_bytes()
    assert b"secret-png-text" not in raw
    with PILImage.open(variant_path(app, image, "large")) as stored:
        assert "Comment" not in stored.info


@pytest.mark.parametrize(
    ("fmt", "mode", "content_type"),
    [
        ("PNG", "RGBA", "image/png"),
        ("PNG", "RGB", "image/jpeg"),
        ("WEBP", "RGB", "image/jpeg"),
        ("WEBP", "RGBA", "image/png"),
    ],
)
def test_accepted_formats_are_stored_as_png_only_when_they_have_alpha(app, fmt, mode, content_type):
    data = encode(PILImage.new(mode, (320, 200), (10, 20, 30, 40)[: len(mode)]), fmt)

    image = store_image(BytesIO(data))

    assert image.content_type == content_type
    assert (image.width, image.height) == (320, 200)
    expected_format = "PNG" if content_type == "image/png" else "JPEG"
    for variant in IMAGE_VARIANTS:
        with PILImage.open(variant_path(app, image, variant)) as stored:
            assert stored.format == expected_format


def test_palette_png_with_transparency_keeps_its_alpha(app):
    data = encode(PILImage.new("RGBA", (100, 100), (0, 0, 0, 0)).convert("P"), "PNG", transparency=0)

    image = store_image(BytesIO(data))

    assert image.content_type == "image/png"
    with PILImage.open(variant_path(app, image, "thumb")) as stored:
        assert stored.mode == "RGBA"


def test_multi_picture_jpeg_from_a_phone_is_accepted(app):
    # Many phones save photos as JPEG with an MPF second picture (depth map, HDR gain map): Pillow calls
    # that format "MPO", but it is a JPEG file, named .jpg and sent as image/jpeg.
    picture = PILImage.new("RGB", (400, 300), "green")
    data = encode(picture, "MPO", save_all=True, append_images=[picture.resize((200, 150))])
    assert data[:3] == b"\xff\xd8\xff"

    image = store_image(BytesIO(data))

    assert image.content_type == "image/jpeg"
    assert (image.width, image.height) == (400, 300)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name,phone\n\xe5\xbc\xa0\xe4\xb8\x89,13800000000\n", "无法识别的图片文件"),
        (encode(PILImage.new("RGB", (50, 50), "blue"), "GIF"), "只接受 JPEG、PNG 或 WebP 格式的图片"),
        (encode(PILImage.new("RGB", (50, 50), "blue"), "BMP"), "只接受 JPEG、PNG 或 WebP 格式的图片"),
        (encode(PILImage.new("RGB", (400, 300), "blue"), "JPEG")[:300], "无法识别的图片文件"),
        (b"", "上传的文件是空的"),
    ],
    ids=["text", "gif", "bmp", "truncated-jpeg", "empty"],
)
def test_unacceptable_content_is_rejected_in_chinese(app, data, message):
    with pytest.raises(ImageRejected) as caught:
        store_image(BytesIO(data))

    assert message in caught.value.message
    assert stored_files(app) == []
    assert not db.session.new


@pytest.mark.parametrize("side", [7000, 10000], ids=["above-site-limit", "pillow-warning-range"])
def test_images_with_too_many_pixels_are_rejected(app, side):
    data = encode(PILImage.new("1", (side, side)), "PNG")

    with pytest.raises(ImageRejected) as caught:
        store_image(BytesIO(data))

    assert "图片像素过多" in caught.value.message
    assert stored_files(app) == []


def test_decompression_bomb_is_rejected(app, bomb_png):
    with pytest.raises(ImageRejected) as caught:
        store_image(BytesIO(bomb_png))

    assert "图片像素过多" in caught.value.message
    assert stored_files(app) == []


def test_file_over_the_byte_limit_is_rejected_before_decoding(app):
    data = noise_png(MAX_BYTES + 1)
    assert len(data) > MAX_BYTES

    with pytest.raises(ImageRejected) as caught:
        store_image(BytesIO(data))

    assert "图片不能超过 1 MB" in caught.value.message
    assert stored_files(app) == []


def test_both_variants_are_written_within_their_bounds(app, make_user):
    uploader = make_user()
    data = encode(PILImage.new("RGB", (2400, 1200), "orange"), "JPEG")

    image = store_image(BytesIO(data), uploader)
    db.session.commit()

    assert image.uploaded_by_id == uploader.id
    assert (image.width, image.height) == (2400, 1200)
    sizes = {}
    for variant in IMAGE_VARIANTS:
        with PILImage.open(variant_path(app, image, variant)) as stored:
            sizes[variant] = stored.size
    assert sizes == {"thumb": (480, 240), "large": (1600, 800)}
    assert len(stored_files(app)) == len(IMAGE_VARIANTS)


def test_small_image_is_not_enlarged(app):
    image = store_image(BytesIO(png((120, 90))))

    for variant in IMAGE_VARIANTS:
        with PILImage.open(variant_path(app, image, variant)) as stored:
            assert stored.size == (120, 90)


def test_failed_transaction_removes_the_files_it_wrote(app, admin_and_base, monkeypatch):
    admin, base = admin_and_base

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("services.audit.record", broken_audit)
    start = clock.today() + timedelta(days=5)
    data = {
        "title": "封面测试", "category": Category.PROFESSIONAL, "field": "卫生", "hours": 8, "start_date": start,
        "end_date": start, "mode": Mode.FACE_TO_FACE, "place": "培训楼 101", "audience": "护理人员", "capacity": 10,
        "contact_person": "张老师", "contact_phone": "028-61234567",  # the service judges every course rule
    }

    with pytest.raises(RuntimeError):
        course_service.create_course(admin, base, data, BytesIO(png()))

    assert stored_files(app) == []
    assert db.session.scalar(sa.select(sa.func.count(Image.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


# --- serving -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "content_type"), [(png(mode="RGB"), "image/jpeg"), (png(mode="RGBA"), "image/png")])
def test_media_url_serves_the_variant_with_its_type_and_nosniff(app, client, data, content_type):
    image = store_image(BytesIO(data))
    db.session.commit()

    for variant in IMAGE_VARIANTS:
        response = client.get(f"/media/{image.key}/{variant}")
        assert response.status_code == 200
        assert response.mimetype == content_type
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.data == variant_path(app, image, variant).read_bytes()


def test_media_url_with_unknown_key_variant_or_missing_file_is_404(app, client):
    image = store_image(BytesIO(png()))
    db.session.commit()

    assert client.get(f"/media/{'0' * 32}/thumb").status_code == 404
    assert client.get(f"/media/{image.key}/original").status_code == 404
    assert client.get(f"/media/{image.key}/..%2f..%2fjidi.sqlite3").status_code == 404
    variant_path(app, image, "thumb").unlink()
    assert client.get(f"/media/{image.key}/thumb").status_code == 404


# --- through the course form ---------------------------------------------------------------------------

def course_form(cover: bytes, filename: str) -> dict:
    start = clock.today() + timedelta(days=10)
    return {
        "title": "急危重症护理新进展", "description": "重症监护与气道管理", "category": "professional", "field": "卫生",
        "hours": "16", "start_date": start.isoformat(), "end_date": (start + timedelta(days=1)).isoformat(),
        "mode": "face_to_face", "place": "培训楼 101", "audience": "护理人员", "capacity": "40", "fee": "0",
        "fee_standard": "", "contact_person": "张老师", "contact_phone": "028-61234567", "open_to_city": "y",
        "cover": (BytesIO(cover), filename),
    }


def errors_next_to(html: str, name: str) -> list[str]:
    """The error messages the form macro renders after the control named ``name`` (before the next field)."""
    start = html.index(f'name="{name}"')
    tag = html[html.rindex("<", 0, start): html.index(">", start)]
    following = re.search(r'class="form-label"|<button', html[start:])
    segment = html[start: start + following.start()] if following else html[start:]
    errors = re.findall(r'class="invalid-feedback[^"]*">(.*?)</div>', segment, re.S)
    if errors:
        assert "is-invalid" in tag, "the control itself should be marked invalid"
    return errors


@pytest.mark.parametrize(
    ("make_cover", "filename", "message"),
    [
        (lambda bomb: b"just some text, not a picture\n", "x.png", "无法识别的图片文件"),
        (lambda bomb: encode(PILImage.new("RGB", (60, 40), "red"), "GIF"), "anim.gif", "只接受 JPEG、PNG 或 WebP"),
        (lambda bomb: bomb, "huge.png", "图片像素过多"),
        (lambda bomb: noise_png(MAX_BYTES + 1), "big.png", "图片不能超过"),
    ],
    ids=["text-named-png", "gif", "decompression-bomb", "too-many-bytes"],
)
def test_bad_cover_is_a_form_error_and_nothing_is_saved(app, admin_and_base, login_as, bomb_png, make_cover,
                                                        filename, message):
    admin, base = admin_and_base
    client = login_as(admin)

    response = client.post(f"/manage/bases/{base.id}/courses/new", data=course_form(make_cover(bomb_png), filename))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert any(message in error for error in errors_next_to(html, "cover"))
    assert 'value="急危重症护理新进展"' in html, "the form is re-rendered with what was typed"
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Image.id))) == 0
    assert stored_files(app) == []


@pytest.mark.parametrize(("mode", "content_type"), [("RGBA", "image/png"), ("RGB", "image/jpeg")])
def test_png_named_jpg_is_accepted_by_its_content(app, admin_and_base, login_as, mode, content_type):
    admin, base = admin_and_base
    client = login_as(admin)

    response = client.post(f"/manage/bases/{base.id}/courses/new", data=course_form(png(mode=mode), "photo.jpg"))

    assert response.status_code == 302
    course = db.session.execute(sa.select(Course)).scalar_one()
    assert course.cover is not None
    assert course.cover.content_type == content_type
    assert course.cover.uploaded_by_id == admin.id
    assert sorted(p.name for p in stored_files(app)) == sorted(
        Path(course.cover.filename(v)).name for v in IMAGE_VARIANTS
    )
    served = client.get(f"/media/{course.cover.key}/thumb")
    assert served.status_code == 200 and served.mimetype == content_type
