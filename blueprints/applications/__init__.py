"""Base applications (/apply, public): an institution applies to become a continuing-education base and
follows its application through a secret link. The regulator's review is the regulator area's."""

from flask import Blueprint

bp = Blueprint("applications", __name__, url_prefix="/apply")

from blueprints.applications import routes  # noqa: E402,F401
