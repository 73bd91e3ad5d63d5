"""Base admin views: thin, one service call each; another base's objects are 404."""

from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from blueprints import downloads
from blueprints.base_admin import bp
from blueprints.base_admin.forms import (
    AnnualReportForm,
    ApiTokenForm,
    AttendanceForm,
    CancelForm,
    ClassPlanForm,
    CompletionForm,
    CourseForm,
    DisclosureForm,
    RosterImportForm,
    StatusForm,
    WalkInForm,
)
from blueprints.common_forms import ActionForm, field_error, judged_too
from blueprints.query import form_ids, parse_int, query_int
from models import STRATEGIC_FIELD_NAMES, STRATEGIC_FIELDS, CourseStatus
from services import annual_reports, course_rules, personal_data
from services import api_tokens as token_service
from services import bases as base_service
from services import completions as completion_service
from services import courses as course_service
from services import evaluation as evaluation_service
from services import plans as plan_service
from services import roster as roster_service
from services import walk_ins as walk_in_service
from services.errors import DomainError, ImageRejected, NotAllowed
from services.infra import clock, paging
from services.queries import base_pages


def _load_base(base_id: int):
    """:raise 404: no such base, or the current user does not administer it (policies.may_manage_base)."""
    base = base_pages.managed_base(current_user, base_id)
    if base is None:
        abort(404)
    return base


def _load_course(base_id: int, course_id: int):
    """The base and the course, loaded together.

    :raise 404: no such course in this base, or the current user does not administer the base
        (policies.may_manage_course).
    """
    course = base_pages.managed_course(current_user, base_id, course_id)
    if course is None:
        abort(404)
    return course.base, course


def _uploaded(field):
    """The stream of a file sent with the form, else None. Without an upload a form built from the object
    holds the object's stored Image (a course's cover, a base's logo), which is not an upload."""
    file = field.data
    return file.stream if isinstance(file, FileStorage) and file.filename else None


def _show_error(form, error: DomainError, file_field: str | None = None) -> None:
    """An image refused is shown beside the file field; other errors beside their own field, or flashed."""
    field_error(form, error, file_field if isinstance(error, ImageRejected) else None)


@bp.route("/")
def index():
    bases = base_pages.bases_of(current_user)
    if len(bases) == 1:
        return redirect(url_for(".base_home", base_id=bases[0].id))
    return render_template("base_admin/index.html", bases=bases)


@bp.route("/bases/<int:base_id>")
def base_home(base_id: int):
    base = _load_base(base_id)
    status = request.args.get("status")
    status = CourseStatus(status) if status in {s.value for s in CourseStatus} else None
    courses, counts = base_pages.courses_of(base, status)
    return render_template(
        "base_admin/base_home.html", base=base, courses=courses, counts=counts, status=status,
        ratings=base_pages.ratings_of(base),
        status_form=StatusForm(), cancel_form=CancelForm(),
    )


@bp.route("/bases/<int:base_id>/disclosure", methods=["GET", "POST"])
def disclosure(base_id: int):
    base = _load_base(base_id)
    form = DisclosureForm(obj=base)
    if form.validate_on_submit():
        data = {name: form[name].data for name in base_service.DISCLOSURE_EDITABLE}
        try:
            base_service.update_disclosure(current_user, base, data, _uploaded(form.logo))
        except DomainError as error:
            _show_error(form, error, "logo")
        else:
            flash(_("公开信息已保存"), "success")
            return redirect(url_for(".disclosure", base_id=base.id))
    return render_template("base_admin/disclosure.html", base=base, form=form)


@bp.route("/bases/<int:base_id>/courses/new", methods=["GET", "POST"])
def course_new(base_id: int):
    base = _load_base(base_id)
    form = CourseForm()
    if request.method == "GET":
        form.contact_person.data = base.contact_person
        form.contact_phone.data = base.contact_phone
    if form.validate_on_submit():
        try:
            course = course_service.create_course(current_user, base, form.course_data(), _uploaded(form.cover))
        except DomainError as error:
            _show_error(form, error, "cover")
        else:
            flash(_("课程已保存为草稿，确认无误后请发布"), "success")
            return redirect(url_for(".course_edit", base_id=base.id, course_id=course.id))
    elif form.is_submitted():  # every fault in one round: the course rules' beside the form's own
        judged_too(form, lambda: course_rules.judge(form.course_data()))
    return render_template("base_admin/course_form.html", base=base, form=form, course=None)


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/edit", methods=["GET", "POST"])
def course_edit(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    form = CourseForm(obj=course)
    if request.method == "GET":
        form.category.data = course.category.value
        form.mode.data = course.mode.value
        form.project_type.data = course.project_type.value
    if form.validate_on_submit():
        had_plan = course.plan_status
        try:
            course_service.update_course(current_user, course, form.course_data(), _uploaded(form.cover))
        except DomainError as error:
            _show_error(form, error, "cover")
        else:
            flash(_("课程已保存"), "success")
            if had_plan and course.plan_status is None:
                flash(_("课程的时间、地点或培训方式已改，原办班计划不再适用：请重新填报办班计划，获批前不能报名"),
                      "warning")
            return redirect(url_for(".course_edit", base_id=base.id, course_id=course.id))
    elif form.is_submitted():
        judged_too(form, lambda: course_rules.judge(form.course_data(), course))
    return render_template(
        "base_admin/course_form.html", base=base, form=form, course=course,
        status_form=StatusForm(), cancel_form=CancelForm(),
    )


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/status", methods=["POST"])
def course_status(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    form = StatusForm()
    if not form.validate_on_submit():
        flash(_("请求无效，请刷新页面后重试"), "danger")
    else:
        try:
            course_service.change_status(current_user, course, CourseStatus(form.status.data))
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("课程状态已改为“%(label)s”", label=course.status.label), "success")
    return redirect(url_for(".course_edit", base_id=base.id, course_id=course.id))


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/cancel", methods=["POST"])
def course_cancel(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    form = CancelForm()
    if not form.validate_on_submit():
        for message in form.reason.errors or [_("请求无效，请刷新页面后重试")]:
            flash(message, "danger")
    else:
        try:
            course_service.change_status(current_user, course, CourseStatus.CANCELLED, form.reason.data)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("课程已取消"), "success")
    return redirect(url_for(".course_edit", base_id=base.id, course_id=course.id))


def _roster_page(base, course, form: CompletionForm | None = None, walk_in_form: WalkInForm | None = None):
    if form is None:
        form = CompletionForm(formdata=None)
        form.completed_on.data = completion_service.suggested_completed_on(course)
    # ?page= picks a page of the seated learners (absent, malformed or out of range: the first or the last).
    page = query_int("page", 1, default=1)
    return render_template(
        "base_admin/roster.html", base=base, course=course, roster=roster_service.roster_page_of(course, page),
        action_form=ActionForm(), completion_form=form, days=roster_service.course_days(course),
        walk_in_form=walk_in_form or WalkInForm(formdata=None),
        desk_problem=walk_in_service.desk_problem(course),
    )


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster")
def roster(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    return _roster_page(base, course)


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster/<int:enrollment_id>/id-number", methods=["POST"])
def reveal_id_number(base_id: int, course_id: int, enrollment_id: int):
    """The full ID number of a learner on the roster: a deliberate, audited act (the roster shows it masked)."""
    base, course = _load_course(base_id, course_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    enrollment = roster_service.enrollment_in(course, enrollment_id)
    if enrollment is None:
        abort(404)
    number = personal_data.reveal_id_number(current_user, enrollment.learner, base_id=base.id,
                                            context=f"roster of course {course.id}")
    back = url_for(".roster", base_id=base.id, course_id=course.id)
    return render_template("id_number.html", learner=enrollment.learner, number=number, back=back)


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster/complete", methods=["POST"])
def roster_complete(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    form = CompletionForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors or not form.completed_on.errors:
            abort(400)
        return _roster_page(base, course, form)  # a day that is not a date: said beside the field
    try:
        count = completion_service.complete_enrollments(current_user, course, form_ids("enrollment"),
                                                        form.completed_on.data)
    except DomainError as error:
        if error.field == "completed_on":
            field_error(form, error)
            return _roster_page(base, course, form)
        flash(error.message, "danger")
    else:
        flash(_("已为 %(n)s 名学员记录结业，学时已计入其年度学时", n=count), "success")
    return redirect(url_for(".roster", base_id=base_id, course_id=course_id))


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster/walk-in", methods=["POST"])
def roster_walk_in(base_id: int, course_id: int):
    """The desk: register (or link) a trainee and give them a seat on the roster."""
    base, course = _load_course(base_id, course_id)
    form = WalkInForm()
    if not form.validate_on_submit():
        if "csrf_token" in form and form.csrf_token.errors:
            abort(400)
        # Every fault in one round: a wrong ID number or phone beside a name left empty.
        judged_too(form, lambda: walk_in_service.person(form.name.data, form.id_number.data, form.phone.data))
        return _roster_page(base, course, walk_in_form=form)
    try:
        user, created = walk_in_service.register_at_desk(current_user, course, form.name.data, form.id_number.data,
                                                         form.phone.data)
    except DomainError as error:
        if error.field in form:
            field_error(form, error)
            return _roster_page(base, course, walk_in_form=form)
        flash(error.message, "danger")
    else:
        if created:
            flash(_("已为 %(name)s 新建账号并加入名单，认领短信已发送到其手机", name=user.name), "success")
        else:
            flash(_("%(name)s 已有账号，已关联并加入名单", name=user.name), "success")
    return redirect(url_for(".roster", base_id=base_id, course_id=course_id))


@bp.route("/bases/<int:base_id>/walk-ins")
def walk_ins(base_id: int):
    """The accounts the base registered for walk-in trainees, claimed or not."""
    base = _load_base(base_id)
    try:
        page = walk_in_service.walk_ins(base, request.args.get("cursor"), query_int("page", 1))
    except paging.PageOutOfReach:
        abort(404)
    return render_template("base_admin/walk_ins.html", base=base, people=page.items, page=page,
                           action_form=ActionForm(), mask_phone=roster_service.mask_phone)


@bp.route("/bases/<int:base_id>/walk-ins/<int:user_id>/invite", methods=["POST"])
def walk_in_invite(base_id: int, user_id: int):
    """Send the invitation to claim the account again (once per ten minutes per account)."""
    base = _load_base(base_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        walk_in_service.resend_invitation(current_user, base, user_id)
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("认领短信已重新发送"), "success")
    return redirect(url_for(".walk_ins", base_id=base_id))


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster/attendance", methods=["GET", "POST"])
def attendance(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    days = roster_service.course_days(course)
    if not days:
        flash(_("线上或超过 31 天的课程不按天记录考勤"), "info")
        return redirect(url_for(".roster", base_id=base_id, course_id=course_id))
    try:
        day = date.fromisoformat(request.values.get("day", "")) if request.values.get("day") else days[0]
    except ValueError:
        abort(404)
    if day not in days:
        abort(404)
    form = AttendanceForm()
    if form.validate_on_submit():
        present = set(form_ids("present"))
        try:
            roster_service.record_attendance(current_user, course, day, present)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("%(day)s 的考勤已保存", day=day.isoformat()), "success")
            return redirect(url_for(".attendance", base_id=base_id, course_id=course_id, day=day.isoformat()))
    return render_template(
        "base_admin/attendance.html", base=base, course=course, days=days, day=day, form=form,
        roster=roster_service.roster(course), marks=roster_service.attendance_for(course, day),
        ahead=day > clock.today(),  # a day still to come: no save button that could only be refused
    )


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster/import", methods=["GET", "POST"])
def roster_import(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    form = RosterImportForm()
    report = None
    if form.validate_on_submit():
        upload = _uploaded(form.roster)
        if upload is None:
            form.roster.errors.append(_("请选择名单文件"))
        else:
            data = upload.read(current_app.config["ROSTER_MAX_BYTES"] + 1)
            if len(data) > current_app.config["ROSTER_MAX_BYTES"]:
                limit = current_app.config["ROSTER_MAX_BYTES"] / 2**20
                form.roster.errors.append(_("文件不能超过 %(n)s MB", n=f"{limit:g}"))
            else:
                try:
                    result = roster_service.import_completions(current_user, course, data)
                except roster_service.RosterRejected as rejected:
                    form.roster.errors.append(rejected.message)
                    report = rejected.report
                except DomainError as error:
                    field_error(form, error, "roster")
                else:
                    message = _("导入成功：%(n)s 名学员记录结业，其中 %(m)s 人此前未在线报名",
                                n=result.completed, m=result.added)
                    if result.created:
                        message += _("；为 %(k)s 名未注册学员新建了账号，已短信通知其认领", k=result.created)
                    flash(message, "success")
                    return redirect(url_for(".roster", base_id=base_id, course_id=course_id))
    return render_template("base_admin/roster_import.html", base=base, course=course, form=form, report=report)


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster/template.xlsx")
def roster_template(base_id: int, course_id: int):
    _load_course(base_id, course_id)
    return downloads.xlsx(roster_service.import_template_xlsx(), "结业名单模板.xlsx")


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/roster.xlsx")
def roster_export(base_id: int, course_id: int):
    _base, course = _load_course(base_id, course_id)
    # The title may hold anything stored before the forms refused line breaks: downloads makes it a safe name.
    return downloads.xlsx(roster_service.export_xlsx(current_user, course), f"{course.title}-名单.xlsx")


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/plan", methods=["GET", "POST"])
def class_plan(base_id: int, course_id: int):
    base, course = _load_course(base_id, course_id)
    form = ClassPlanForm()
    if request.method == "GET":
        form.start_date.data, form.end_date.data = course.start_date, course.end_date
        form.place.data, form.expected_trainees.data = course.place, course.capacity
    if form.validate_on_submit():
        try:
            plan_service.file_plan(current_user, course, form.plan_data())
        except DomainError as error:
            _show_error(form, error)
        else:
            flash(_("办班计划已提交，等待人社部门审核"), "success")
            return redirect(url_for(".class_plan", base_id=base_id, course_id=course_id))
    elif form.is_submitted():  # the dates in the same round as a field left empty
        judged_too(form, lambda: plan_service.judge_plan(form.plan_data()))
    return render_template("base_admin/class_plan.html", base=base, course=course, form=form,
                           plans=plan_service.plans_of(course), problem=plan_service.filing_problem(course))


@bp.route("/bases/<int:base_id>/compliance")
def compliance(base_id: int):
    base = _load_base(base_id)
    return render_template("base_admin/compliance.html", base=base, compliance=evaluation_service.compliance(base))


@bp.route("/bases/<int:base_id>/statistics", methods=["GET", "POST"])
def statistics(base_id: int):
    """The base's own figures for a year's official statistics (funds, department, strategic fields)."""
    base = _load_base(base_id)
    low, high = annual_reports.year_range()
    if request.method == "POST":
        form = AnnualReportForm()
        year = parse_int(form.year.data, low, high)
    else:
        year = query_int("year", low, high, default=clock.today().year)
        stored = annual_reports.figures(base, year)
        form = AnnualReportForm(data={
            "year": year, "department": stored.department, "knowledge_note": stored.knowledge_note,
            "strategic_note": stored.strategic_note, "knowledge_funding": f"{stored.knowledge_funding:.2f}",
            "strategic_funding": f"{stored.strategic_funding:.2f}",
            **{f"strategic_{row}_{key}": value for row, name in enumerate(STRATEGIC_FIELD_NAMES)
               for key, value in stored.strategic[name].items()},
        })
    status = 200
    if request.method == "POST":
        status = 400
        if year is None:
            flash(_("年度无效，请重新选择"), "danger")
        elif form.validate_on_submit():
            data = {name: form[name].data for name in (*annual_reports.TEXTS, *annual_reports.FUNDS)}
            data["strategic"] = {name: {key: form[f"strategic_{row}_{key}"].data for key in annual_reports.COUNTS}
                                 for row, name in enumerate(STRATEGIC_FIELD_NAMES)}
            try:
                annual_reports.save(current_user, base.id, year, data)
            except NotAllowed:
                abort(404)
            except DomainError as error:
                field_error(form, error)
            else:
                flash(_("%(y)s 年度统计数据已保存", y=year), "success")
                return redirect(url_for(".statistics", base_id=base.id, year=year))
    return render_template("base_admin/statistics.html", base=base, form=form, year=year or clock.today().year,
                           years=range(high, low - 1, -1), strategies=STRATEGIC_FIELDS), status


@bp.route("/bases/<int:base_id>/api-tokens", methods=["GET", "POST"])
def api_tokens(base_id: int):
    """The base's API tokens. A new token's secret is shown on the page that answers its creation and
    nowhere else: no redirect, flash or URL carries it, and only its hash is stored."""
    base = _load_base(base_id)
    lifetimes = current_app.config["API_TOKEN_LIFETIME_DAYS"]
    form = ApiTokenForm()
    form.offer_lifetimes(lifetimes)
    secret = None
    if form.validate_on_submit():
        try:
            _token, secret = token_service.create_token(current_user, base, form.name.data, form.lifetime.data,
                                                        lifetimes)
        except DomainError as error:
            field_error(form, error)
        else:
            form = ApiTokenForm(formdata=None)
            form.offer_lifetimes(lifetimes)
    return render_template(
        "base_admin/api_tokens.html", base=base, form=form, secret=secret,
        tokens=token_service.tokens_of(base),
    )


@bp.route("/bases/<int:base_id>/api-tokens/<int:token_id>/revoke", methods=["POST"])
def api_token_revoke(base_id: int, token_id: int):
    base = _load_base(base_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if token_service.revoke_token(current_user, base, token_id) is None:
        abort(404)
    flash(_("令牌已吊销，立即失效"), "success")
    return redirect(url_for(".api_tokens", base_id=base.id))
