"""Evidence pictures lose their metadata (issue 13, finding 7): a phone's JPEG with GPS, camera and comments,
a PNG with text chunks are stored and downloaded with none of it, upright and showing the same picture; a
PDF is kept byte for byte."""

from io import BytesIO

import pytest
from PIL import ExifTags, PngImagePlugin
from PIL import Image as PILImage

from services.infra import evidence_files
from tests import test_declarations as declarations_tests
from tests.test_declarations import declare, pdf_bytes, reload, signed_in, upload

# The declaration tests' world (learners, their employers' reviewers, regulators), evidence in tmp_path.
app_config, on, regions, world = (declarations_tests.app_config, declarations_tests.on, declarations_tests.regions,
                                  declarations_tests.world)

SECRETS = (b"Jidi-GPS-Test", b"PhoneMaker", b"PhoneModel-X1", b"secret comment", b"owner@example")
RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_colours(size=(60, 40)) -> PILImage.Image:
    """Left half red, right half blue."""
    image = PILImage.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def phone_jpeg() -> bytes:
    """As a phone writes it: stored sideways with orientation 6 (turn 90° clockwise to show), GPS position,
    camera make and model, a user comment and a JPEG comment."""
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "PhoneModel-X1"
    exif[ExifTags.Base.Artist] = "owner@example"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (30.0, 39.0, 36.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (104.0, 4.0, 12.0),
        ExifTags.GPS.GPSProcessingMethod: "Jidi-GPS-Test",
    }
    out = BytesIO()
    two_colours().save(out, "JPEG", exif=exif, comment=b"secret comment", quality=95)
    data = out.getvalue()
    with PILImage.open(BytesIO(data)) as check:  # the fixture carries what the test says it does
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
        assert check.info["comment"] == b"secret comment"
    return data


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret comment")
    info.add_text("Author", "owner@example", zip=True)  # zTXt
    info.add_itxt("Description", "Jidi-GPS-Test 成都", lang="zh", tkey="描述")  # iTXt
    exif = PILImage.Exif()
    exif[ExifTags.Base.Model] = "PhoneModel-X1"
    out = BytesIO()
    image = two_colours().convert("RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))  # a transparent corner, which must stay transparent
    image.save(out, "PNG", pnginfo=info, exif=exif)
    data = out.getvalue()
    assert b"tEXt" in data and b"zTXt" in data and b"iTXt" in data and b"eXIf" in data
    return data


def assert_no_metadata(data: bytes) -> None:
    for secret in SECRETS:
        assert secret not in data
    for chunk in (b"Exif\x00\x00", b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"http://ns.adobe.com/xap", b"ICC_PROFILE"):
        assert chunk not in data, chunk
    with PILImage.open(BytesIO(data)) as image:
        assert not image.getexif()
        assert not {"exif", "comment", "icc_profile", "xmp", "Comment", "Author", "Description"} & set(image.info)


def close(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def test_a_phone_jpeg_is_stored_and_downloaded_without_gps_camera_or_comments_and_upright(app, world):
    declaration = declare(world.learner, minutes=100, files=[upload(phone_jpeg(), "现场照片.jpg", "image/jpeg")])
    (row,) = reload(declaration.id).evidence
    stored = evidence_files.path_of(row).read_bytes()
    downloaded = signed_in(app, world.reviewer).get(f"/files/evidence/{row.key}")
    assert downloaded.status_code == 200 and downloaded.data == stored
    assert (row.content_type, row.size) == ("image/jpeg", len(stored))
    assert_no_metadata(stored)
    with PILImage.open(BytesIO(stored)) as image:
        assert image.format == "JPEG"
        # Turned as the orientation said before it was dropped: 40 wide, 60 high, the red half on top.
        assert image.size == (40, 60)
        rgb = image.convert("RGB")
        assert close(rgb.getpixel((20, 10)), RED) and close(rgb.getpixel((20, 50)), BLUE)


def test_a_png_is_stored_and_downloaded_without_text_chunks_with_its_pixels(app, world):
    original = png_with_text()
    declaration = declare(world.learner, minutes=100, files=[upload(original, "证书.png", "image/png")])
    (row,) = reload(declaration.id).evidence
    stored = evidence_files.path_of(row).read_bytes()
    downloaded = signed_in(app, world.regulator).get(f"/files/evidence/{row.key}")
    assert downloaded.status_code == 200 and downloaded.data == stored
    assert row.content_type == "image/png"
    assert_no_metadata(stored)
    with PILImage.open(BytesIO(stored)) as image, PILImage.open(BytesIO(original)) as before:
        assert image.format == "PNG"
        # Lossless: every pixel as uploaded, the transparent corner included.
        assert image.convert("RGBA").tobytes() == before.convert("RGBA").tobytes()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_picture_without_metadata_keeps_its_size_and_colours(world, fmt):
    out = BytesIO()
    two_colours((64, 48)).save(out, fmt)
    declaration = declare(world.learner, minutes=100, files=[upload(out.getvalue(), f"x.{fmt.lower()}")])
    (row,) = reload(declaration.id).evidence
    with PILImage.open(evidence_files.path_of(row)) as image:
        assert image.size == (64, 48)
        assert close(image.convert("RGB").getpixel((5, 5)), RED) and close(image.convert("RGB").getpixel((60, 5)), BLUE)


def test_a_pdf_is_kept_byte_for_byte(app, world):
    data = pdf_bytes(100).replace(b"<< /Type /Catalog >>", b"<< /Type /Catalog /Author (owner@example) >>")
    declaration = declare(world.learner, minutes=100, files=[upload(data, "会议通知.pdf")])
    (row,) = reload(declaration.id).evidence
    assert evidence_files.path_of(row).read_bytes() == data
    assert signed_in(app, world.reviewer).get(f"/files/evidence/{row.key}").data == data
