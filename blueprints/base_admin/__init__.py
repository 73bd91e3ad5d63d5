"""Base admins' area: their base's disclosure and courses. Another base's objects answer 404."""

from flask import Blueprint

from blueprints.access import require_area

bp = Blueprint("base_admin", __name__, url_prefix="/manage")
bp.before_request(require_area("base_admin"))

from blueprints.base_admin import routes  # noqa: E402,F401
