"""Electronic certificates of a completed year: issued when every minimum of the region's rules is met,
a PDF with the records behind it and a QR code to a public verification page; revocable, reissuable."""

import io
import secrets
from datetime import UTC
from functools import cache

import sqlalchemy as sa
from flask import current_app, url_for
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from extensions import db
from models import Category, Certificate, CertificateStatus, Course, Declaration, HoursRecord, HoursSource, User
from models._common import utcnow
from services import audit, hours, identifiers, policies
from services.errors import DomainError
from services.infra import clock
from services.infra.locking import locked
from services.infra.transaction import unit_of_work

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
        # The regulator of the learner's region when issued: a later move does not rewrite who issued it.
        "issuer": learner.region.authority if learner.region is not None else "",
    }


def _same(stored: dict, summary: dict) -> bool:
    """Whether a stored certificate states what ``summary`` does. One issued before certificates named their
    issuer has no "issuer": the same hours are still the same certificate, not a reason to reissue it."""
    if "issuer" not in stored:
        summary = {key: value for key, value in summary.items() if key != "issuer"}
    return stored == summary


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
    if latest is not None and latest.status == CertificateStatus.REVOKED and _same(latest.summary, summary):
        raise DomainError(f"本年度证书已被人社部门撤销（{latest.revoke_reason}），学时记录更正后方可重新签发")
    existing = current(learner.id, year)
    if existing is not None and _same(existing.summary, summary):
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
    if certificate is None or not policies.may_revoke_certificate(regulator, certificate):
        raise LookupError(code)
    if not (reason or "").strip():
        raise DomainError("撤销证书必须填写原因", field="reason")
    if certificate.status != CertificateStatus.VALID:
        raise DomainError(f"该证书{certificate.status.label}")
    with unit_of_work():
        certificate.status, certificate.revoke_reason = CertificateStatus.REVOKED, reason.strip()
        certificate.revoked_at, certificate.revoked_by_id = utcnow(), regulator.id
        audit.record(regulator, "certificate.revoke", certificate,
                     details={"code": certificate.code, "reason": reason})
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


# How many ledger rows the page lists; the verification page shows every one.
RECORDS_ON_PAGE = 18
_INK = colors.HexColor("#8b1a1a")  # the seal red of the frame and title


def pdf(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 PDF with the embedded CJK font: its issuer (the regulator of the learner's
    region), the year, the hours by category against the region's minimums and by source, the records behind
    them, the verification code and a QR code to the verify page. Drawn for print: a framed page, black text,
    ruled tables, no colour a printer needs."""
    font = font_name()
    s = certificate.summary
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, pageCompression=1, initialFontName=font)
    page.setTitle(f"{s['year']}年度专业技术人员继续教育证书")
    page.setAuthor(s.get("issuer") or "专业技术人员继续教育基地公共服务平台")
    width, height = A4
    _frame(page, width, height)
    page.setFillColor(_INK)
    page.setFont(font, 24)
    page.drawCentredString(width / 2, height - 38 * mm, "专业技术人员继续教育证书")
    page.setFillColor(colors.black)
    page.setFont(font, 12)
    page.drawCentredString(width / 2, height - 47 * mm, f"（{s['year']}年度）")
    y = height - 60 * mm
    page.setFont(font, 11.5)
    for left, right in ((f"姓名：{s['name']}", f"身份证号：{s['masked_id']}"),
                        (f"年度：{s['year']} 年", f"合计学时：{s['total']}")):
        page.drawString(28 * mm, y, left)
        page.drawString(width / 2 + 5 * mm, y, right)
        y -= 7.5 * mm
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK", firstLineIndent=21)
    statement = (f"{_escape(s['name'])}于 {s['year']} 年度参加专业技术人员继续教育，累计完成 {s['total']} 学时，"
                 "达到所在地区规定的年度学时要求，特发此证。")
    y = _place(page, Paragraph(statement, body), 28 * mm, y - 1 * mm, width - 56 * mm) - 5 * mm
    y = _place(page, _hours_table(s, font), 28 * mm, y, width - 56 * mm) - 6 * mm
    page.setFont(font, 11)
    page.drawString(28 * mm, y, "学时记录")
    y = _place(page, _records_table(s, font), 28 * mm, y - 2 * mm, width - 56 * mm)
    if len(s["records"]) > RECORDS_ON_PAGE:
        page.setFont(font, 9)
        page.drawString(28 * mm, y - 5 * mm, f"……共 {len(s['records'])} 条记录，详见验证页面")

    url = verify_url(certificate)
    _draw_qr(page, url, x=width - 28 * mm - 36 * mm, y=24 * mm, size=36 * mm)
    page.setFont(font, 8)
    page.drawCentredString(width - 28 * mm - 18 * mm, 20 * mm, "扫码核验")
    page.setFont(font, 10)
    issued = certificate.issued_at.replace(tzinfo=UTC).astimezone(clock.LOCAL_TZ)
    lines = [f"签发机构：{s['issuer']}" if s.get("issuer") else None, f"签发日期：{issued:%Y年%m月%d日}",
             f"验证码：{certificate.code}", f"验证网址：{url}"]
    y = 54 * mm
    for line in filter(None, lines):
        page.drawString(28 * mm, y, line)
        y -= 7 * mm
    page.setFont(font, 7.5)
    page.setFillColor(colors.HexColor("#444444"))
    page.drawString(28 * mm, 20 * mm, "本证书依据本平台记录的学时生成，任何人可凭验证码或二维码在本平台核验真伪与"
                                      "状态。")
    page.showPage()
    page.save()
    return out.getvalue()


def _frame(page: canvas.Canvas, width: float, height: float) -> None:
    """A double rule round the page, inside the margins any printer keeps."""
    page.saveState()
    page.setStrokeColor(_INK)
    page.setLineWidth(2)
    page.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    page.setLineWidth(0.6)
    page.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)
    page.restoreState()


def _place(page: canvas.Canvas, flowable: Flowable, x: float, top: float, width: float) -> float:
    """Draw ``flowable`` with its top at ``top``; where its bottom lands."""
    _w, h = flowable.wrapOn(page, width, top)
    flowable.drawOn(page, x, top - h)
    return top - h


def _hours_table(s: dict, font: str) -> Table:
    """Hours by category: required by the region, earned, and earned from each source."""
    labels = {c.value: c.label for c in Category}
    sources = [source for source in HoursSource if any(r["source"] == source.value for r in s["records"])]
    required = {line["label"]: line["required"] for line in s["requirement"]}
    by = {(r["category"], r["source"]): 0 for r in s["records"]}
    for r in s["records"]:
        by[r["category"], r["source"]] += r["hours"]
    rows: list[list[object]] = [["类别", "地区要求", "完成学时", *[f"其中：{source.label}" for source in sources]]]
    for category in Category:
        earned = s["totals"].get(category.value, 0)
        if earned or required.get(category.label) is not None:
            need = required.get(category.label)
            rows.append([labels[category.value], "—" if need is None else f"≥ {need}", earned,
                         *[by.get((category.value, source.value), 0) for source in sources]])
    need = required.get("合计")
    rows.append(["合计", "—" if need is None else f"≥ {need}", s["total"],
                 *[sum(v for (_c, src), v in by.items() if src == source.value) for source in sources]])
    column = (A4[0] - 56 * mm) / len(rows[0])
    return _ruled(Table(rows, colWidths=[column] * len(rows[0]), repeatRows=1), font, total_row=True)


def _records_table(s: dict, font: str) -> Table:
    labels = {c.value: c.label for c in Category}
    sources = {source.value: source.label for source in HoursSource}
    text = ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=10.5, wordWrap="CJK")
    rows: list[list[object]] = [["序号", "项目名称", "类别", "来源", "学时"]]
    for number, r in enumerate(s["records"][:RECORDS_ON_PAGE], start=1):
        rows.append([number, Paragraph(_escape(r["title"]), text), labels[r["category"]], sources[r["source"]],
                     r["hours"]])
    fixed = [12 * mm, 22 * mm, 22 * mm, 14 * mm]
    widths = [fixed[0], A4[0] - 56 * mm - sum(fixed), *fixed[1:]]
    return _ruled(Table(rows, colWidths=widths, repeatRows=1), font)


def _ruled(table: Table, font: str, total_row: bool = False) -> Table:
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"), ("ALIGN", (1, 1), (1, -1), "LEFT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if total_row:
        style += [("ALIGN", (1, 1), (1, -1), "CENTER"), ("FONTSIZE", (0, -1), (-1, -1), 9.5)]
    table.setStyle(TableStyle(style))
    return table


def _escape(text: str) -> str:
    """Text for a reportlab Paragraph, which reads a small markup: what someone typed stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


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
