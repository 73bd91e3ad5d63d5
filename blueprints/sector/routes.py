"""Sector officer views: the authority's page."""

from flask import render_template
from flask_login import current_user

from blueprints.sector import bp


@bp.route("/")
def index():
    return render_template("sector/index.html", authority=current_user.sector_authority)
