"""The inbox (/inbox): every signed-in user's notices, whatever the role."""

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.before_request
@login_required
def signed_in():
    return None


from blueprints.inbox import routes  # noqa: E402,F401
