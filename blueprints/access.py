"""Role gates for blueprints: anonymous users go to sign in, users of another role get 403."""

from flask import abort, request
from flask_login import current_user

from extensions import login_manager
from services import audit


def require_role(*roles):
    """A before_request hook admitting only signed-in users with one of ``roles``."""

    def gate():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in roles:
            audit.record_now(current_user, "auth.denied", current_user,
                             details={"result": "403", "path": request.path[:200], "method": request.method})
            abort(403)
        return None

    return gate
