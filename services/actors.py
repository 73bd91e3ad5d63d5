"""Who acts in a use case: the type of the acting user that every service function takes first."""

from typing import TypeAlias

from models import User

# The domain never reads the request: the view passes who acts (Flask-Login's current user), and the API the
# admin whose right its token carries (services.api_tokens.Principal.user). One name for it, so that when the
# API's token itself becomes an actor (issue 15: the audit log takes the token as an argument) the type of
# every use case changes here. Parameters named after a role (learner, regulator, reviewer) are that User.
Actor: TypeAlias = User
