"""Reviewer views."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints import downloads
from blueprints.common_forms import ActionForm, field_error
from blueprints.query import form_ids
from blueprints.reviewer import bp
from blueprints.reviewer.forms import BatchReviewForm, ReviewForm
from models import Category
from services import declarations, personal_data, staff_reports
from services.errors import DomainError, NotAllowed
from services.queries import employer_pages


def _queue_page(form: BatchReviewForm, batch: declarations.BatchResult | None = None, status: int = 200):
    return render_template("reviewer/index.html", declarations=declarations.queue(current_user),
                           is_overdue=declarations.is_overdue, form=form, batch=batch), status


@bp.route("/")
def index():
    return _queue_page(BatchReviewForm(formdata=None))


@bp.route("/batch", methods=["POST"])
def batch_review():
    """Approve the ticked declarations with one reason; the page then says which were approved and which
    were refused, and why."""
    form = BatchReviewForm()
    if not form.validate_on_submit():
        return _queue_page(form, status=400)
    try:
        result = declarations.review_many(current_user, form_ids("ids"), form.reason.data or "")
    except DomainError as error:
        field_error(form, error)
        return _queue_page(form, status=400)
    return _queue_page(BatchReviewForm(formdata=None), batch=result)


@bp.route("/staff")
def staff():
    """The employer's confirmed staff, this year's hours against their rule, shortest first."""
    only_short = request.args.get("short") == "1"
    number = request.args.get("page", 1, type=int)
    return render_template("reviewer/staff.html",
                           page=employer_pages.staff_page(current_user, only_short=only_short, page=number),
                           only_short=only_short, categories=list(Category))


@bp.route("/staff.xlsx")
def staff_export():
    only_short = request.args.get("short") == "1"
    try:
        data, year = staff_reports.export_xlsx(current_user, only_short=only_short)
    except NotAllowed:
        abort(404)
    return downloads.xlsx(data, f"职工学时-{year}.xlsx")


def _load_declaration(declaration_id: int):
    """:raise 404: no such declaration, or not one the current user reviews (policies.may_review)."""
    declaration = declarations.for_reviewer(current_user, declaration_id)
    if declaration is None:
        abort(404)
    return declaration


@bp.route("/<int:declaration_id>", methods=["GET", "POST"])
def review(declaration_id: int):
    declaration = _load_declaration(declaration_id)
    form = ReviewForm(hours=declaration.hours_claimed)
    if form.validate_on_submit():
        try:
            declarations.review(current_user, declaration.id, form.decision.data == "approve", form.hours.data,
                                form.reason.data)
        except LookupError:
            abort(404)
        except DomainError as error:
            field_error(form, error, "reason")
        else:
            flash(_("审核已完成"), "success")
            return redirect(url_for(".index"))
    return render_template("reviewer/review.html", declaration=declaration, form=form,
                           overdue=declarations.is_overdue(declaration))


@bp.route("/<int:declaration_id>/id-number", methods=["POST"])
def reveal_id_number(declaration_id: int):
    """The declarant's full ID number, for checking it against the evidence: audited."""
    declaration = _load_declaration(declaration_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    number = personal_data.reveal_id_number(current_user, declaration.learner,
                                            context=f"declaration {declaration.id}")
    back = url_for(".review", declaration_id=declaration.id)
    return render_template("id_number.html", learner=declaration.learner, number=number, back=back)
