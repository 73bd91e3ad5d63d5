"""Role gates for blueprints: anonymous users go to sign in, users of another role get 403."""

from flask import abort
from flask_login import current_user

from extensions import login_manager


def require_role(*roles):
    """A before_request hook admitting only signed-in users with one of ``roles``."""

    def gate():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in roles:
            abort(403)
        return None

    return gate
