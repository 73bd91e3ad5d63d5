"""Flask extensions, created unbound and initialised in app.create_app()."""

from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

if TYPE_CHECKING:
    from redis import Redis

# Stable constraint names, so that migrations can refer to (and drop) them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Counts sign-in attempts (blueprints/auth); no default limits, so only routes that ask are limited. The
# client address is request.remote_addr, which ProxyFix sets from X-Forwarded-For behind PROXY_COUNT proxies.
limiter = Limiter(key_func=get_remote_address)


def redis_client() -> "Redis | None":
    """The app's Redis connection (REDIS_URL), made once per process; None when no Redis is configured."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("jidi_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5)
        current_app.extensions["jidi_redis"] = client
    return client
