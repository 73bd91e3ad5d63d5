"""Platform administrator views: the home page with its regions and regulators (created and disabled here),
the holiday calendar's upload → preview → confirm, and the page of background jobs (failed messages sent again)."""

import base64

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadData, URLSafeTimedSerializer

from blueprints import downloads
from blueprints.common_forms import field_error
from blueprints.platform import bp
from blueprints.platform.forms import (
    CalendarForm,
    ConfirmCalendarForm,
    RegionForm,
    RegulatorActiveForm,
    RegulatorForm,
    ResendForm,
)
from models import Channel, NoticeKind, RegionLevel
from services import outbox_resending, platform_admins, workdays
from services.errors import DomainError
from services.queries import job_pages

# A preview is confirmed within the hour, or uploaded again.
PREVIEW_MAX_AGE = 3600


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="platform.calendar-preview")


# The region's and the regulator's forms share the home page: prefixed ("region-name", "regulator-name"), so
# that no two inputs share a name or an id.
def _home(calendar_form: CalendarForm | None = None, region_form: RegionForm | None = None,
          regulator_form: RegulatorForm | None = None, status: int = 200):
    loaded, missing = platform_admins.calendar_years()
    regions = platform_admins.regions()
    region_form = region_form or RegionForm(formdata=None, prefix="region")
    region_form.parent.choices = [(0, _("—（省级不选）"))] + [
        (r.id, f"{r.name}（{r.code}）") for r in regions if r.level == RegionLevel.PROVINCE]
    regulator_form = regulator_form or RegulatorForm(formdata=None, prefix="regulator")
    regulator_form.region.choices = [(r.id, f"{r.full_name}（{r.code}）") for r in regions]
    return render_template("platform/index.html", regions=regions,
                           regulators=platform_admins.regulators(), years=loaded, missing=missing,
                           history=platform_admins.calendar_history(),
                           calendar_form=calendar_form or CalendarForm(formdata=None), region_form=region_form,
                           regulator_form=regulator_form, active_form=RegulatorActiveForm(formdata=None)), status


@bp.route("/")
def index():
    return _home()


@bp.route("/regions", methods=["POST"])
def create_region():
    form = RegionForm(prefix="region")
    if form.validate_on_submit():
        try:
            region = platform_admins.create_region(current_user, form.region_data())
        except DomainError as error:
            field_error(form, error, "code")
        else:
            flash(_("已新建地区：%(name)s（%(code)s）", name=region.full_name, code=region.code), "success")
            return redirect(url_for(".index"))
    return _home(region_form=form, status=400)


@bp.route("/regulators", methods=["POST"])
def create_regulator():
    form = RegulatorForm(prefix="regulator")
    if form.validate_on_submit():
        try:
            user = platform_admins.create_regulator(current_user, form.regulator_data())
        except DomainError as error:
            field_error(form, error, "email")
        else:
            flash(_("已新建监管账号：%(name)s（%(email)s）。请将初始密码线下转交，并提醒其登录后修改。",
                    name=user.name, email=user.email), "success")
            return redirect(url_for(".index"))
    return _home(regulator_form=form, status=400)


@bp.route("/regulators/<int:user_id>/active", methods=["POST"])
def regulator_active(user_id: int):
    form = RegulatorActiveForm()
    if not form.validate_on_submit():
        flash(_("请求无效，未作变更"), "danger")
        return _home(status=400)
    try:
        user = platform_admins.set_regulator_active(current_user, user_id, form.active.data == "1")
    except LookupError:
        abort(404)
    flash(_("已启用 %(name)s 的账号", name=user.name) if user.active
          else _("已停用 %(name)s 的账号，其登录已失效", name=user.name), "success")
    return redirect(url_for(".index"))


@bp.route("/calendar", methods=["POST"])
def calendar_preview():
    """Nothing is written here: the page lists what the file would change, and carries it, signed, to confirm."""
    form = CalendarForm()
    upload = form.schedule.data if form.validate_on_submit() else None
    if upload is None or not getattr(upload, "filename", ""):
        form.schedule.errors = [*form.schedule.errors, _("请选择节假日安排 CSV 文件")]
        return _home(form, status=400)
    # One byte more than allowed, so that an oversized file is refused rather than cut short.
    raw = upload.read(workdays.MAX_SCHEDULE_BYTES + 1)
    try:
        plan = workdays.preview_schedule(raw)
    except DomainError as error:
        field_error(form, error, "schedule")
        return _home(form, status=400)
    # Signed together: the file, its SHA-256 (the hidden digest, which the page shows, must match it), the day
    # changes as previewed, and a one-time id, so that the confirm applies this file once, to the calendar seen.
    payload = _signer().dumps({"file": base64.b64encode(raw).decode(), "name": upload.filename[:200],
                               "sha256": plan.digest, "fingerprint": plan.fingerprint,
                               "preview": workdays.new_preview_id()})
    confirm = ConfirmCalendarForm(payload=payload, digest=plan.digest)
    return render_template("platform/calendar_preview.html", plan=plan, filename=upload.filename[:200],
                           confirm_form=confirm, sample=plan.moved[:20])


@bp.route("/calendar/template.csv")
def calendar_template():
    # Like the roster's template (base_admin.roster_template): what the import reads, to fill in.
    return downloads.attachment(workdays.schedule_template(), "节假日安排模板.csv", "text/csv")


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


def _jobs(status: int = 200):
    page = request.args.get("page", 1, type=int) or 1
    return render_template("platform/jobs.html", view=job_pages.jobs_page(page), form=ResendForm(formdata=None),
                           kinds={k.value: k.label for k in NoticeKind},
                           channels={c.value: c.label for c in Channel}), status


@bp.route("/jobs")
def jobs():
    """The outbox's counts and what failed for good, newest first, paged; 重新发送 per message or for all."""
    return _jobs()


@bp.route("/jobs/messages/<int:message_id>/resend", methods=["POST"])
def resend_message(message_id: int):
    if not ResendForm().validate_on_submit():
        flash(_("请求无效，未作变更"), "danger")
        return _jobs(400)
    try:
        outbox_resending.resend(current_user, message_id)
    except LookupError:
        flash(_("这条消息已不在发送失败的列表中（可能已重新发送）"), "warning")
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("已重新加入发送队列"), "success")
    return redirect(url_for(".jobs"))


@bp.route("/jobs/messages/resend", methods=["POST"])
def resend_all_messages():
    if not ResendForm().validate_on_submit():
        flash(_("请求无效，未作变更"), "danger")
        return _jobs(400)
    count = outbox_resending.resend_all(current_user)
    flash(_("已将 %(n)s 条发送失败的消息重新加入发送队列", n=count) if count else _("没有可以重新发送的消息"),
          "success" if count else "info")
    return redirect(url_for(".jobs"))
