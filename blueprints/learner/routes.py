"""Learner views: thin, one service call each."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.common_forms import ActionForm
from blueprints.learner import bp
from blueprints.learner.forms import RatingForm
from services import enrollment as enrollment_service
from services import learner as learner_queries
from services.errors import DomainError


@bp.route("/")
def dashboard():
    board = learner_queries.dashboard(current_user)
    return render_template("learner/dashboard.html", board=board, action_form=ActionForm())


@bp.route("/courses/<int:course_id>/enroll", methods=["POST"])
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
            flash(_("报名成功，请按时参加培训"), "success")
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
    enrollment = learner_queries.own_enrollment(current_user.id, enrollment_id)
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
        learner_queries.mark_notices_read(current_user.id)
    return redirect(url_for(".dashboard"))
