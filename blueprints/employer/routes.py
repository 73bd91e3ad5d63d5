"""Employer admin views: the employer's page."""

from flask import render_template
from flask_login import current_user

from blueprints.employer import bp


@bp.route("/")
def index():
    return render_template("employer/index.html", employer=current_user.employer)
