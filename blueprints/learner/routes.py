"""Learner views: thin, one service call each."""

import json
from urllib.parse import urlsplit

from flask import abort, flash, get_template_attribute, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints import downloads
from blueprints.common_forms import ActionForm, field_error, judged_too
from blueprints.learner import bp
from blueprints.learner.forms import ClaimForm, DeclarationForm, RatingForm
from blueprints.query import query_int
from blueprints.transactions import writes_only_under_own_lock
from models import Category
from services import calendar_entries, employment, hours, inbox, personal_data
from services import certificates as certificate_service
from services import declarations as declaration_service
from services import enrollment as enrollment_service
from services import registration_forms as registration_form_service
from services.errors import DomainError
from services.infra import clock
from services.queries import learner_pages


@bp.route("/")
def dashboard():
    # ?year= picks the year shown (a browser test opens next year's); absent or out of range: this year.
    board = learner_pages.dashboard(current_user, query_int("year", *learner_pages.year_range()))
    return render_template("learner/dashboard.html", board=board, action_form=ActionForm())


@bp.route("/courses/<int:course_id>/enroll", methods=["POST"])
@writes_only_under_own_lock  # the seat and the row: enrollment.enroll's locked unit of work
def enroll(course_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = enrollment_service.enroll(current_user, course_id)
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        if result.position is None:
            # Said again on enrolling: a course finishing next year counts there, not in this year's hours.
            year_note = str(get_template_attribute("learner/_credit_year.html", "credit_year_note")(
                result.credit_years, clock.today().year))
            flash(_("报名成功，请按时参加培训") + (f"。{year_note}" if year_note else ""), "success")
        else:
            flash(_("名额已满，您已进入候补名单，当前排第 %(n)s 位；有名额空出时将自动转为正式报名", n=result.position),
                  "warning")
    return redirect(url_for("catalog.course_detail", course_id=course_id))


@bp.route("/enrollments/<int:enrollment_id>/cancel", methods=["POST"])
def cancel(enrollment_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        enrollment_service.cancel(current_user, enrollment_id)
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("已取消报名"), "info")
    return redirect(url_for(".dashboard"))


@bp.route("/enrollments/<int:enrollment_id>/rate", methods=["GET", "POST"])
def rate(enrollment_id: int):
    enrollment = learner_pages.own_enrollment(current_user, enrollment_id)
    if enrollment is None:
        abort(404)
    form = RatingForm(obj=enrollment if enrollment.rating else None)
    if form.validate_on_submit():
        try:
            enrollment_service.rate(current_user, enrollment.id, form.rating.data, form.comment.data)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("感谢您的评价"), "success")
            return redirect(url_for(".dashboard"))
    if enrollment.rating and not form.is_submitted():
        form.comment.data = enrollment.rating_comment
    return render_template("learner/rate.html", enrollment=enrollment, form=form)


@bp.route("/notices/read", methods=["POST"])
def notices_read():
    if ActionForm().validate_on_submit():
        inbox.mark_read(current_user, "all")
    return redirect(url_for(".dashboard"))


@bp.route("/employer", methods=["GET", "POST"])
def employer():
    """The learner's employer: the one confirmed now, the claim waiting, the history, and a search to name one."""
    form = ClaimForm()
    if form.validate_on_submit():
        try:
            claim = employment.claim(current_user, form.employer.data)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("已向“%(name)s”提交确认申请，单位确认后您的学时申报将由该单位审核", name=claim.employer.name),
                  "success")
            return redirect(url_for(".employer"))
    elif form.is_submitted():
        flash(_("请在搜索结果中选择您的工作单位"), "danger")
    query = (request.args.get("q") or "").strip()[:64]
    status = 400 if form.is_submitted() else 200
    return render_template("learner/employer.html", query=query, found=employment.search(current_user, query),
                           history=employment.history(current_user), form=form, action_form=ActionForm()), status


@bp.route("/employer/withdraw", methods=["POST"])
def employer_withdraw():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        employment.withdraw(current_user)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("已撤回确认申请"), "info")
    return redirect(url_for(".employer"))


@bp.route("/declarations")
def declarations():
    return render_template("learner/declarations.html", declarations=declaration_service.of_learner(current_user),
                           is_overdue=declaration_service.is_overdue, steps=declaration_service.steps,
                           can_edit=declaration_service.awaits_first_review,
                           who_reviews=declaration_service.who_reviews(current_user, clock.today().year))


def _declaration_form_page(form, declaration=None, again=None):
    # The conversions the help text states, the kinds offered and their categories are the learner's
    # region's rules of this year (data; declarations are of this year only), not one region's for all.
    year = clock.today().year
    rule = hours.rule_for(current_user.region, year)
    form.minutes.description = _("不足一天的按实际分钟数填写，每 %(m)s 分钟折算 1 学时，最多按一天计",
                                 m=rule.minutes_per_hour)
    form.days.description = _("按天计算的，每天折算 %(h)s 学时", h=rule.hours_per_day)
    kinds = declaration_service.kinds_offered(current_user, year, declaration)
    # Each kind's option names the categories it may be declared as (data-categories, from the rules already
    # loaded: no query per option); static/js/declaration_categories.js offers only those for the chosen
    # kind. Without JavaScript every category is offered and the service refuses a wrong one beside the field.
    form.kind.choices = [(k.kind.value, k.kind.label, {"data-categories": " ".join(
        c.value for c in declaration_service.categories_allowed(k, declaration))}) for k in kinds]
    offered = {c for k in kinds for c in k.categories} | ({declaration.category} if declaration else set())
    form.category.choices = [(c.value, c.label) for c in Category if c in offered]
    return render_template("learner/declaration_form.html", form=form, declaration=declaration, kinds=kinds,
                           caps=declaration_service.caps_of_year(current_user, year), year=year, again=again)


@bp.route("/declarations/new", methods=["GET", "POST"])
def declaration_new():
    form = DeclarationForm()
    again = query_int("again", low=1)
    if again is not None and request.method == "GET":
        # 重新申报: a rejected declaration comes back as a new one, filled in as it was, to be corrected.
        rejected = declaration_service.rejected_of(current_user, again)
        if rejected is None:
            abort(404)
        form = DeclarationForm(obj=rejected)
        form.kind.data, form.category.data = rejected.kind.value, rejected.category.value
        by_time = rejected.minutes is not None or rejected.days is not None
        form.hours.data = None if by_time else rejected.hours_claimed
        return _declaration_form_page(form, again=rejected)
    if form.validate_on_submit():
        try:
            declaration_service.declare(current_user, form.declaration_data(), request.files.getlist(form.files.name))
        except DomainError as error:
            field_error(form, error, "files")
        else:
            flash(_("申报已提交，等待单位审核"), "success")
            return redirect(url_for(".declarations"))
    elif form.is_submitted():  # every fault in one round: the service's beside the form's own
        judged_too(form, lambda: declaration_service.judge(current_user, form.declaration_data(),
                                                           request.files.getlist(form.files.name)))
    return _declaration_form_page(form)


@bp.route("/declarations/<int:declaration_id>/edit", methods=["GET", "POST"])
def declaration_edit(declaration_id: int):
    declaration = declaration_service.own(current_user, declaration_id)
    if declaration is None:
        abort(404)
    form = DeclarationForm(obj=declaration)
    if request.method == "GET":
        form.kind.data, form.category.data = declaration.kind.value, declaration.category.value
        by_time = declaration.minutes is not None or declaration.days is not None
        form.hours.data = None if by_time else declaration.hours_claimed
    if form.validate_on_submit():
        try:
            declaration_service.edit(current_user, declaration.id, form.declaration_data())
        except DomainError as error:
            field_error(form, error, "title")
        else:
            flash(_("申报已修改"), "success")
            return redirect(url_for(".declarations"))
    elif form.is_submitted():
        judged_too(form, lambda: declaration_service.judge(current_user, form.declaration_data(),
                                                           filed=declaration))
    return _declaration_form_page(form, declaration)


@bp.route("/certificates")
def certificates():
    return render_template("learner/certificates.html", years=certificate_service.overview(current_user))


@bp.route("/certificates/<int:year>.pdf")
def certificate_pdf(year: int):
    try:
        certificate = certificate_service.issue(current_user, year)
    except DomainError as error:
        flash(error.message, "danger")
        return redirect(url_for(".certificates"))
    return downloads.attachment(certificate_service.pdf(certificate), f"{year}年度继续教育证书-{certificate.code}.pdf",
                                "application/pdf")


@bp.route("/registration-form")
def registration_form_page():
    """The 登记表 of the year picked (?year=, this year by default), as it prints, with its downloads."""
    year = query_int("year", *learner_pages.year_range(), default=clock.today().year)
    form = registration_form_service.sheet(current_user, year)
    years = sorted({y for y, *_rest in certificate_service.overview(current_user)} | {year}, reverse=True)
    return render_template("learner/registration_form.html", form=form, year=year, years=years,
                           cells=registration_form_service.cells(form))


@bp.route("/registration-form/<int:year>.<fmt>")
def registration_form(year: int, fmt: str):
    if fmt == "xlsx":
        return downloads.xlsx(registration_form_service.xlsx(current_user, year), f"{year}年度继续教育情况登记表.xlsx")
    if fmt == "pdf":
        return downloads.attachment(registration_form_service.pdf(current_user, year),
                                    f"{year}年度继续教育情况登记表.pdf", "application/pdf")
    abort(404)


@bp.route("/data.json")
def own_data():
    """Everything the site holds about the learner, as JSON (recorded in the audit log)."""
    body = json.dumps(personal_data.own_data(current_user), ensure_ascii=False, indent=2)
    return downloads.attachment(body.encode(), "my-jidi-data.json", "application/json")


@bp.route("/enrollments/<int:enrollment_id>/calendar.ics")
def calendar_entry(enrollment_id: int):
    """The course of one of the learner's own places as an all-day calendar entry; another's enrollment, a
    waitlisted or a cancelled one is 404."""
    enrollment = learner_pages.own_enrollment(current_user, enrollment_id)
    if enrollment is None or not calendar_entries.may_have_entry(enrollment):
        abort(404)
    course_url = url_for("catalog.course_detail", course_id=enrollment.course_id, _external=True)
    body = calendar_entries.enrollment_event(enrollment, host=urlsplit(course_url).hostname or "localhost",
                                             course_url=course_url)
    return downloads.attachment(body, f"{enrollment.course.title}.ics", "text/calendar")
