"""One budget of certificate lookups per client, spent by the site's verification page and the API alike."""

from flask import current_app, request
from flask_limiter.util import get_remote_address

from extensions import limiter

# The bucket's name. A shared limit's counter is named by its scope and key, not by the route, so every
# route decorated by lookup_limit() counts against the same one (in Redis when REDIS_URL is set).
SCOPE = "certificate-lookup"


def _no_code_asked() -> bool:
    """The empty form is not a lookup and is not counted."""
    return not ((request.view_args or {}).get("code") or request.args.get("code", "").strip())


def lookup_limit(**options):
    """The decorator of a route that looks a certificate up by its code: VERIFY_RATE_LIMIT per client address
    (remote_addr: the peer, or what trusted proxies said under PROXY_COUNT; a client cannot choose it),
    against guessing codes. ``options`` go to Flask-Limiter (``on_breach``, ``override_defaults``) and may
    change how a refusal looks, never what is counted."""
    return limiter.shared_limit(lambda: current_app.config["VERIFY_RATE_LIMIT"], scope=SCOPE,
                                key_func=get_remote_address, exempt_when=_no_code_asked, **options)
