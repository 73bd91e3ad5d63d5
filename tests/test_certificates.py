"""Certificates of a completed year: refused while any minimum is missing; a PDF with the embedded CJK font,
the masked ID and a QR code to the public verification page; stable codes, reissue and supersession,
revocation with a reason, rate-limited lookups (in process and in Redis); and the annual registration form
as XLSX and PDF, grouped as notice 004 lays it out."""

import re
import secrets
import shutil
import subprocess
import threading
import time
from datetime import UTC, date, datetime
from io import BytesIO
from itertools import count
from pathlib import Path

import openpyxl
import pytest
import redis
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app import create_app
from extensions import db, limiter
from models import Category, Certificate, CertificateStatus, Employer, HoursRecord, HoursSource, Role
from seeding.demo import seed_reference
from services import accounts, certificates, declarations, resident_ids
from services.errors import DomainError
from services.infra import clock
from tests.conftest import PASSWORD, employ, login

TODAY = date(2025, 6, 16)
YEAR = 2025
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots" / "certificate"
REDIS_URL = "redis://127.0.0.1:6379/15"
ALPHABET = set("ABCDEFGHJKMNPQRSTUVWXYZ23456789")
_people = count(1)


# --- fixtures and helpers --------------------------------------------------------------------------------

@pytest.fixture
def app_config(request, tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence"), **getattr(request, "param", {})}


@pytest.fixture
def regions(app, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    return seed_reference()


def id_number(n: int) -> str:
    first17 = f"51010419850512{n:03d}"
    return first17 + resident_ids.check_character(first17)


def new_learner(region, name: str | None = None, employer=None):
    n = next(_people)
    learner = accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": name or f"学员{n}", "phone": f"138{n:08d}", "email": f"cert-learner{n}@test.example",
        "password": PASSWORD, "id_number": id_number(n), "region_id": region.id, "professional_title": "中级",
    })
    if employer is not None:
        employ(learner, employer)
    learner.full_id_number = resident_ids.decrypt(learner.id_number_ciphertext)
    return learner


@pytest.fixture
def chengdu(regions):
    return regions["510100"]


@pytest.fixture
def learner(chengdu):
    return new_learner(chengdu, "张晓明")


def credit(learner, hours: int, category=Category.PUBLIC, year=YEAR, note="人工智能与健康"):
    db.session.add(HoursRecord(learner_id=learner.id, year=year, category=category, hours=hours,
                               source=HoursSource.IMPORT, note=note))
    db.session.commit()


def signed_in(app, user):
    """A client of its own, signed in as ``user`` (the welcome message already shown)."""
    client = app.test_client()
    response = login(client, user)
    assert response.status_code == 302
    client.get(response.location)
    return client


def flashed(html: str, category: str = "danger") -> list[str]:
    return re.findall(rf'<div class="alert alert-{category}" role="alert">(.*?)</div>', html, re.S)


def certificate_of(learner) -> Certificate | None:
    db.session.expire_all()
    return certificates.current(learner.id, YEAR)


def all_certificates(learner) -> list[Certificate]:
    db.session.expire_all()
    return db.session.execute(
        sa.select(Certificate).where(Certificate.learner_id == learner.id).order_by(Certificate.id)
    ).scalars().all()


def download(client, year=YEAR):
    response = client.get(f"/me/certificates/{year}.pdf")
    assert response.status_code == 200, response.location
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    return response.data


def run(*args) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


def pdf_fonts(path: Path) -> list[dict]:
    """pdffonts' table as dicts, split on the column widths its dashed line gives."""
    lines = run("pdffonts", path).splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    names = [lines[0][a:b].strip() for a, b in spans[:-1]] + ["object ID"]
    return [{name: line[a:b if i < len(spans) - 1 else None].strip()
             for i, (name, (a, b)) in enumerate(zip(names, spans, strict=True))} for line in lines[2:] if line.strip()]


def assert_font_embedded(path: Path) -> None:
    fonts = pdf_fonts(path)
    assert fonts, "no fonts in the PDF"
    assert any("WenQuanYi" in f["name"] for f in fonts), fonts
    assert all(f["emb"] == "yes" for f in fonts), fonts


def fresh_window() -> None:
    """Wait for a new minute if this one is about to end (rate-limit windows are whole minutes)."""
    left = 60 - time.time() % 60
    if left < 8:
        time.sleep(left + 0.2)


# --- no certificate before every minimum is met ----------------------------------------------------------

def test_one_hour_short_gets_no_certificate_and_is_told_what_is_missing(app, learner):
    credit(learner, 29)
    with pytest.raises(DomainError) as refused:
        certificates.issue(learner, YEAR)
    assert "公需科目还差 1 学时" in refused.value.message
    client = signed_in(app, learner)
    response = client.get(f"/me/certificates/{YEAR}.pdf")
    assert response.status_code == 302 and response.location.endswith("/me/certificates")
    page = client.get("/me/certificates").text
    assert flashed(page) == ["本年度学时尚未达标，暂不能下载证书：公需科目还差 1 学时"]
    row = re.search(rf'<tr data-year="{YEAR}">(.*?)</tr>', page, re.S).group(1)
    assert "未达标" in row and "下载证书" not in row
    assert all_certificates(learner) == []


def test_every_minimum_of_the_region_must_be_met(app, regions):
    yantai = new_learner(regions["370600"])  # Yantai: total 90, public 30, professional 60
    credit(yantai, 30)
    credit(yantai, 59, Category.PROFESSIONAL)
    credit(yantai, 10, Category.ELECTIVE)
    with pytest.raises(DomainError) as refused:
        certificates.issue(yantai, YEAR)
    assert "专业科目还差 1 学时" in refused.value.message
    credit(yantai, 1, Category.PROFESSIONAL)
    assert certificates.issue(yantai, YEAR).summary["total"] == 100


def test_a_year_without_rules_gets_no_certificate(app, learner):
    credit(learner, 40, year=2024)
    with pytest.raises(DomainError):
        certificates.issue(learner, 2024)


# --- only a year that has begun, only its own ledger rows (issue 14) --------------------------------------

REAL_TODAY = clock.today  # read at import, before any fixture patches it


def at_instant(monkeypatch, instant: datetime) -> None:
    """The real clock.today(), its datetime.now() frozen at ``instant`` (aware, UTC): so the Shanghai date
    is what services.infra.clock itself derives, not what the test decides."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return instant.astimezone(tz) if tz is not None else instant.replace(tzinfo=None)

    monkeypatch.setattr(clock, "datetime", Frozen)
    monkeypatch.setattr(clock, "today", REAL_TODAY)


def test_no_certificate_for_a_year_before_1_january_00_00_in_shanghai(app, monkeypatch, learner):
    credit(learner, 30, year=2027)  # hours booked to 2027 ahead of it (as the ledger did from course end dates)
    at_instant(monkeypatch, datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC))  # 23:59:59 in Shanghai
    with pytest.raises(DomainError) as refused:
        certificates.issue(learner, 2027)
    assert refused.value.message == "2027 年度尚未开始，2027 年 1 月 1 日起方可下载该年度证书"
    client = signed_in(app, learner)
    response = client.get("/me/certificates/2027.pdf")
    assert response.status_code == 302 and response.location.endswith("/me/certificates")
    page = client.get("/me/certificates").text
    assert flashed(page) == ["2027 年度尚未开始，2027 年 1 月 1 日起方可下载该年度证书"]
    row = re.search(r'<tr data-year="2027">(.*?)</tr>', page, re.S).group(1)
    assert "年度尚未开始" in row and "2027 年 1 月 1 日起可下载" in row and "下载证书" not in row
    assert all_certificates(learner) == []

    at_instant(monkeypatch, datetime(2026, 12, 31, 16, 0, tzinfo=UTC))  # 2027-01-01 00:00 in Shanghai
    row = re.search(r'<tr data-year="2027">(.*?)</tr>', client.get("/me/certificates").text, re.S).group(1)
    assert "下载证书" in row
    download(client, 2027)
    (certificate,) = all_certificates(learner)
    assert (certificate.year, certificate.summary["total"]) == (2027, 30)


def test_a_certificate_sums_only_the_ledger_rows_of_its_year(app, monkeypatch, learner, make_base, make_course):
    """The ledger's year decides, not the course's dates: a course ending in 2027 completed in 2026 counts
    on the 2026 certificate only."""
    at_instant(monkeypatch, datetime(2027, 3, 1, 2, 0, tzinfo=UTC))
    spanning = make_course(make_base(), title="跨年线上公需课", category=Category.PUBLIC,
                           start_date=date(2026, 11, 1), end_date=date(2027, 1, 31))
    db.session.add(HoursRecord(learner_id=learner.id, year=2026, category=Category.PUBLIC, hours=20,
                               source=HoursSource.COURSE, course_id=spanning.id))
    db.session.commit()
    credit(learner, 10, year=2026, note="2026年的讲座")
    credit(learner, 7, year=2025, note="2025年的讲座")
    credit(learner, 30, year=2027, note="2027年的讲座")

    for year, titles in ((2026, {"跨年线上公需课", "2026年的讲座"}), (2027, {"2027年的讲座"})):
        summary = certificates.issue(learner, year).summary
        assert summary["total"] == 30
        assert {row["title"] for row in summary["records"]} == titles
        assert summary["requirement"] == [{"label": "公需科目", "required": 30, "earned": 30}]


# --- the PDF -------------------------------------------------------------------------------------------

def test_certificate_pdf_embeds_the_font_shows_the_masked_id_and_a_qr_code_to_verify(app, learner, tmp_path):
    credit(learner, 30)
    client = signed_in(app, learner)
    page = client.get("/me/certificates").text
    assert "已达标" in re.search(rf'<tr data-year="{YEAR}">(.*?)</tr>', page, re.S).group(1)
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(download(client))
    (certificate,) = all_certificates(learner)
    code = certificate.code

    assert_font_embedded(pdf)
    text = run("pdftotext", pdf, "-")
    assert "专业技术人员继续教育证书" in text
    assert learner.id_number_masked in text and learner.full_id_number not in text
    assert f"验证码：{code}" in text
    assert "合计学时：30" in text

    run("pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", pdf, tmp_path / "page")
    (png,) = tmp_path.glob("page*.png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, ARTIFACTS / "certificate-page-1.png")
    decoded = run("zbarimg", "-q", png).strip().splitlines()
    assert len(decoded) == 1 and decoded[0].startswith("QR-Code:")
    url = decoded[0].removeprefix("QR-Code:")
    assert url.endswith(f"/verify/{code}")
    verified = app.test_client().get(url.removeprefix("http://localhost"))
    assert verified.status_code == 200 and "证书有效" in verified.text


def test_the_issue_date_on_the_pdf_is_the_local_date(app, learner, tmp_path):
    """Stored UTC, shown in Asia/Shanghai: 16:30 UTC on 15 June is already 16 June in Chengdu."""
    credit(learner, 30)
    certificate = certificates.issue(learner, YEAR)
    certificate.issued_at = datetime(2025, 6, 15, 16, 30)
    db.session.commit()
    verify = app.test_client().get(f"/verify/{certificate.code}").text
    assert "2025-06-16 00:30" in verify  # the verify page already shows local time
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(download(signed_in(app, learner)))
    assert certificate_of(learner).code == certificate.code
    assert "签发日期：2025年06月16日" in run("pdftotext", pdf, "-")


def test_codes_are_12_unambiguous_characters_and_differ_between_learners(app, chengdu):
    codes = set()
    for _n in range(5):
        someone = new_learner(chengdu)
        credit(someone, 30)
        code = certificates.issue(someone, YEAR).code
        assert len(code) == 12 and set(code) <= ALPHABET
        codes.add(code)
    assert len(codes) == 5


def test_downloading_again_without_changes_keeps_the_code(app, learner):
    credit(learner, 30)
    client = signed_in(app, learner)
    download(client)
    first = certificate_of(learner).code
    download(client)
    download(client)
    assert [c.code for c in all_certificates(learner)] == [first]
    assert f"{first}</a>" in client.get("/me/certificates").text


def test_a_new_hours_record_reissues_with_a_new_code_and_the_old_one_is_superseded(app, learner):
    credit(learner, 30)
    client = signed_in(app, learner)
    download(client)
    old = certificate_of(learner)
    old_code = old.code
    credit(learner, 16, Category.PROFESSIONAL, note="临床护理质量与患者安全")
    download(client)
    new = certificate_of(learner)
    assert new.code != old_code and new.summary["total"] == 46
    earlier = db.session.execute(sa.select(Certificate).filter_by(code=old_code)).scalar_one()
    assert (earlier.status, earlier.superseded_by_id) == (CertificateStatus.SUPERSEDED, new.id)

    public = app.test_client()
    superseded = public.get(f"/verify/{old_code}")
    assert superseded.status_code == 200 and "已被重新签发的证书取代" in superseded.text
    assert "证书有效" not in superseded.text
    current = public.get(f"/verify/{new.code}")
    assert "证书有效" in current.text and '<dd class="col-8" id="verify-total">46</dd>' in current.text


# --- public verification ----------------------------------------------------------------------------------

def test_verify_shows_the_masked_name_and_id_only(app, learner):
    credit(learner, 30)
    certificate = certificates.issue(learner, YEAR)
    response = app.test_client().get(f"/verify/{certificate.code}")
    assert response.status_code == 200
    assert "张**" in response.text and learner.id_number_masked in response.text
    assert "张晓明" not in response.text
    assert learner.full_id_number not in response.text
    assert learner.full_id_number[6:14] not in response.text  # the birth date the mask hides
    assert learner.phone not in response.text and learner.email not in response.text
    lower = app.test_client().get(f"/verify?code={certificate.code.lower()}")
    assert lower.status_code == 200 and "证书有效" in lower.text


@pytest.mark.parametrize("code", ["ABCDEFGHJKMN", "abcdefghjkmn", "ABC", "0O1IL0O1IL0O", "ABCDEFGHJKMNP",
                                  "ABCDEFGHJK-N", "%3Cscript%3E"])
def test_unknown_or_malformed_codes_are_a_404_not_found_page(app, learner, code):
    credit(learner, 30)
    certificates.issue(learner, YEAR)
    for url in (f"/verify/{code}", f"/verify?code={code}"):
        response = app.test_client().get(url)
        assert response.status_code == 404
        assert "未找到该验证码对应的证书" in response.text
        assert "张**" not in response.text and "证书有效" not in response.text


@pytest.mark.parametrize("app_config", [{"VERIFY_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_the_fourth_lookup_in_a_minute_gets_429(app, learner):
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    fresh_window()
    client = app.test_client()
    answers = [client.get(f"/verify/{c}").status_code for c in (code, "ABCDEFGHJKMN", code, code)]
    assert answers == [200, 404, 200, 429]
    assert "查询过于频繁" in client.get(f"/verify/{code}").text
    assert app.test_client().get("/verify").status_code == 200  # the empty form is not counted


@pytest.mark.parametrize("app_config", [{"VERIFY_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_a_client_cannot_escape_the_limit_by_sending_its_own_forwarded_for_header(app, learner):
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    fresh_window()
    client = app.test_client()
    answers = [client.get(f"/verify/{code}", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
               for n in range(1, 7)]
    assert 429 in answers[3:], answers


def lookups(client, code: str, address: str, n: int) -> list[int]:
    return [client.get(f"/verify/{code}", environ_base={"REMOTE_ADDR": address}).status_code for _ in range(n)]


@pytest.mark.parametrize("app_config", [{"VERIFY_RATE_LIMIT": "3 per minute", "REDIS_URL": REDIS_URL}],
                         indirect=True)
def test_the_limit_is_counted_in_redis_when_configured(app, learner, sqlite_template, tmp_path):
    """Two apps stand for two gunicorn workers: lookups counted by one count at the other. Without Redis
    each app would count in its own memory and the other would answer the fourth lookup."""
    assert redis.Redis.from_url(REDIS_URL).ping()
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    db.session.commit()
    address = f"10.7.{secrets.randbelow(250)}.{secrets.randbelow(250)}"  # a counter of this run alone
    fresh_window()
    assert lookups(app.test_client(), code, address, 2) == [200, 200]
    other_worker = create_app({**app.config, "RATELIMIT_STORAGE_URI": REDIS_URL})

    with other_worker.app_context():
        assert lookups(other_worker.test_client(), code, address, 2) == [200, 429]
        assert type(limiter.storage).__name__ == "RedisStorage"


@pytest.mark.parametrize("app_config", [{"VERIFY_RATE_LIMIT": "3 per minute", "REDIS_URL": "redis://127.0.0.1:1/15"}],
                         indirect=True)
def test_without_redis_the_limit_is_still_counted_in_process(app, learner):
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    fresh_window()
    client = app.test_client()
    try:
        assert [client.get(f"/verify/{code}").status_code for _n in range(4)] == [200, 200, 200, 429]
    finally:
        limiter._storage_dead = False  # the limiter is one per process: leave it healthy for the next app


# --- revocation --------------------------------------------------------------------------------------------

@pytest.fixture
def regulators(regions, make_user):
    return {
        "chengdu": make_user(Role.REGULATOR, region_id=regions["510100"].id),
        "sichuan": make_user(Role.REGULATOR, region_id=regions["510000"].id),
        "yantai": make_user(Role.REGULATOR, region_id=regions["370600"].id),
    }


def revoke(client, code, reason):
    return client.post("/regulator/certificates/revoke", data={"code": code, "reason": reason})


def test_a_regulator_revokes_with_a_reason_and_verify_says_so(app, learner, regulators):
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    client = signed_in(app, regulators["chengdu"])
    response = revoke(client, code.lower(), "学时记录系伪造，经核查撤销")
    assert response.status_code == 302
    assert flashed(client.get("/regulator/reviews").text, "success") == [f"证书 {code} 已撤销"]
    revoked = db.session.execute(sa.select(Certificate).filter_by(code=code)).scalar_one()
    assert (revoked.status, revoked.revoke_reason, revoked.revoked_by_id) == (
        CertificateStatus.REVOKED, "学时记录系伪造，经核查撤销", regulators["chengdu"].id)
    page = app.test_client().get(f"/verify/{code}").text
    assert "已撤销" in page and "学时记录系伪造，经核查撤销" in page and "证书有效" not in page
    with pytest.raises(DomainError):
        certificates.revoke(regulators["chengdu"], code, "再撤销一次")


def test_revoking_needs_a_reason(app, learner, regulators):
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    client = signed_in(app, regulators["chengdu"])
    for blank in ("", "   "):
        revoke(client, code, blank)
        assert flashed(client.get("/regulator/reviews").text) in (["请填写撤销原因"], ["撤销证书必须填写原因"])
    with pytest.raises(DomainError) as refused:
        certificates.revoke(regulators["chengdu"], code, " ")
    assert refused.value.field == "reason"
    assert certificate_of(learner).status == CertificateStatus.VALID


def test_a_province_regulator_may_revoke_another_regions_may_not(app, learner, regulators):
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    outsider = signed_in(app, regulators["yantai"])
    assert revoke(outsider, code, "越权撤销").status_code == 404
    with pytest.raises(LookupError):
        certificates.revoke(regulators["yantai"], code, "越权撤销")
    assert revoke(outsider, "ABCDEFGHJKMN", "不存在").status_code == 404
    assert certificate_of(learner).status == CertificateStatus.VALID
    assert revoke(signed_in(app, regulators["sichuan"]), code, "省厅核查撤销").status_code == 302
    assert all_certificates(learner)[0].status == CertificateStatus.REVOKED


def test_only_regulators_revoke(app, learner, make_user):
    credit(learner, 30)
    code = certificates.issue(learner, YEAR).code
    assert revoke(signed_in(app, learner), code, "我自己撤销").status_code == 403
    assert revoke(app.test_client(), code, "匿名撤销").status_code == 302
    assert certificate_of(learner).status == CertificateStatus.VALID


def test_a_revoked_certificate_is_not_undone_by_downloading_again(app, learner, regulators):
    """Revocation must stick: with the same ledger, the learner cannot get a fresh valid certificate."""
    credit(learner, 30)
    client = signed_in(app, learner)
    download(client)
    code = certificate_of(learner).code
    certificates.revoke(regulators["chengdu"], code, "学时记录系伪造")
    client.get(f"/me/certificates/{YEAR}.pdf")
    valid = [c.code for c in all_certificates(learner) if c.status == CertificateStatus.VALID]
    assert valid == [], f"revoked {code}, yet a new valid certificate {valid} was issued for the same hours"


# --- the registration form ----------------------------------------------------------------------------

PUBLIC, TRAINING, SELF_STUDY, RESULTS, GRASSROOTS, OTHER = (
    ("公需科目", ""), ("专业科目", "培训进修类（含网上学习）"), ("专业科目", "自学类"),
    ("专业科目", "折算类：成果、论文著作类"), ("专业科目", "折算类：服务基层活动"), ("专业科目", "其他类"),
)


@pytest.fixture
def ledger(regions, make_user, make_base, make_course):
    """A learner's year from every source, and what the form should show per group. In Yantai, whose form it
    is (notice 004, annex 2) and which accepts every kind of declared learning below (Chengdu's list, 003,
    has no self-study, service at the grassroots or competition)."""
    yantai = regions["370600"]
    employer = Employer(name="烟台市芝罘区人民医院", region_id=yantai.id)
    db.session.add(employer)
    db.session.commit()
    learner = new_learner(yantai, "李华", employer)
    reviewer = make_user(Role.REVIEWER, employer_id=employer.id, region_id=yantai.id)
    base = make_base(name="烟台市继续教育基地", region_id=yantai.id)
    for title, category, hours in (("人工智能与健康", Category.PUBLIC, 30),
                                   ("临床护理质量与患者安全", Category.PROFESSIONAL, 16)):
        course = make_course(base, title=title, category=category, hours=hours)
        db.session.add(HoursRecord(learner_id=learner.id, year=YEAR, category=category, hours=hours,
                                   source=HoursSource.COURSE, course_id=course.id))
    db.session.add(HoursRecord(learner_id=learner.id, year=YEAR, category=Category.ELECTIVE, hours=6,
                               source=HoursSource.IMPORT, note="职场心理健康"))
    db.session.add(HoursRecord(learner_id=learner.id, year=YEAR - 1, category=Category.PUBLIC, hours=30,
                               source=HoursSource.IMPORT, note="去年的课程"))
    db.session.commit()
    for kind, category, title, amounts in (
        ("conference", None, "四川省护理学术年会", {"minutes": 100}),
        ("self_study", None, "自学《护理管理学》", {"hours": 10}),
        ("research", None, "论文：ICU 护理质量指标研究", {"hours": 20}),
        ("grassroots", None, "对口支援乡镇卫生院", {"days": 3}),
        ("competition", "professional", "全市护理技能竞赛", {"hours": 8}),
        ("competition", "public", "全市职业道德知识竞赛", {"hours": 3}),
    ):
        data = {"kind": kind, "category": category, "title": title, "organiser": "成都市卫健委",
                "earned_on": TODAY, "minutes": None, "days": None, "hours": None, **amounts}
        files = [FileStorage(stream=BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="证明.pdf")]
        declaration = declarations.declare(learner, data, files)
        declarations.review(reviewer, declaration.id, True, None, "")
    expected = {
        PUBLIC: (33, {"人工智能与健康", "全市职业道德知识竞赛"}),
        TRAINING: (18, {"临床护理质量与患者安全", "四川省护理学术年会"}),
        SELF_STUDY: (10, {"自学《护理管理学》"}),
        RESULTS: (20, {"论文：ICU 护理质量指标研究"}),
        GRASSROOTS: (24, {"对口支援乡镇卫生院"}),
        OTHER: (14, {"全市护理技能竞赛", "职场心理健康"}),
    }
    return learner, expected


def form_groups(rows) -> dict[tuple, list]:
    """The lines of the form's table (registration_forms.sheet) by group, as (category, kind): public lines
    follow the header; each professional kind opens with its own row of column names (序号 in column D)."""
    found: dict[tuple, list] = {}
    group = PUBLIC
    for row in rows[3:]:
        if row[3] == "序号":
            kind = row[2] or row[1]
            group = {"培训进修类（含网上学习）": TRAINING, "自学类": SELF_STUDY, "成果、论文著作类": RESULTS,
                     "服务基层活动": GRASSROOTS, "其他类": OTHER}[kind]
        elif isinstance(row[3], int) and row[4]:
            found.setdefault(group, []).append((row[4], row[10]))
    return found


def test_registration_form_xlsx_groups_rows_as_the_form_and_totals_the_ledger(app, ledger):
    learner, expected = ledger
    response = signed_in(app, learner).get(f"/me/registration-form/{YEAR}.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    sheet = openpyxl.load_workbook(BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == f"专业技术人员继续教育情况登记表（{YEAR}年度）"
    heading = " ".join(str(v) for v in rows[1] if v)
    assert "李华" in heading and learner.full_id_number not in heading
    assert rows[2][:4] == ("类别", None, None, "序号")

    groups = form_groups(rows)
    assert list(groups) == [PUBLIC, TRAINING, SELF_STUDY, RESULTS, GRASSROOTS, OTHER]
    assert {g: sum(h for _t, h in lines) for g, lines in groups.items()} == {
        group: hours for group, (hours, _titles) in expected.items()}
    assert {g: {t for t, _h in lines} for g, lines in groups.items()} == {
        group: titles for group, (_hours, titles) in expected.items()}
    ledger_sum = db.session.scalar(sa.select(sa.func.sum(HoursRecord.hours)).where(
        HoursRecord.learner_id == learner.id, HoursRecord.year == YEAR))
    assert ledger_sum == 119 and rows[-1][0] == f"年度总学时：{ledger_sum} 学时"
    assert "去年的课程" not in str(rows)


def test_registration_form_pdf_embeds_the_font_and_shows_the_groups(app, ledger, tmp_path):
    learner, expected = ledger
    response = signed_in(app, learner).get(f"/me/registration-form/{YEAR}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(response.data)
    assert_font_embedded(pdf)
    text = re.sub(r"\s+", "", run("pdftotext", pdf, "-"))
    assert f"专业技术人员继续教育情况登记表（{YEAR}年度）" in text
    assert learner.full_id_number not in text
    for _hours, titles in expected.values():
        for title in titles:
            assert re.sub(r"\s+", "", title)[:6] in text
    assert "年度总学时：119学时" in text


def test_registration_form_of_an_unknown_format_is_404(app, ledger):
    learner, _expected = ledger
    assert signed_in(app, learner).get(f"/me/registration-form/{YEAR}.docx").status_code == 404


# --- two downloads at once (PostgreSQL) ------------------------------------------------------------------

@pytest.mark.postgres
def test_two_simultaneous_downloads_leave_one_valid_certificate(pg_app, monkeypatch):
    """A double click on “下载证书”: both requests find no certificate yet. The reads are widened (the
    lookup of the current certificate sleeps) so that the two requests reliably overlap."""
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    learner = new_learner(seed_reference()["510100"], "张晓明")
    credit(learner, 30)
    clients = [signed_in(pg_app, learner) for _n in range(2)]
    lookup = certificates.current

    def slow_lookup(*args):
        found = lookup(*args)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(certificates, "current", slow_lookup)
    db.session.commit()
    barrier = threading.Barrier(len(clients))
    answers = []

    def click(client):
        barrier.wait()
        try:
            answers.append(client.get(f"/me/certificates/{YEAR}.pdf").status_code)
        except Exception as error:  # noqa: BLE001 - the answer under test, reported below
            answers.append(repr(error))

    threads = [threading.Thread(target=click, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(certificates, "current", lookup)
    valid = db.session.scalars(sa.select(Certificate.code).where(
        Certificate.learner_id == learner.id, Certificate.status == CertificateStatus.VALID)).all()
    assert len(valid) == 1, f"answers {answers}; valid certificates {valid}"
    assert clients[0].get(f"/me/certificates/{YEAR}.pdf").status_code == 200
