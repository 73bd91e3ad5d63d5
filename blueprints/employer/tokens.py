"""Employer admin views: the employer's API tokens, for its HR system to read its staff's hours."""

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.base_admin.forms import ApiTokenForm  # the same form: a name and a lifetime the platform offers
from blueprints.common_forms import ActionForm, field_error
from blueprints.employer import bp
from services import api_tokens as token_service
from services.errors import DomainError, NotAllowed


def _employer():
    """:raise 404: the admin's account names no employer (the area's gate has checked the role)."""
    if current_user.employer is None:
        abort(404)
    return current_user.employer


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    """The employer's API tokens. A new token's secret is shown on the page that answers its creation and
    nowhere else: no redirect, flash or URL carries it, and only its hash is stored."""
    employer = _employer()
    lifetimes = current_app.config["API_TOKEN_LIFETIME_DAYS"]
    form = ApiTokenForm()
    form.offer_lifetimes(lifetimes)
    secret, status = None, 200
    if form.validate_on_submit():
        try:
            _token, secret = token_service.create_employer_token(current_user, employer, form.name.data,
                                                                 form.lifetime.data, lifetimes)
        except NotAllowed:
            abort(404)
        except DomainError as error:
            field_error(form, error)
            status = 400
        else:
            form = ApiTokenForm(formdata=None)
            form.offer_lifetimes(lifetimes)
    elif form.is_submitted():
        status = 400
    return render_template("employer/tokens.html", employer=employer, form=form, secret=secret,
                           tokens=token_service.employer_tokens_of(employer)), status


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def token_revoke(token_id: int):
    employer = _employer()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        revoked = token_service.revoke_employer_token(current_user, employer, token_id)
    except NotAllowed:
        abort(404)
    if revoked is None:
        abort(404)
    flash(_("令牌已吊销，立即失效"), "success")
    return redirect(url_for(".tokens"))
