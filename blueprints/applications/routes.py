"""Applicant views: the application form and the page that follows an application by its secret link."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from blueprints.applications import bp
from blueprints.applications.forms import ApplyForm, WithdrawForm
from blueprints.common_forms import field_error
from blueprints.downloads import private_file
from services import base_applications
from services.errors import DomainError


def _apply_form() -> ApplyForm:
    form = ApplyForm()
    form.region_id.choices = [(r.id, r.full_name) for r in base_applications.region_choices()]
    return form


@bp.route("/", methods=["GET", "POST"])
def apply():
    form = _apply_form()
    if form.validate_on_submit():
        try:
            application, token = base_applications.submit(form.application_data(), form.files.data or [])
        except DomainError as error:
            field_error(form, error, "files")
        else:
            # The secret is shown on this one answer only: it is kept hashed, like an API token.
            return render_template("applications/submitted.html", application=application,
                                   link=url_for(".follow", token=token, _external=True))
        return render_template("applications/apply.html", form=form), 400
    if form.is_submitted():
        return render_template("applications/apply.html", form=form), 400
    return render_template("applications/apply.html", form=form)


def _load(token: str):
    """:raise 404: no application has that link."""
    try:
        return base_applications.by_token(token)
    except LookupError:
        abort(404)


@bp.route("/<token>")
def follow(token: str):
    application = _load(token)
    return render_template("applications/follow.html", application=application, token=token,
                           form=WithdrawForm())


@bp.route("/<token>/withdraw", methods=["POST"])
def withdraw(token: str):
    application = _load(token)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            base_applications.withdraw(token, form.note.data or "")
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("申报已撤回"), "success")
        return redirect(url_for(".follow", token=token))
    return render_template("applications/follow.html", application=application, token=token, form=form), 400


@bp.route("/<token>/files/<int:file_id>")
def file(token: str, file_id: int):
    application = _load(token)
    try:
        row, path = base_applications.file_of(application, file_id)
    except LookupError:
        abort(404)
    return private_file(path, row.filename, row.content_type)
