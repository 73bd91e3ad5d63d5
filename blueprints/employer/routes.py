"""Employer admin views: the employer's page, its registration (corrected after a rejection), its reviewers,
and who works there (claims to confirm or refuse, the confirmed staff)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.auth.forms import OrganisationFields
from blueprints.common_forms import ActionForm, field_error
from blueprints.employer import bp
from blueprints.employer.forms import ActiveForm, RefuseForm, ReviewerForm
from models import EmployerStatus
from services import accounts, employers, employment
from services.errors import DomainError, NotAllowed


def _home():
    try:
        return employers.home(current_user)
    except LookupError:
        abort(404)


@bp.route("/")
def index():
    return render_template("employer/index.html", home=_home())


@bp.route("/registration", methods=["GET", "POST"])
def registration():
    home = _home()
    employer = home.employer
    # The stored values fill a GET's form; a POST's own data wins over them.
    form = OrganisationFields(name=employer.name, credit_code=employer.credit_code, region=employer.region_id,
                              sector=employer.sector, contact_name=employer.contact_name,
                              contact_phone=employer.contact_phone)
    form.region.choices = [(city.id, city.full_name) for city in accounts.cities()]
    if employer.status != EmployerStatus.REJECTED:
        if request.method == "POST":
            flash(_("只有未通过审核的单位可以修改后重新提交"), "warning")
        return redirect(url_for(".index"))
    if form.validate_on_submit():
        try:
            employers.resubmit(current_user, form.organisation_data())
        except DomainError as error:
            field_error(form, error, "name")
        else:
            flash(_("已重新提交，请等待人社部门审核"), "success")
            return redirect(url_for(".index"))
    status = 400 if form.is_submitted() else 200
    return render_template("employer/registration.html", home=home, form=form), status


@bp.route("/reviewers", methods=["GET", "POST"])
def reviewers():
    home = _home()
    form = ReviewerForm()
    if home.employer.status == EmployerStatus.APPROVED and form.validate_on_submit():
        try:
            employers.add_reviewer(current_user, form.reviewer_data())
        except DomainError as error:
            field_error(form, error, "name")
        else:
            flash(_("已添加审核人员 %(name)s，可用其登录名和初始密码登录", name=form.name.data), "success")
            return redirect(url_for(".reviewers"))
    status = 400 if form.is_submitted() else 200
    return render_template("employer/reviewers.html", home=home, form=form, action_form=ActionForm(),
                           reviewers=employers.reviewers(current_user)), status


@bp.route("/reviewers/<int:user_id>/active", methods=["POST"])
def reviewer_active(user_id: int):
    form = ActiveForm()
    if not form.validate_on_submit():
        abort(400)
    enable = form.active.data == "1"
    try:
        employers.set_reviewer_active(current_user, user_id, enable)
    except LookupError:
        abort(404)
    except NotAllowed as error:
        flash(error.message, "danger")
    else:
        flash(_("已启用该审核人员") if enable else _("已停用该审核人员，其登录已退出"), "success")
    return redirect(url_for(".reviewers"))


@bp.route("/claims")
def claims():
    return render_template("employer/claims.html", home=_home(), claims=employment.pending_claims(current_user),
                           action_form=ActionForm(), refuse_form=RefuseForm())


@bp.route("/claims/<int:employment_id>/confirm", methods=["POST"])
def confirm_claim(employment_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        claim = employment.confirm(current_user, employment_id)
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("已确认 %(name)s 为本单位职工", name=claim.learner.name), "success")
    return redirect(url_for(".claims"))


@bp.route("/claims/<int:employment_id>/refuse", methods=["POST"])
def refuse_claim(employment_id: int):
    try:
        employment.claim_of(current_user, employment_id)
    except LookupError:
        abort(404)
    form = RefuseForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()), [_("请填写不予确认的原因")])[0], "danger")
        return redirect(url_for(".claims"))
    try:
        employment.refuse(current_user, employment_id, form.reason.data)
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("已不予确认"), "info")
    return redirect(url_for(".claims"))


@bp.route("/staff")
def staff():
    return render_template("employer/staff.html", home=_home(), staff=employment.staff(current_user))
