"""Upload battery (issue 7, item 4): hostile files sent through the real forms — course covers and base logos
(services/infra/images.py), declaration evidence (services/infra/evidence_files.py) and roster imports
(services/roster.py).

Every refused upload leaves nothing behind: no file on disk, no row. Stored names never come from the
client's file name. The figures (uploads refused by category) are printed at the end of the module.
"""

import re
import struct
import time
import zipfile
import zlib
from collections import Counter
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import ExifTags
from PIL import Image as PILImage

from extensions import db
from models import Declaration, Employer, Enrollment, EnrollmentStatus, Evidence, HoursRecord, Image, Role, RuleSet
from services import accounts, resident_ids
from services.infra import clock
from services.roster import MAX_XLSX_UNPACKED_BYTES
from tests.conftest import PASSWORD, employ, login

REFUSED = Counter()
TRIED = Counter()
SECRET_COMMENT = b"home address: 12 Secret Lane"


@pytest.fixture(autouse=True, scope="module")
def report_figures():
    yield
    print(f"\nupload battery: {sum(TRIED.values())} hostile uploads tried, refused by category: "
          + ", ".join(f"{k} {v}" for k, v in sorted(REFUSED.items())))


# --- hostile files ---------------------------------------------------------------------------------------

def encode(image, fmt, **params) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(side=60_000) -> bytes:
    """A PNG claiming side×side pixels (3.6 gigapixels at 60,000) in a few hundred bytes."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b"")


def animated(fmt: str, frames: int) -> bytes:
    pictures = [PILImage.new("RGB", (32, 32), (n % 256, 0, 0)) for n in range(frames)]
    return encode(pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=1, loop=0)


def photo_with_gps_and_comment() -> bytes:
    exif = PILImage.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (30.0, 39.0, 0.0),
                                  ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (104.0, 4.0, 0.0)}
    return encode(PILImage.new("RGB", (640, 480), "white"), "JPEG", exif=exif, comment=SECRET_COMMENT)


def jpeg() -> bytes:
    return encode(PILImage.new("RGB", (320, 240), "blue"), "JPEG", quality=90)


def png() -> bytes:
    return encode(PILImage.new("RGB", (320, 240), "green"), "PNG")


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"

# category → [(content, client's file name)]: each refused as a cover, a logo and (where it is not a PDF) evidence.
HOSTILE_IMAGES = {
    "decompression bomb": [(bomb_png(), "bomb.png"), (bomb_png(9000), "wide.png")],
    "animated, many frames": [(animated("GIF", 500), "anim.gif"), (animated("GIF", 500), "anim.png")],
    "disguised SVG/HTML/EPS/TIFF": [
        (SVG, "logo.png"), (SVG, "cover.jpg"), (HTML, "cover.jpg"), (HTML, "evidence.png"), (EPS, "photo.jpg"),
        (encode(PILImage.new("RGB", (64, 64)), "TIFF"), "photo.jpg"),
        (encode(PILImage.new("RGB", (64, 64)), "BMP"), "photo.png"),
    ],
    "truncated": [(jpeg()[: len(jpeg()) // 2], "half.jpg"), (png()[: len(png()) // 2], "half.png"),
                  (b"\xff\xd8\xff", "header-only.jpg"), (b"", "empty.png")],
}


# --- a world with a base admin, a course and a learner who may declare -----------------------------------

class World:
    pass


@pytest.fixture
def world(app, city, make_user, make_base, make_course):
    w = World()
    w.admin = make_user(Role.BASE_ADMIN)
    w.base = make_base(admin=w.admin)
    w.course = make_course(w.base, start_date=clock.today() - timedelta(days=3), end_date=clock.today())
    w.employer = Employer(name="成都市第一人民医院", region_id=city.id)
    db.session.add_all([w.employer, RuleSet(region_id=city.id, year=clock.today().year, total_min=90)])
    db.session.commit()
    first17 = "51010419900307123"
    w.learner = accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": "陈晓", "phone": "13900000088", "email": "upload-learner@test.example", "password": PASSWORD,
        "id_number": first17 + resident_ids.check_character(first17), "region_id": city.id,
    })
    employ(w.learner, w.employer)
    w.admin_client = app.test_client()
    assert login(w.admin_client, w.admin).status_code == 302
    w.learner_client = app.test_client()
    assert login(w.learner_client, w.learner).status_code == 302
    return w


def files_under(folder) -> list[Path]:
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def course_form(**extra) -> dict:
    start = clock.today() + timedelta(days=10)
    return {"title": "护理新进展", "description": "", "category": "professional", "field": "卫生",
            "project_type": "job_training", "hours": "16", "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=1)).isoformat(), "mode": "face_to_face", "place": "培训楼",
            "audience": "护士", "capacity": "30", "fee": "0", "fee_standard": "", "contact_person": "张老师",
            "contact_phone": "028-61234567", "open_to_city": "y", **extra}


def declaration_form(data: bytes, name: str) -> dict:
    return {"kind": "conference", "category": "professional", "title": "学术会议", "organiser": "医学会",
            "earned_on": clock.today().isoformat(), "minutes": "", "days": "1", "hours": "",
            "files": [(BytesIO(data), name)]}


def send_cover(w, data, name):
    return w.admin_client.post(f"/manage/bases/{w.base.id}/courses/new", content_type="multipart/form-data",
                               data=course_form(cover=(BytesIO(data), name)))


def send_logo(w, data, name):
    return w.admin_client.post(f"/manage/bases/{w.base.id}/disclosure", content_type="multipart/form-data",
                               data={"scope": "范围", "logo": (BytesIO(data), name)})


def send_evidence(w, data, name):
    return w.learner_client.post("/me/declarations/new", content_type="multipart/form-data",
                                 data=declaration_form(data, name))


def assert_refused(app, response, category, tables):
    """The form comes back (200) with a Chinese error, and nothing was stored."""
    TRIED[category] += 1
    assert response.status_code == 200, response.status_code
    body = response.get_data(as_text=True)
    assert re.search(r'class="invalid-feedback[^"]*">[^<]*[\u4e00-\u9fff]', body)
    assert files_under(app.config["UPLOAD_FOLDER"]) == []
    assert files_under(app.config["EVIDENCE_FOLDER"]) == []
    for model in tables:
        assert count(model) == 0, model
    REFUSED[category] += 1


CASES = [(category, data, name) for category, cases in HOSTILE_IMAGES.items() for data, name in cases]


@pytest.mark.parametrize(("category", "data", "name"), CASES, ids=[f"{c}-{n}" for c, _d, n in CASES])
def test_hostile_images_are_refused_as_cover_logo_and_evidence_leaving_nothing(app, world, category, data, name):
    from models import Course
    courses = count(Course)
    started = time.monotonic()
    assert_refused(app, send_cover(world, data, name), category, [Image])
    assert count(Course) == courses
    assert_refused(app, send_logo(world, data, name), category, [Image])
    assert world.base.logo_id is None
    assert_refused(app, send_evidence(world, data, name), category, [Declaration, Evidence])
    assert time.monotonic() - started < 20  # a bomb is refused from its header, not by decoding it


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_png_and_webp_with_many_frames_keep_only_a_still_first_frame(app, world, fmt):
    TRIED["animated, many frames"] += 1
    started = time.monotonic()
    response = send_cover(world, animated(fmt, 2000), f"anim.{fmt.lower()}")
    assert response.status_code == 302
    assert time.monotonic() - started < 20
    for path in files_under(app.config["UPLOAD_FOLDER"]):
        with PILImage.open(path) as stored:
            assert getattr(stored, "n_frames", 1) == 1 and not getattr(stored, "is_animated", False)


@pytest.mark.parametrize("name", ["../../etc/passwd.png", "..\\..\\windows\\win.ini.png", "a\x00b.png",
                                  "/abs/path.png", "x" * 300 + ".png", "封面 <script>.png"])
def test_client_file_names_never_become_stored_names(app, world, tmp_path, name):
    TRIED["path traversal names"] += 1
    assert send_cover(world, png(), name).status_code == 302
    stored = files_under(app.config["UPLOAD_FOLDER"])
    assert stored and all(re.fullmatch(r"[0-9a-f]{32}_\w+\.(jpg|png)", p.name) for p in stored)
    assert all(p.resolve().is_relative_to(Path(app.config["UPLOAD_FOLDER"]).resolve()) for p in stored)
    assert not (tmp_path / "etc").exists() and not list(tmp_path.rglob("passwd*"))

    assert send_evidence(world, png(), name).status_code == 302
    (evidence,) = db.session.scalars(sa.select(Evidence)).all()
    assert [p.name for p in files_under(app.config["EVIDENCE_FOLDER"])] == [evidence.key]
    assert re.fullmatch(r"[0-9a-f]{32}", evidence.key)
    assert not re.search(r"[/\\\x00<>]|\.\.", evidence.filename), evidence.filename  # the download name


def test_body_over_the_request_limit_is_refused_before_the_view_runs(app, world, monkeypatch):
    """As in production (CSRF on), the body is refused while the CSRF check reads the form: the view never
    runs and nothing is stored. The limit is config.MAX_CONTENT_LENGTH (25 MB: two 10 MB evidence files and
    the form)."""
    called = []
    endpoint = "base_admin.course_new"
    view = app.view_functions[endpoint]
    monkeypatch.setitem(app.view_functions, endpoint, lambda **kw: called.append(kw) or view(**kw))
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    limit = app.config["MAX_CONTENT_LENGTH"]
    TRIED["body over the request limit"] += 1
    response = send_cover(world, b"\xff\xd8\xff" + b"\0" * (limit + 1), "huge.jpg")
    assert response.status_code == 413
    assert called == []
    assert files_under(app.config["UPLOAD_FOLDER"]) == [] and count(Image) == 0
    REFUSED["body over the request limit"] += 1


def test_a_30_mb_body_is_refused_before_the_view_runs_and_nothing_is_stored(app, world, monkeypatch):
    """Issue 7: a 30 MB body is over the request limit (25 MB): refused while the CSRF check reads the form,
    so neither the view nor the image decoder runs."""
    import services.infra.images as images
    decoded, called = [], []
    monkeypatch.setattr(images, "_decode", lambda *a: decoded.append(1))
    endpoint = "base_admin.course_new"
    view = app.view_functions[endpoint]
    monkeypatch.setitem(app.view_functions, endpoint, lambda **kw: called.append(kw) or view(**kw))
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    TRIED["30 MB body"] += 1
    response = send_cover(world, b"\xff\xd8\xff" + b"\0" * (30 * 2**20), "huge.jpg")
    assert response.status_code == 413
    assert called == [] and decoded == []
    assert files_under(app.config["UPLOAD_FOLDER"]) == [] and count(Image) == 0
    REFUSED["30 MB body"] += 1


def test_exif_gps_and_comment_do_not_survive_in_stored_cover_or_logo(app, world):
    TRIED["metadata stripped"] += 1
    assert send_cover(world, photo_with_gps_and_comment(), "photo.jpg").status_code == 302
    assert send_logo(world, photo_with_gps_and_comment(), "logo.jpg").status_code == 302
    stored = files_under(app.config["UPLOAD_FOLDER"])
    assert len(stored) == 4  # two variants of each
    for path in stored:
        raw = path.read_bytes()
        assert SECRET_COMMENT not in raw and b"SecretCam" not in raw
        with PILImage.open(path) as image:
            assert dict(image.getexif()) == {}
            assert not {"exif", "comment", "xmp", "icc_profile"} & set(image.info)


# --- rosters ---------------------------------------------------------------------------------------------

def xlsx_bytes(rows) -> bytes:
    from openpyxl import Workbook
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_bomb() -> bytes:
    """A real XLSX of ~120 KB whose one extra cell unpacks to 110 MB (deflate packs repetition ~1000:1)."""
    plain = zipfile.ZipFile(BytesIO(xlsx_bytes([["姓名", "手机号"], ["陈晓", "13900000088"]])))
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in plain.infolist():
            data = plain.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                cell = b'<row r="3"><c r="A3" t="inlineStr"><is><t>' + b"A" * (MAX_XLSX_UNPACKED_BYTES + 10 * 2**20)
                data = data.replace(b"</sheetData>", cell + b"</t></is></c></row></sheetData>")
            bomb.writestr(info.filename, data)
    return out.getvalue()


HOSTILE_ROSTERS = [
    ("zip bomb", xlsx_bomb, "名单.xlsx"),  # built when its test runs: 120 MB in memory for a moment
    ("disguised", HTML, "名单.xlsx"), ("disguised", SVG, "名单.csv"), ("disguised", png(), "名单.xlsx"),
    ("disguised", b"%PDF-1.4\n%%EOF\n", "名单.csv"),
    ("truncated", xlsx_bytes([["姓名", "手机号"], ["陈晓", "13900000088"]])[:400], "名单.xlsx"),
    ("truncated", b"PK\x03\x04" + b"\0" * 64, "名单.xlsx"),
    ("binary", bytes(range(256)) * 64, "名单.csv"), ("binary", "姓名,手机号\n陈晓,139\x0000088\n".encode(), "a.csv"),
    ("empty", b"", "名单.csv"), ("empty", b"\xef\xbb\xbf", "名单.csv"),
    ("path traversal names", "姓名,手机号\n无此人,13911111111\n".encode(), "../../etc/passwd.csv"),
    ("huge cell", ("姓名,手机号\n" + "陈" * 100_000 + ",13900000088\n").encode(), "名单.csv"),
]


@pytest.mark.parametrize(("category", "data", "name"), HOSTILE_ROSTERS,
                         ids=[f"{c}-{i}" for i, (c, _d, _n) in enumerate(HOSTILE_ROSTERS)])
def test_hostile_rosters_are_refused_and_record_nothing(app, world, category, data, name):
    TRIED[f"roster {category}"] += 1
    data = data() if callable(data) else data
    url = f"/manage/bases/{world.base.id}/courses/{world.course.id}/roster/import"
    response = world.admin_client.post(url, content_type="multipart/form-data",
                                       data={"roster": (BytesIO(data), name)})
    assert response.status_code == 200, response.status_code
    assert re.search(r"[\u4e00-\u9fff]", response.get_data(as_text=True))
    assert count(Enrollment) == 0 and count(HoursRecord) == 0
    assert db.session.scalar(sa.select(sa.func.count()).where(Enrollment.status == EnrollmentStatus.COMPLETED)) == 0
    assert files_under(app.config["UPLOAD_FOLDER"]) == []  # rosters are read in memory, never written
    REFUSED[f"roster {category}"] += 1
