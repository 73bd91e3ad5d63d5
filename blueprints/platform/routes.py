"""Platform administrator views: the home page, and the holiday calendar's upload → preview → confirm."""

import base64

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadData, URLSafeTimedSerializer

from blueprints.common_forms import field_error
from blueprints.platform import bp
from blueprints.platform.forms import CalendarForm, ConfirmCalendarForm
from services import platform_admins, workdays
from services.errors import DomainError

# A preview is confirmed within the hour, or uploaded again.
PREVIEW_MAX_AGE = 3600


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="platform.calendar-preview")


def _home(calendar_form: CalendarForm, status: int = 200):
    loaded, missing = platform_admins.calendar_years()
    return render_template("platform/index.html", regions=platform_admins.regions(),
                           regulators=platform_admins.regulators(), years=loaded, missing=missing,
                           history=platform_admins.calendar_history(), calendar_form=calendar_form), status


@bp.route("/")
def index():
    return _home(CalendarForm())


@bp.route("/calendar", methods=["POST"])
def calendar_preview():
    """Nothing is written here: the page lists what the file would change, and carries it, signed, to confirm."""
    form = CalendarForm()
    upload = form.schedule.data if form.validate_on_submit() else None
    if upload is None or not getattr(upload, "filename", ""):
        form.schedule.errors = [*form.schedule.errors, _("请选择节假日安排 CSV 文件")]
        return _home(form, 400)
    # One byte more than allowed, so that an oversized file is refused rather than cut short.
    raw = upload.read(workdays.MAX_SCHEDULE_BYTES + 1)
    try:
        plan = workdays.preview_schedule(raw)
    except DomainError as error:
        field_error(form, error, "schedule")
        return _home(form, 400)
    # Signed together: the file, its SHA-256 (the hidden digest, which the page shows, must match it), the day
    # changes as previewed, and a one-time id, so that the confirm applies this file once, to the calendar seen.
    payload = _signer().dumps({"file": base64.b64encode(raw).decode(), "name": upload.filename[:200],
                               "sha256": plan.digest, "fingerprint": plan.fingerprint,
                               "preview": workdays.new_preview_id()})
    confirm = ConfirmCalendarForm(payload=payload, digest=plan.digest)
    return render_template("platform/calendar_preview.html", plan=plan, filename=upload.filename[:200],
                           confirm_form=confirm, sample=plan.moved[:20])


@bp.route("/calendar/confirm", methods=["POST"])
def calendar_confirm():
    form = ConfirmCalendarForm()
    if not form.validate_on_submit():
        flash(_("预览已失效，请重新上传节假日安排"), "danger")
        return redirect(url_for(".index"))
    try:
        data = _signer().loads(form.payload.data, max_age=PREVIEW_MAX_AGE)
        raw = base64.b64decode(data["file"], validate=True)
        signed_digest, preview_id = data["sha256"], str(data["preview"])
    except (BadData, KeyError, TypeError, ValueError):
        flash(_("预览已失效或被改动，未导入；请重新上传节假日安排"), "danger")
        return redirect(url_for(".index"))
    if form.digest.data != signed_digest:
        flash(_("文件与预览的不一致（摘要不同），未导入；请重新上传并预览"), "danger")
        return redirect(url_for(".index"))
    try:
        plan = workdays.apply_schedule(current_user, raw, form.digest.data, data.get("fingerprint", ""),
                                       data.get("name", ""), preview_id=preview_id)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("已导入 %(n)s 个日期的变更，%(m)s 件待审核申报的审核期限随之调整", n=len(plan.changes),
                m=len(plan.moved)), "success")
    return redirect(url_for(".index"))
