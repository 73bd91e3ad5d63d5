"""Declared hours: conversions by kind, categories, dates, evidence checked by content and never half-saved,
yearly caps from the cap rows, the review (one ledger row, reasons, no self-review, employer scope), the
working-day deadline on the Chinese calendar with its make-up workdays, overdue reviews, and evidence served
only as a sandboxed download to those who may see it (the calendar's upload: tests/test_platform.py)."""

import hashlib
import re
from datetime import date, timedelta
from io import BytesIO
from itertools import count

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    AuditLog,
    Category,
    Declaration,
    DeclarationCap,
    DeclarationKind,
    DeclarationKindRule,
    DeclarationStatus,
    Employer,
    Evidence,
    HoursRecord,
    HoursSource,
    Role,
    RuleSet,
)
from seeding.demo import seed_reference
from services import accounts, declarations, resident_ids, workdays
from services.errors import DomainError
from services.infra import clock, evidence_files
from services.infra.evidence_files import EvidenceRejected
from tests.conftest import PASSWORD, employ, login

TODAY = date(2025, 6, 16)  # a Monday with no holiday within two weeks
_people = count(1)


# --- files ---------------------------------------------------------------------------------------------------

def pdf_bytes(padding: int = 0) -> bytes:
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%" + b"x" * padding
            + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def image_bytes(fmt: str = "PNG") -> bytes:
    out = BytesIO()
    PILImage.new("RGB", (64, 48), (250, 240, 200)).save(out, fmt)
    return out.getvalue()


def upload(data: bytes, filename: str, content_type: str = "application/pdf") -> FileStorage:
    return FileStorage(stream=BytesIO(data), filename=filename, content_type=content_type)


def stored_files() -> list:
    root = evidence_files.root()
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- fixtures and helpers ----------------------------------------------------------------------------------

@pytest.fixture
def app_config(request, tmp_path):
    """Evidence goes to the test's own folder; a test may add settings with indirect parametrisation."""
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence"), **getattr(request, "param", {})}


@pytest.fixture
def on(monkeypatch):
    """Set the local date (services.infra.clock.today); it starts at TODAY."""

    def set_day(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    set_day(TODAY)
    return set_day


@pytest.fixture
def regions(app, on):
    return seed_reference()


def new_learner(region, employer, name: str | None = None):
    """A learner registered with a valid ID number, whom ``employer`` confirmed (tests.conftest.employ)."""
    n = next(_people)
    first17 = f"51010419900307{n:03d}"
    learner = accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": name or f"学员{n}", "phone": f"139{n:08d}", "email": f"decl-learner{n}@test.example",
        "password": PASSWORD, "id_number": first17 + resident_ids.check_character(first17), "region_id": region.id,
    })
    employ(learner, employer)
    return learner


class World:
    pass


@pytest.fixture
def world(regions, make_user):
    """Two Chengdu employers and one in Yantai, their learners and reviewers, and regulators."""
    w = World()
    w.chengdu, w.sichuan, w.yantai = regions["510100"], regions["510000"], regions["370600"]
    w.hospital = Employer(name="成都市第一人民医院", region_id=w.chengdu.id)
    w.clinic = Employer(name="成都市第三人民医院", region_id=w.chengdu.id)
    w.port = Employer(name="烟台市芝罘区人民医院", region_id=w.yantai.id)
    db.session.add_all([w.hospital, w.clinic, w.port])
    db.session.commit()
    w.learner = new_learner(w.chengdu, w.hospital, "陈晓")
    w.colleague = new_learner(w.chengdu, w.hospital)
    w.other_learner = new_learner(w.chengdu, w.clinic)
    w.yantai_learner = new_learner(w.yantai, w.port)
    w.yantai_colleague = new_learner(w.yantai, w.port)
    w.reviewer = make_user(Role.REVIEWER, employer_id=w.hospital.id, region_id=w.chengdu.id)
    w.clinic_reviewer = make_user(Role.REVIEWER, employer_id=w.clinic.id, region_id=w.chengdu.id)
    w.port_reviewer = make_user(Role.REVIEWER, employer_id=w.port.id, region_id=w.yantai.id)
    w.regulator = make_user(Role.REGULATOR, region_id=w.chengdu.id)
    w.province_regulator = make_user(Role.REGULATOR, region_id=w.sichuan.id)
    w.yantai_regulator = make_user(Role.REGULATOR, region_id=w.yantai.id)
    w.base_admin = make_user(Role.BASE_ADMIN, region_id=w.chengdu.id)
    return w


def signed_in(app, user):
    """A client of its own, signed in as ``user`` (the welcome message already shown)."""
    client = app.test_client()
    response = login(client, user)
    assert response.status_code == 302
    client.get(response.location)
    return client


def declare(learner, kind="conference", category=None, earned_on=None, files=None, title="学术会议", **amounts):
    data = {"kind": kind, "category": category, "title": title, "organiser": "成都市医学会",
            "earned_on": earned_on or clock.today(), "minutes": None, "days": None, "hours": None, **amounts}
    if files is None:
        files = [upload(pdf_bytes(), "证明.pdf")]
    return declarations.declare(learner, data, files)


def approve(reviewer, declaration, hours=None, reason=""):
    return declarations.review(reviewer, declaration.id, True, hours, reason)


def count_rows(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def records_of(declaration_id: int) -> list[HoursRecord]:
    db.session.expire_all()
    return db.session.execute(
        sa.select(HoursRecord).where(HoursRecord.declaration_id == declaration_id)
    ).scalars().all()


def reload(declaration_id: int) -> Declaration:
    db.session.expire_all()
    return db.session.get(Declaration, declaration_id)


def flashed(html: str, category: str = "danger") -> list[str]:
    return re.findall(rf'<div class="alert alert-{category}" role="alert">(.*?)</div>', html, re.S)


def form_data(kind="conference", category="professional", title="学术年会", earned_on=None, files=None, **amounts):
    data = {"kind": kind, "category": category, "title": title, "organiser": "四川省医学会",
            "earned_on": (earned_on or clock.today()).isoformat(), "minutes": "", "days": "", "hours": ""}
    data.update({k: str(v) for k, v in amounts.items()})
    data["files"] = files if files is not None else [(BytesIO(pdf_bytes()), "会议通知.pdf")]
    return data


# --- conversions by kind -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("amounts", "hours"), [
    ({"minutes": 100}, 2), ({"minutes": 90}, 2), ({"minutes": 45}, 1), ({"minutes": 89}, 1),
    ({"days": 3}, 24), ({"days": 1}, 8),
    # Less than a day is never worth more than a day: 8 blocks of 45 minutes and beyond give 8 hours.
    ({"minutes": 359}, 7), ({"minutes": 360}, 8), ({"minutes": 400}, 8), ({"minutes": 1440}, 8),
])
def test_conference_converts_whole_45_minute_blocks_and_8_hour_days(world, amounts, hours):
    declaration = declare(world.learner, "conference", **amounts)
    assert reload(declaration.id).hours_claimed == hours
    assert declaration.category == Category.PROFESSIONAL


def test_conference_of_44_minutes_is_refused_on_the_minutes_field(world):
    with pytest.raises(DomainError) as refused:
        declare(world.learner, "conference", minutes=44)
    assert refused.value.field == "minutes"
    assert count_rows(Declaration) == 0


def test_abroad_needs_at_least_20_days(world):
    with pytest.raises(DomainError) as refused:
        declare(world.learner, "abroad", days=19)
    assert refused.value.field == "days" and "20" in refused.value.message
    assert declare(world.learner, "abroad", days=20).hours_claimed == 160
    assert count_rows(Declaration) == 1


@pytest.mark.parametrize("kind", ["competition", "research", "degree", "self_study"])
def test_hours_kinds_take_1_to_200_hours(world, kind):
    # Yantai accepts every one of these kinds (notice 004); Chengdu's list (003) has no competition or self-study.
    assert declare(world.yantai_learner, kind, hours=1).hours_claimed == 1
    assert declare(world.yantai_learner, kind, hours=200).hours_claimed == 200
    for wrong in (None, 0, 201):
        with pytest.raises(DomainError) as refused:
            declare(world.yantai_learner, kind, hours=wrong)
        assert refused.value.field == "hours"
    assert count_rows(Declaration) == 2


@pytest.mark.parametrize(("kind", "amounts", "field"), [
    ("conference", {"minutes": -5}, "minutes"),
    ("conference", {"minutes": 100_000}, "minutes"),
    ("conference", {}, "minutes"),
    ("conference", {"days": -3}, "days"),
    ("conference", {"days": 10_000}, "days"),
    ("abroad", {"days": -30}, "days"),
    ("abroad", {"minutes": 600}, "days"),
    ("grassroots", {"days": 0}, "days"),
    ("competition", {"hours": -1}, "hours"),
    ("research", {"hours": 10**9}, "hours"),
    ("other", {"minutes": -1, "days": None}, "minutes"),
])
def test_negative_missing_or_absurd_amounts_are_field_errors(world, kind, amounts, field):
    with pytest.raises(DomainError) as refused:
        declare(world.yantai_learner, kind, **amounts)  # Yantai accepts every kind listed
    assert refused.value.field == field
    assert count_rows(Declaration) == 0
    assert stored_files() == []


def test_negative_minutes_in_the_form_show_next_to_the_field(app, world):
    client = signed_in(app, world.learner)
    response = client.post("/me/declarations/new", data=form_data(minutes=-100),
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "不足一天的请填写分钟数" in response.text
    assert count_rows(Declaration) == 0


# --- categories and dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "category", "allowed"), [
    ("competition", "public", True),
    ("competition", "professional", True),
    ("competition", "elective", False),
    ("research", "professional", True),
    ("research", "public", False),
    ("research", "elective", False),
    ("conference", "public", False),
    ("abroad", "public", False),
])
def test_category_is_allowed_only_where_the_kind_allows_it(world, kind, category, allowed):
    """By Yantai's rules of the year (notice 004: competitions count as public or professional hours)."""
    amounts = {"days": 20} if kind == "abroad" else {"hours": 4}
    if allowed:
        assert declare(world.yantai_learner, kind, category, **amounts).category == Category(category)
    else:
        with pytest.raises(DomainError) as refused:
            declare(world.yantai_learner, kind, category, **amounts)
        assert refused.value.field == "category"
        assert count_rows(Declaration) == 0


@pytest.mark.parametrize("earned_on", [TODAY + timedelta(days=1), date(2024, 12, 31), date(2026, 1, 5)])
def test_future_dates_and_dates_outside_the_current_year_are_refused(world, earned_on):
    with pytest.raises(DomainError) as refused:
        declare(world.learner, "conference", earned_on=earned_on, minutes=100)
    assert refused.value.field == "earned_on"
    assert count_rows(Declaration) == 0


def test_first_of_january_and_today_are_accepted(world):
    assert declare(world.learner, earned_on=date(2025, 1, 1), minutes=90).year == 2025
    assert declare(world.learner, earned_on=TODAY, minutes=90).earned_on == TODAY


# --- evidence checked by content, nothing half-saved -----------------------------------------------------------

@pytest.mark.parametrize("files", [[], [upload(b"", "")], [FileStorage(stream=BytesIO(b""), filename="")]])
def test_no_evidence_is_refused(world, files):
    with pytest.raises(DomainError) as refused:
        declare(world.learner, minutes=100, files=files)
    assert refused.value.field == "files"
    assert count_rows(Declaration) == 0


@pytest.mark.parametrize(("data", "filename"), [
    (b"This is a plain text file, not a certificate.\n", "获奖证书.pdf"),
    (b"<html><script>alert(1)</script></html>", "scan.png"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "scan.jpg"),
    (image_bytes("GIF"), "photo.png"),
    (image_bytes("BMP"), "photo.jpg"),
    (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"0" * 5000, "truncated.pdf"),
    (image_bytes("PNG")[:60], "cut.png"),
    (b"", "empty.pdf"),
])
def test_a_file_that_is_not_a_whole_pdf_jpeg_or_png_is_refused(world, data, filename):
    with pytest.raises(EvidenceRejected):
        declare(world.learner, minutes=100, files=[upload(data, filename)])
    assert count_rows(Declaration) == 0
    assert count_rows(Evidence) == 0
    assert stored_files() == []


def test_a_png_named_pdf_is_kept_as_the_png_it_is(app, world):
    """The content decides: a real PNG is valid evidence, but it is stored, named and served as a PNG."""
    data = image_bytes("PNG")
    declaration = declare(world.learner, minutes=100, files=[upload(data, "获奖证书.pdf", "application/pdf")])
    (row,) = reload(declaration.id).evidence
    assert (row.content_type, row.filename) == ("image/png", "获奖证书.png")
    response = signed_in(app, world.learner).get(f"/files/evidence/{row.key}")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data == data


def test_pdf_jpeg_and_png_are_stored_privately_with_their_digest(world):
    files = [upload(pdf_bytes(), "会议通知.pdf"), upload(image_bytes("JPEG"), "签到表.jpg", "image/jpeg"),
             upload(image_bytes("PNG"), "照片.png", "image/png")]
    declaration = declare(world.learner, minutes=100, files=files)
    rows = reload(declaration.id).evidence
    assert [r.content_type for r in rows] == ["application/pdf", "image/jpeg", "image/png"]
    assert [r.filename for r in rows] == ["会议通知.pdf", "签到表.jpg", "照片.png"]
    for row in rows:
        path = evidence_files.path_of(row)
        assert path.read_bytes()[:4] in (b"%PDF", b"\xff\xd8\xff\xe0", b"\x89PNG")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256
        assert row.filename not in str(path)  # stored under a random key, not the learner's file name
    assert len(stored_files()) == 3


@pytest.mark.parametrize("app_config", [{"EVIDENCE_MAX_BYTES": 1024}], indirect=True)
def test_a_file_over_the_size_limit_is_refused(world):
    small, large = pdf_bytes(200), pdf_bytes(2000)
    assert len(small) < 1024 < len(large)
    with pytest.raises(EvidenceRejected):
        declare(world.learner, minutes=100, files=[upload(large, "big.pdf")])
    assert count_rows(Declaration) == 0 and stored_files() == []
    declare(world.learner, minutes=100, files=[upload(small, "small.pdf")])
    assert count_rows(Declaration) == 1 and len(stored_files()) == 1


def test_one_bad_file_among_good_ones_saves_nothing(world):
    files = [upload(pdf_bytes(), "a.pdf"), upload(image_bytes("PNG"), "b.png"), upload(b"not a pdf", "c.pdf")]
    with pytest.raises(EvidenceRejected):
        declare(world.learner, minutes=100, files=files)
    assert count_rows(Declaration) == 0
    assert count_rows(Evidence) == 0
    assert count_rows(AuditLog, AuditLog.action == "declaration.file") == 0
    assert stored_files() == []


def test_the_form_refuses_a_disguised_file_and_keeps_nothing(app, world):
    client = signed_in(app, world.learner)
    files = [(BytesIO(pdf_bytes()), "good.pdf"), (BytesIO(b"MZ\x90\x00 fake"), "证书.pdf")]
    response = client.post("/me/declarations/new", data=form_data(minutes=100, files=files),
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "证明材料只接受 PDF、JPEG 或 PNG 文件" in response.text
    assert count_rows(Declaration) == 0 and count_rows(Evidence) == 0
    assert stored_files() == []


def test_the_form_files_a_declaration_with_its_deadline(app, world):
    client = signed_in(app, world.learner)
    response = client.post("/me/declarations/new", data=form_data(minutes=100), content_type="multipart/form-data")
    assert response.status_code == 302 and response.location.endswith("/me/declarations")
    declaration = db.session.execute(sa.select(Declaration)).scalar_one()
    assert (declaration.learner_id, declaration.employer_id) == (world.learner.id, world.hospital.id)
    assert (declaration.hours_claimed, declaration.status) == (2, DeclarationStatus.PENDING)
    assert declaration.due_on == date(2025, 6, 23)  # Monday + 5 working days
    assert len(stored_files()) == 1
    listing = client.get("/me/declarations").text
    assert "学术年会" in listing and "待单位审核" in listing


def test_a_learner_without_employer_cannot_declare(world):
    loner = new_learner(world.chengdu, world.hospital)
    loner.employer_id = None
    db.session.commit()
    with pytest.raises(DomainError):
        declare(loner, minutes=100)
    assert count_rows(Declaration) == 0 and stored_files() == []


# --- yearly caps --------------------------------------------------------------------------------------------

def test_competition_public_cap_credits_3_then_2_and_tells_the_learner_why(app, world):
    first = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=3))
    second = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=4))
    assert (first.hours_credited, reload(second.id).hours_credited) == (3, 2)
    assert reload(second.id).hours_approved == 4
    assert [r.hours for r in records_of(first.id) + records_of(second.id)] == [3, 2]
    note = reload(second.id).review_note
    assert "5 学时" in note and "已计入 3 学时" in note and "2 学时未计入" in note
    assert first.review_note == ""

    page = signed_in(app, world.yantai_learner).get("/me/declarations").text
    assert note in page


def test_competition_professional_cap_credits_20_then_10_then_nothing(world):
    first = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "professional", hours=20))
    second = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "professional", hours=20))
    third = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "professional", hours=5))
    assert [reload(d.id).hours_credited for d in (first, second, third)] == [20, 10, 0]
    assert [len(records_of(d.id)) for d in (first, second, third)] == [1, 1, 0]
    assert reload(third.id).status == DeclarationStatus.APPROVED
    assert "5 学时未计入" in reload(third.id).review_note
    ledger = db.session.scalar(sa.select(sa.func.sum(HoursRecord.hours)).where(
        HoursRecord.learner_id == world.yantai_learner.id, HoursRecord.category == Category.PROFESSIONAL))
    assert ledger == 30


def test_caps_are_per_category_and_per_learner(world):
    approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=5))
    professional = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "professional", hours=8))
    colleague = approve(world.port_reviewer, declare(world.yantai_colleague, "competition", "public", hours=5))
    assert (professional.hours_credited, colleague.hours_credited) == (8, 5)


def test_caps_restart_each_year(world, on):
    on(date(2025, 11, 3))
    approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=5))
    over = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=2))
    assert over.hours_credited == 0
    on(date(2026, 3, 2))
    fresh = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=5))
    assert (fresh.year, fresh.hours_credited) == (2026, 5)
    assert records_of(fresh.id)[0].year == 2026


def test_caps_come_from_the_cap_rows(world):
    cap = db.session.execute(sa.select(DeclarationCap).filter_by(
        kind=DeclarationKind.COMPETITION, category=Category.PUBLIC, region_id=world.yantai.id,
        year=clock.today().year)).scalar_one()
    assert cap.max_hours == 5
    cap.max_hours = 4
    db.session.commit()
    approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=3))
    second = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=4))
    assert second.hours_credited == 1
    assert "4 学时" in second.review_note


def test_a_city_cap_row_caps_that_city_only_and_no_cap_applies_everywhere(world):
    """Yantai's competition caps (notice 004) are Yantai's: a Chengdu learner is credited in full until
    Chengdu sets its own cap (issue 14). Chengdu's notice (003) lists no competitions: its regulator accepts
    them for the year first."""
    db.session.execute(sa.update(DeclarationKindRule).where(
        DeclarationKindRule.region_id == world.chengdu.id, DeclarationKindRule.year == clock.today().year,
        DeclarationKindRule.kind == DeclarationKind.COMPETITION).values(accepted=True, categories=["public"]))
    db.session.commit()
    chengdu = approve(world.reviewer, declare(world.learner, "competition", "public", hours=7))
    over = approve(world.port_reviewer, declare(world.yantai_learner, "competition", "public", hours=7))
    assert (chengdu.hours_credited, over.hours_credited) == (7, 5)
    db.session.add(DeclarationCap(kind=DeclarationKind.COMPETITION, category=Category.PUBLIC,
                                  region_id=world.chengdu.id, year=clock.today().year, max_hours=2))
    db.session.commit()
    capped = approve(world.reviewer, declare(world.colleague, "competition", "public", hours=3))
    assert capped.hours_credited == 2


def test_kinds_without_a_cap_row_are_credited_in_full(world):
    research = approve(world.reviewer, declare(world.learner, "research", hours=150))
    assert research.hours_credited == 150


# --- review ---------------------------------------------------------------------------------------------

def test_approval_writes_exactly_one_ledger_row(world):
    declaration = declare(world.learner, "conference", minutes=100)
    approve(world.reviewer, declaration)
    (record,) = records_of(declaration.id)
    assert (record.learner_id, record.year, record.category, record.hours, record.source, record.created_by_id) == (
        world.learner.id, 2025, Category.PROFESSIONAL, 2, HoursSource.DECLARATION, world.reviewer.id)
    reviewed = reload(declaration.id)
    assert (reviewed.status, reviewed.hours_approved, reviewed.hours_credited, reviewed.reviewer_id) == (
        DeclarationStatus.APPROVED, 2, 2, world.reviewer.id)
    assert reviewed.reviewed_at is not None


def test_rejection_needs_a_reason_and_writes_no_ledger_row(world):
    declaration = declare(world.learner, "conference", minutes=100)
    for blank in ("", "   ", None):
        with pytest.raises(DomainError) as refused:
            declarations.review(world.reviewer, declaration.id, False, None, blank)
        assert refused.value.field == "reason"
    assert reload(declaration.id).status == DeclarationStatus.PENDING
    declarations.review(world.reviewer, declaration.id, False, None, "证明材料与申报内容不符")
    rejected = reload(declaration.id)
    assert (rejected.status, rejected.review_note, rejected.hours_credited) == (
        DeclarationStatus.REJECTED, "证明材料与申报内容不符", None)
    assert records_of(declaration.id) == []
    assert count_rows(HoursRecord) == 0


def test_lowering_hours_needs_a_reason(world):
    declaration = declare(world.learner, "conference", days=3)
    with pytest.raises(DomainError) as refused:
        approve(world.reviewer, declaration, hours=16)
    assert refused.value.field == "reason"
    assert reload(declaration.id).status == DeclarationStatus.PENDING and records_of(declaration.id) == []
    approve(world.reviewer, declaration, hours=16, reason="第三天未签到")
    reviewed = reload(declaration.id)
    assert (reviewed.hours_claimed, reviewed.hours_approved, reviewed.hours_credited) == (24, 16, 16)
    assert reviewed.review_note == "第三天未签到"
    assert [r.hours for r in records_of(declaration.id)] == [16]


@pytest.mark.parametrize("hours", [0, -2, 25])
def test_approved_hours_stay_between_1_and_the_claim(world, hours):
    declaration = declare(world.learner, "conference", days=3)
    with pytest.raises(DomainError) as refused:
        approve(world.reviewer, declaration, hours=hours, reason="调整")
    assert refused.value.field == "hours"
    assert records_of(declaration.id) == []


def test_approving_twice_is_refused(app, world):
    declaration = declare(world.learner, "conference", minutes=100)
    approve(world.reviewer, declaration)
    with pytest.raises(DomainError):
        approve(world.reviewer, declaration)
    with pytest.raises(DomainError):
        declarations.review(world.reviewer, declaration.id, False, None, "改主意了")
    client = signed_in(app, world.reviewer)
    response = client.post(f"/review/{declaration.id}", data={"decision": "approve", "hours": "2", "reason": ""})
    assert response.status_code == 200 and "单位已审核，当前：已通过" in response.text  # no form any more
    assert len(records_of(declaration.id)) == 1
    assert reload(declaration.id).status == DeclarationStatus.APPROVED


def test_a_reviewer_cannot_approve_their_own_declaration(app, world):
    declaration = declare(world.learner, "research", hours=5)
    declaration.learner_id = world.reviewer.id  # a reviewer who is also a learner of the employer
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        approve(world.reviewer, declaration)
    assert "自己" in refused.value.message
    client = signed_in(app, world.reviewer)
    response = client.post(f"/review/{declaration.id}", data={"decision": "approve", "hours": "5", "reason": ""})
    assert response.status_code == 200 and "不能审核自己的申报" in response.text
    assert reload(declaration.id).status == DeclarationStatus.PENDING
    assert count_rows(HoursRecord) == 0


def test_the_review_page_approves_and_the_learner_sees_the_result(app, world):
    declaration = declare(world.learner, "conference", minutes=100, title="全国护理学术年会")
    client = signed_in(app, world.reviewer)
    queue = client.get("/review/")
    assert queue.status_code == 200 and "全国护理学术年会" in queue.text
    page = client.get(f"/review/{declaration.id}")
    assert page.status_code == 200 and world.learner.id_number_masked in page.text
    response = client.post(f"/review/{declaration.id}", data={"decision": "approve", "hours": "2", "reason": ""})
    assert response.status_code == 302
    assert [r.hours for r in records_of(declaration.id)] == [2]
    assert "已通过" in signed_in(app, world.learner).get("/me/declarations").text


def test_rejecting_on_the_page_without_a_reason_shows_the_error(app, world):
    declaration = declare(world.learner, "conference", minutes=100)
    client = signed_in(app, world.reviewer)
    response = client.post(f"/review/{declaration.id}", data={"decision": "reject", "hours": "", "reason": ""})
    assert response.status_code == 200 and "驳回时必须填写理由" in response.text
    assert reload(declaration.id).status == DeclarationStatus.PENDING


def test_a_reviewer_of_another_employer_gets_404(app, world):
    declaration = declare(world.learner, "conference", minutes=100)
    key = declaration.evidence[0].key
    for outsider in (world.clinic_reviewer, world.port_reviewer):
        client = signed_in(app, outsider)
        assert client.get(f"/review/{declaration.id}").status_code == 404
        assert client.post(f"/review/{declaration.id}",
                           data={"decision": "approve", "hours": "2", "reason": ""}).status_code == 404
        assert client.get(f"/files/evidence/{key}").status_code == 404
        assert "学术会议" not in client.get("/review/").text
        with pytest.raises(LookupError):
            approve(outsider, declaration)
    assert reload(declaration.id).status == DeclarationStatus.PENDING and count_rows(HoursRecord) == 0


def test_editing_a_pending_declaration_recomputes_the_claim(app, world):
    declaration = declare(world.learner, "conference", minutes=100)
    client = signed_in(app, world.learner)
    assert client.get(f"/me/declarations/{declaration.id}/edit").status_code == 200
    response = client.post(f"/me/declarations/{declaration.id}/edit",
                           data=form_data(title="改过的名称", days=2, files=[]), content_type="multipart/form-data")
    assert response.status_code == 302
    edited = reload(declaration.id)
    assert (edited.title, edited.hours_claimed, edited.kind) == ("改过的名称", 16, DeclarationKind.CONFERENCE)


@pytest.mark.parametrize("decide", ["approve", "reject"])
def test_editing_after_the_review_is_refused(app, world, decide):
    declaration = declare(world.learner, "conference", minutes=100, title="原名称")
    declarations.review(world.reviewer, declaration.id, decide == "approve", None, "理由")
    with pytest.raises(DomainError):
        declarations.edit(world.learner, declaration.id, {"title": "改过", "earned_on": TODAY, "days": 3,
                                                         "category": "professional"})
    client = signed_in(app, world.learner)
    response = client.post(f"/me/declarations/{declaration.id}/edit",
                           data=form_data(title="改过", days=3, files=[]), content_type="multipart/form-data")
    assert response.status_code == 200 and "不能再修改" in response.text
    unchanged = reload(declaration.id)
    assert (unchanged.title, unchanged.hours_claimed) == ("原名称", 2)
    if decide == "approve":
        assert [r.hours for r in records_of(declaration.id)] == [2]


def test_learners_cannot_see_or_edit_each_others_declarations(app, world):
    declaration = declare(world.learner, "conference", minutes=100, title="陈晓的会议")
    key = declaration.evidence[0].key
    client = signed_in(app, world.colleague)
    assert client.get(f"/me/declarations/{declaration.id}/edit").status_code == 404
    response = client.post(f"/me/declarations/{declaration.id}/edit", data=form_data(title="篡改", days=3, files=[]),
                           content_type="multipart/form-data")
    assert response.status_code == 404
    assert client.get(f"/files/evidence/{key}").status_code == 404
    assert "陈晓的会议" not in client.get("/me/declarations").text
    with pytest.raises(LookupError):
        declarations.edit(world.colleague, declaration.id, {"title": "篡改", "earned_on": TODAY, "days": 3})
    assert reload(declaration.id).title == "陈晓的会议"


def test_a_learner_cannot_review(app, world):
    declaration = declare(world.learner, "conference", minutes=100)
    client = signed_in(app, world.colleague)
    assert client.get(f"/review/{declaration.id}").status_code == 403
    with pytest.raises(LookupError):
        approve(world.colleague, declaration)


# --- working days and deadlines -------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "due"), [
    # National Day 2025: Sunday 09-28 is a workday, 10-01..10-08 are off, Saturday 10-11 is a workday.
    (date(2025, 9, 26), date(2025, 10, 10)),
    (date(2025, 9, 25), date(2025, 10, 9)),
    (date(2025, 9, 30), date(2025, 10, 14)),
    (date(2025, 10, 1), date(2025, 10, 14)),
    # Spring Festival 2026: Saturday 02-14 is a workday, 02-15..02-23 off, Saturday 02-28 a workday.
    (date(2026, 2, 12), date(2026, 2, 26)),
    (date(2026, 2, 13), date(2026, 2, 27)),
    (date(2026, 2, 24), date(2026, 3, 2)),
    # A plain week.
    (date(2025, 3, 3), date(2025, 3, 10)),
    (date(2025, 3, 7), date(2025, 3, 14)),
    (date(2025, 3, 8), date(2025, 3, 14)),
])
def test_five_working_days_follow_the_holiday_schedule(regions, start, due):
    assert workdays.add_working_days(start, 5) == due


def test_make_up_workdays_and_holidays_are_read_from_the_calendar(regions):
    assert workdays.is_workday(date(2025, 9, 28))  # a Sunday made a workday
    assert workdays.is_workday(date(2025, 10, 11))  # a Saturday made a workday
    assert not workdays.is_workday(date(2025, 10, 8))  # a Wednesday off
    assert not workdays.is_workday(date(2025, 10, 12))  # an ordinary Sunday


def test_the_deadline_is_set_when_the_declaration_is_filed(world, on):
    on(date(2025, 9, 26))
    assert declare(world.learner, minutes=100).due_on == date(2025, 10, 10)
    on(date(2025, 9, 30))
    assert declare(world.learner, minutes=100).due_on == date(2025, 10, 14)


def test_overdue_reviews_are_flagged_for_the_reviewer(app, world, on):
    on(date(2025, 9, 26))
    late = declare(world.learner, minutes=100, title="超期的申报")
    on(date(2025, 10, 10))
    assert not declarations.is_overdue(reload(late.id))
    page = signed_in(app, world.reviewer).get("/review/").text
    assert "已超期" not in page
    on(date(2025, 10, 13))
    on_time = declare(world.colleague, minutes=100, title="按时的申报")
    assert declarations.is_overdue(reload(late.id)) and not declarations.is_overdue(reload(on_time.id))
    client = signed_in(app, world.reviewer)
    queue = client.get("/review/").text
    row = re.search(r'<tr class="([^"]*)">((?:(?!</tr>).)*超期的申报.*?)</tr>', queue, re.S)
    assert row and "table-danger" in row.group(1) and "已超期" in row.group(2)
    other = re.search(r"<tr[^>]*>((?:(?!</tr>).)*按时的申报.*?)</tr>", queue, re.S)
    assert other and "已超期" not in other.group(1)
    assert "已超期" in client.get(f"/review/{late.id}").text
    assert "已超期" not in client.get(f"/review/{on_time.id}").text


def test_overdue_reviews_are_listed_for_the_regulator_by_employer_in_their_region(app, world, on):
    on(date(2025, 9, 26))
    declare(world.learner, minutes=100)
    declare(world.colleague, minutes=100)
    declare(world.other_learner, minutes=100)
    declare(world.yantai_learner, minutes=100)
    decided = declare(world.learner, minutes=90)
    approve(world.reviewer, decided)
    on(date(2025, 10, 9))
    declare(world.learner, minutes=100)  # due 10-16: not overdue yet
    on(date(2025, 10, 13))

    rows = {employer.name: (n, oldest) for employer, n, oldest in declarations.overdue_by_employer(world.regulator)}
    assert rows == {"成都市第一人民医院": (2, date(2025, 10, 10)), "成都市第三人民医院": (1, date(2025, 10, 10))}
    province = {e.name for e, _n, _d in declarations.overdue_by_employer(world.province_regulator)}
    assert province == {"成都市第一人民医院", "成都市第三人民医院"}
    yantai = {e.name: n for e, n, _d in declarations.overdue_by_employer(world.yantai_regulator)}
    assert yantai == {"烟台市芝罘区人民医院": 1}

    page = signed_in(app, world.regulator).get("/regulator/reviews")
    assert page.status_code == 200
    table = re.search(r'<table[^>]*id="overdue-reviews".*?</table>', page.text, re.S).group(0)
    assert "成都市第一人民医院</td><td>2</td>" in table
    assert "成都市第三人民医院</td><td>1</td>" in table
    assert "烟台" not in table
    yantai_table = signed_in(app, world.yantai_regulator).get("/regulator/reviews").text
    assert "烟台市芝罘区人民医院" in yantai_table and "成都市第一人民医院" not in yantai_table


def test_the_overdue_list_is_for_regulators_only(app, world):
    assert signed_in(app, world.reviewer).get("/regulator/reviews").status_code == 403
    assert signed_in(app, world.learner).get("/regulator/reviews").status_code == 403


# --- evidence downloads ------------------------------------------------------------------------------------

@pytest.fixture
def filed(world):
    data = pdf_bytes(100)
    declaration = declare(world.learner, minutes=100, files=[upload(data, "会议通知.pdf")])
    return declaration.evidence[0].key, data


@pytest.mark.parametrize("who", ["learner", "reviewer", "regulator", "province_regulator"])
def test_evidence_is_a_sandboxed_download_for_those_who_may_see_it(app, world, filed, who):
    key, data = filed
    response = signed_in(app, getattr(world, who)).get(f"/files/evidence/{key}")
    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize("who", ["colleague", "other_learner", "clinic_reviewer", "port_reviewer",
                                 "yantai_regulator", "base_admin"])
def test_evidence_is_404_for_anyone_else(app, world, filed, who):
    key, _data = filed
    client = signed_in(app, getattr(world, who))
    assert client.get(f"/files/evidence/{key}").status_code == 404


def test_unknown_evidence_is_404_and_anonymous_visitors_are_sent_to_sign_in(app, world, filed):
    key, _data = filed
    assert signed_in(app, world.learner).get("/files/evidence/" + "0" * 32).status_code == 404
    response = app.test_client().get(f"/files/evidence/{key}")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_the_forms_conversions_are_the_learners_regions_rule(app, world):
    """The help text beside minutes and days states the region's rule of the year, not the usual 45 and 8."""
    year = clock.today().year
    rule = db.session.execute(sa.select(RuleSet).where(RuleSet.region_id == world.chengdu.id,
                                                       RuleSet.year == year)).scalar_one_or_none()
    if rule is None:
        rule = RuleSet(region_id=world.chengdu.id, year=year)
        db.session.add(rule)
    rule.minutes_per_hour, rule.hours_per_day = 50, 6
    db.session.commit()

    page = signed_in(app, world.learner).get("/me/declarations/new").get_data(as_text=True)

    assert "每 50 分钟折算 1 学时" in page and "每天折算 6 学时" in page
    assert "每 45 分钟" not in page and "每天折算 8 学时" not in page
