"""Base admin views: thin, one service call each; another base's objects are 404."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.base_admin import bp
from blueprints.base_admin.forms import CancelForm, CourseForm, DisclosureForm, StatusForm
from models import CourseStatus
from services import base_admin as queries
from services import bases as base_service
from services import courses as course_service
from services.errors import DomainError, ImageRejected


def _load_base(base_id: int):
    """:raise 404: no such base, or the current user does not administer it."""
    base = queries.managed_base(current_user, base_id)
    if base is None:
        abort(404)
    return base


def _load_course(base, course_id: int):
    """:raise 404: no such course in this base."""
    course = queries.managed_course(base, course_id)
    if course is None:
        abort(404)
    return course


def _uploaded(field):
    file = field.data
    return file.stream if file and getattr(file, "filename", "") else None


def _show_error(form, error: DomainError, file_field: str | None = None) -> None:
    name = file_field if isinstance(error, ImageRejected) else error.field
    if name and name in form:
        form[name].errors = [*form[name].errors, error.message]
    else:
        flash(error.message, "danger")


@bp.route("/")
def index():
    bases = queries.bases_of(current_user)
    if len(bases) == 1:
        return redirect(url_for(".base_home", base_id=bases[0].id))
    return render_template("base_admin/index.html", bases=bases)


@bp.route("/bases/<int:base_id>")
def base_home(base_id: int):
    base = _load_base(base_id)
    status = request.args.get("status")
    status = CourseStatus(status) if status in {s.value for s in CourseStatus} else None
    courses, counts = queries.courses_of(base, status)
    return render_template(
        "base_admin/base_home.html", base=base, courses=courses, counts=counts, status=status,
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
    return render_template("base_admin/course_form.html", base=base, form=form, course=None)


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/edit", methods=["GET", "POST"])
def course_edit(base_id: int, course_id: int):
    base = _load_base(base_id)
    course = _load_course(base, course_id)
    form = CourseForm(obj=course)
    if request.method == "GET":
        form.category.data = course.category.value
        form.mode.data = course.mode.value
    if form.validate_on_submit():
        try:
            course_service.update_course(current_user, course, form.course_data(), _uploaded(form.cover))
        except DomainError as error:
            _show_error(form, error, "cover")
        else:
            flash(_("课程已保存"), "success")
            return redirect(url_for(".course_edit", base_id=base.id, course_id=course.id))
    return render_template(
        "base_admin/course_form.html", base=base, form=form, course=course,
        status_form=StatusForm(), cancel_form=CancelForm(),
    )


@bp.route("/bases/<int:base_id>/courses/<int:course_id>/status", methods=["POST"])
def course_status(base_id: int, course_id: int):
    base = _load_base(base_id)
    course = _load_course(base, course_id)
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
    base = _load_base(base_id)
    course = _load_course(base, course_id)
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
