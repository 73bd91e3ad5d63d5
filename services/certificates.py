"""Electronic certificates of a completed year: issued when every minimum of the region's rules is met,
a PDF with the records behind it and a QR code to a public verification page; revocable, reissuable."""

import io
import secrets
from datetime import UTC
from functools import cache

import sqlalchemy as sa
from flask import current_app, url_for
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from extensions import db
from models import Category, Certificate, CertificateStatus, Course, Declaration, HoursRecord, HoursSource, Role, User
from models._common import utcnow
from services import audit, hours, identifiers, scope
from services.errors import DomainError
from services.infra import clock
from services.infra.locking import locked

# Unambiguous characters (no 0/O, 1/I/L): 12 of 31 give about 59 bits, not guessable or enumerable.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
FONT_NAME = "JidiCJK"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else name


def records(learner_id: int, year: int) -> list[dict]:
    """The ledger rows behind a year, with course titles. One query."""
    rows = db.session.execute(
        sa.select(HoursRecord, sa.func.coalesce(Course.title, Declaration.title))
        .outerjoin(Course, Course.id == HoursRecord.course_id)
        .outerjoin(Declaration, Declaration.id == HoursRecord.declaration_id)
        .where(HoursRecord.learner_id == learner_id, HoursRecord.year == year)
        .order_by(HoursRecord.category, HoursRecord.id)
    ).all()
    return [
        {"category": r.category.value, "source": r.source.value, "hours": r.hours,
         "title": title or r.note or HoursSource(r.source).label}
        for r, title in rows
    ]


def progress_of(learner: User, year: int) -> hours.Progress:
    """The learner's hours of ``year`` against the rule in force. One query."""
    return hours.ledger(learner, year).years[year]


def _summary(learner: User, year: int, progress: hours.Progress) -> dict:
    totals = {c.value: 0 for c in Category}
    listed = records(learner.id, year)
    for row in listed:
        totals[row["category"]] += row["hours"]
    return {
        "name": learner.name, "masked_name": mask_name(learner.name), "masked_id": learner.id_number_masked,
        "year": year, "totals": totals, "total": sum(totals.values()), "records": listed,
        "requirement": [{"label": line.label, "required": line.required, "earned": line.earned}
                        for line in progress.lines],
    }


def current(learner_id: int, year: int) -> Certificate | None:
    return db.session.execute(
        sa.select(Certificate).where(Certificate.learner_id == learner_id, Certificate.year == year,
                                     Certificate.status == CertificateStatus.VALID)
    ).scalar_one_or_none()


def has_begun(year: int) -> bool:
    """Whether ``year`` has begun in Asia/Shanghai (services.infra.clock): from 1 January 00:00 there."""
    return year <= clock.today().year


def issue(learner: User, year: int) -> Certificate:
    """The learner's valid certificate for the year: the current one if nothing changed since, else a new
    one with a new code that supersedes the old. Runs under the learner's row lock, so two downloads at
    once make one certificate. It states the ledger rows of that year only (HoursRecord.year, the year the
    hours were earned in), never another year's.

    :raise DomainError: the year has not begun (a certificate is never dated before its year), the year does
        not meet every minimum of the region's rules (the message says what is missing), or its
        certificate was revoked and the hours have not changed since.
    """
    if not has_begun(year):
        raise DomainError(f"{year} 年度尚未开始，{year} 年 1 月 1 日起方可下载该年度证书")
    learner_id = learner.id
    with locked(User, learner_id) as learner:
        return _issue_locked(learner, year)


def _issue_locked(learner: User, year: int) -> Certificate:
    progress = progress_of(learner, year)
    if not progress.complete:
        missing = [f"{line.label}还差 {line.missing} 学时" for line in progress.lines if line.missing]
        raise DomainError("本年度学时尚未达标，暂不能下载证书" + (f"：{'，'.join(missing)}" if missing else ""))
    summary = _summary(learner, year, progress)
    latest = db.session.execute(
        sa.select(Certificate).where(Certificate.learner_id == learner.id, Certificate.year == year)
        .order_by(Certificate.id.desc()).limit(1)
    ).scalar_one_or_none()
    if latest is not None and latest.status == CertificateStatus.REVOKED and latest.summary == summary:
        raise DomainError(f"本年度证书已被人社部门撤销（{latest.revoke_reason}），学时记录更正后方可重新签发")
    existing = current(learner.id, year)
    if existing is not None and existing.summary == summary:
        return existing
    certificate = Certificate(code=new_code(), learner_id=learner.id, year=year, summary=summary)
    db.session.add(certificate)
    if existing is not None:
        existing.status = CertificateStatus.SUPERSEDED
        db.session.flush()  # the old one stops being "valid" before the new one becomes so
    db.session.flush()
    if existing is not None:
        existing.superseded_by_id = certificate.id
    audit.record(learner, "certificate.issue", certificate, details={"year": year, "code": certificate.code})
    return certificate


def find(code: str) -> Certificate | None:
    # Typed back from paper or a phone: full-width letters, grouping spaces or dashes are the same code.
    code = identifiers.code(code)
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return db.session.execute(sa.select(Certificate).where(Certificate.code == code)).scalar_one_or_none()


def revoke(regulator: User, code: str, reason: str) -> Certificate:
    """Revoke a certificate of a learner in the regulator's region, with a reason.

    :raise LookupError: unknown code, or a learner outside the region.
    :raise DomainError: no reason, or not valid any more.
    """
    certificate = find(code)
    if certificate is None or regulator.role != Role.REGULATOR or not scope.oversees_region(
        regulator, certificate.learner.region_id
    ):
        raise LookupError(code)
    if not (reason or "").strip():
        raise DomainError("撤销证书必须填写原因", field="reason")
    if certificate.status != CertificateStatus.VALID:
        raise DomainError(f"该证书{certificate.status.label}")
    certificate.status, certificate.revoke_reason = CertificateStatus.REVOKED, reason.strip()
    certificate.revoked_at, certificate.revoked_by_id = utcnow(), regulator.id
    audit.record(regulator, "certificate.revoke", certificate, details={"code": certificate.code, "reason": reason})
    db.session.commit()
    return certificate


@cache
def _register_font(path: str) -> str:
    # A TrueType CJK font, subset and embedded by reportlab (CFF/OpenType Noto cannot be embedded by it).
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
    return FONT_NAME


def font_name() -> str:
    return _register_font(current_app.config["PDF_FONT_PATH"])


def verify_url(certificate: Certificate) -> str:
    return url_for("catalog.verify", code=certificate.code, _external=True)


def pdf(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 PDF with the embedded CJK font and a QR code to the verify page."""
    font = font_name()
    s = certificate.summary
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, pageCompression=1, initialFontName=font)
    page.setTitle(f"{s['year']}年度专业技术人员继续教育证书")
    width, height = A4
    page.setFont(font, 22)
    page.drawCentredString(width / 2, height - 35 * mm, "专业技术人员继续教育证书")
    page.setFont(font, 12)
    y = height - 55 * mm
    for line in (f"姓名：{s['name']}", f"身份证号：{s['masked_id']}", f"年度：{s['year']} 年",
                 f"合计学时：{s['total']}"):
        page.drawString(25 * mm, y, line)
        y -= 8 * mm
    labels = {c.value: c.label for c in Category}
    page.drawString(25 * mm, y, "分类学时：" + "，".join(f"{labels[k]} {v}" for k, v in s["totals"].items() if v))
    y -= 12 * mm
    page.setFont(font, 11)
    page.drawString(25 * mm, y, "学时记录")
    y -= 7 * mm
    page.setFont(font, 9)
    for row in s["records"][:40]:
        page.drawString(28 * mm, y, f"{labels[row['category']]}  {row['hours']} 学时  {row['title'][:40]}")
        y -= 5.5 * mm
    if len(s["records"]) > 40:
        page.drawString(28 * mm, y, f"……共 {len(s['records'])} 条记录，详见验证页面")
    url = verify_url(certificate)
    _draw_qr(page, url, x=width - 25 * mm - 38 * mm, y=22 * mm, size=38 * mm)
    page.setFont(font, 10)
    page.drawString(25 * mm, 40 * mm, f"验证码：{certificate.code}")
    page.drawString(25 * mm, 33 * mm, f"验证网址：{url}")
    issued = certificate.issued_at.replace(tzinfo=UTC).astimezone(clock.LOCAL_TZ)
    page.drawString(25 * mm, 26 * mm, f"签发日期：{issued:%Y年%m月%d日}")
    page.showPage()
    page.save()
    return out.getvalue()


def _draw_qr(page: canvas.Canvas, text: str, x: float, y: float, size: float) -> None:
    """The QR code as filled squares drawn straight on the page (no extra fonts or objects)."""
    widget = QrCodeWidget(text)
    widget.draw()  # lets reportlab pick the QR version; the matrix is then widget.qr
    matrix = widget.qr
    count = matrix.getModuleCount()
    quiet = 4  # the standard quiet zone, in modules
    cell = size / (count + 2 * quiet)
    page.saveState()
    page.setFillColorRGB(1, 1, 1)
    page.rect(x, y, size, size, stroke=0, fill=1)
    page.setFillColorRGB(0, 0, 0)
    for row in range(count):
        for col in range(count):
            if matrix.isDark(row, col):
                page.rect(x + (quiet + col) * cell, y + size - (quiet + row + 1) * cell, cell, cell, stroke=0, fill=1)
    page.restoreState()


def overview(learner: User) -> list[tuple[int, bool, Certificate | None, bool]]:
    """The learner's years with hours (and this one): complete or not, the valid certificate if any, and
    whether the year has begun (a later year's hours, booked ahead, are listed but offer no certificate).
    Two queries, however many years: the ledger with its rules, and the certificates."""
    ledger = hours.ledger(learner, clock.today().year)
    valid = {
        c.year: c for c in db.session.execute(
            sa.select(Certificate).where(Certificate.learner_id == learner.id,
                                         Certificate.status == CertificateStatus.VALID)
        ).scalars()
    }
    return [(y, ledger.years[y].complete, valid.get(y), has_begun(y)) for y in sorted(ledger.years, reverse=True)]
