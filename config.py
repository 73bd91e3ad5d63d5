"""Configuration classes, read from the environment."""

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("JIDI_INSTANCE", ROOT / "instance"))


def _dev_key(name: str, make: "Callable[[], str]") -> str:
    """A per-checkout random key for local runs, kept in instance/ (never in the repository or database)."""
    path = INSTANCE / name
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _new_id_number_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _on(name: str) -> bool:
    """A yes/no setting of the environment: 1, true, yes or on (any case) is yes; anything else, or none, no."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _lifetimes(text: str) -> tuple[int, ...]:
    """A comma-separated list of whole days, at least one, none negative; a wrong setting stops the start."""
    try:
        days = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        days = ()
    if not days or min(days) < 0:
        raise ValueError(f"API_TOKEN_LIFETIME_DAYS: expected whole days separated by commas, got {text!r}")
    return days


def _whole(name: str, default: int) -> int:
    """A whole number from the environment; a wrong setting stops the start."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name}: expected a whole number, got {text!r}")
    return int(text)


def engine_options(uri: str) -> dict:
    """SQLAlchemy's engine options for the database at ``uri``.

    hide_parameters: a failed statement's error (and so the log) shows the SQL, not the values, which may be
    personal data. pool_pre_ping: a connection the server or a proxy closed while it sat in the pool is
    replaced before a request gets it, at the cost of one round trip per checkout (docs/DEPLOY.md).

    PostgreSQL's pool is set, not SQLAlchemy's default (5 kept and 10 more: 15 a process). A gunicorn sync
    worker serves one request at a time and the consumer runs 4 threads, so 2 kept and 2 more (DB_POOL_SIZE,
    DB_MAX_OVERFLOW) cover each; a request waits DB_POOL_TIMEOUT seconds for one, then fails rather than
    queueing without end. Connections are renewed hourly. The budget, servers × workers × (size + overflow) +
    consumers × (size + overflow) under PostgreSQL's max_connections, is in docs/DEPLOY.md; DB_PGBOUNCER=1
    turns off psycopg's server-side prepared statements, which PgBouncer's transaction pooling cannot carry.
    """
    options: dict = {"pool_pre_ping": True, "hide_parameters": True}
    if uri.startswith("postgresql"):
        options.update(pool_size=_whole("DB_POOL_SIZE", 2), max_overflow=_whole("DB_MAX_OVERFLOW", 2),
                       pool_timeout=_whole("DB_POOL_TIMEOUT", 10), pool_recycle=3600)
        if _on("DB_PGBOUNCER"):
            options["connect_args"] = {"prepare_threshold": None}
    return options


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'jidi.sqlite3'}"
    SQLALCHEMY_ENGINE_OPTIONS = engine_options(SQLALCHEMY_DATABASE_URI)
    UPLOAD_FOLDER = str(INSTANCE / "uploads")
    # Requests above this size get a 413 page; images are refused earlier, by the form (IMAGE_MAX_BYTES).
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024  # two 10 MB evidence files and the form; a 30 MB body is refused
    IMAGE_MAX_BYTES = 5 * 1024 * 1024
    IMAGE_MAX_PIXELS = 40_000_000
    ROSTER_MAX_BYTES = 10 * 1024 * 1024
    EVIDENCE_FOLDER = str(INSTANCE / "evidence")
    # Files that background jobs write (a province's tables), kept 7 days (services.background); empty: a
    # ``jobs`` folder beside UPLOAD_FOLDER.
    JOB_FILES_FOLDER = os.environ.get("JOB_FILES_FOLDER", "")
    EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
    # An embeddable TrueType CJK font for PDFs (Debian's fonts-wqy-zenhei; `make` installs it).
    PDF_FONT_PATH = os.environ.get("PDF_FONT_PATH", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
    # Shared counters for rate limits (certificate lookups); without it each process counts alone.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    # The open API (/api/v1): requests per client address, and per token on top; a batch's body limit.
    API_RATE_LIMIT_PER_ADDRESS = os.environ.get("API_RATE_LIMIT_PER_ADDRESS", "600 per minute")
    API_RATE_LIMIT_PER_TOKEN = os.environ.get("API_RATE_LIMIT_PER_TOKEN", "300 per minute")
    API_MAX_BODY_BYTES = 8 * 1024 * 1024  # 10,000 completions take about 1.5 MB
    # What a base admin may choose as a new token's lifetime, in days (0: until revoked); the first is the
    # default. A platform's security policy may shorten the list (e.g. "90,30": no new token lives longer;
    # tokens made before keep the lifetime they were given).
    API_TOKEN_LIFETIME_DAYS = _lifetimes(os.environ.get("API_TOKEN_LIFETIME_DAYS", "365,180,90,30,0"))
    # Certificate lookups per client address (Flask-Limiter syntax), counted like sign-ins: Redis when set.
    VERIFY_RATE_LIMIT = os.environ.get("VERIFY_RATE_LIMIT", "30 per minute")
    # Failed sign-ins allowed per account and per client address (Flask-Limiter syntax; several limits
    # separated by ";"). Only failures count, so an office behind one address is not locked out by its own
    # successful sign-ins; once a limit is reached even the right password gets the 429 page until it resets.
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per minute; 20 per hour")
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "20 per minute; 100 per hour")
    # Successful sign-ins allowed per account (same syntax): each one is an audit entry of its own, never folded
    # into a count, so this bounds how fast anyone holding the password can write to the append-only log.
    LOGIN_SUCCESS_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_SUCCESS_LIMIT_PER_ACCOUNT", "30 per hour")
    # Refused registrations allowed per client address (same syntax): each one may tell a stranger that a phone,
    # e-mail or ID number is taken. Successful ones are not counted, so an office registering its staff from one
    # address is not stopped; a form returned for a typing mistake is.
    REGISTER_LIMIT_PER_ADDRESS = os.environ.get("REGISTER_LIMIT_PER_ADDRESS", "20 per hour; 100 per day")
    # Codes and links asked for (password reset, claiming a walk-in account), per account the login reaches
    # and per client address (same syntax): each costs a text message or an e-mail and reaches a person.
    # Changing one's phone or e-mail is limited per signed-in user with the per-account limit.
    RESET_LIMIT_PER_TARGET = os.environ.get("RESET_LIMIT_PER_TARGET", "3 per 10 minutes; 10 per day")
    RESET_LIMIT_PER_ADDRESS = os.environ.get("RESET_LIMIT_PER_ADDRESS", "10 per hour; 50 per day")
    # Refused codes and links per client address: a code dies after five wrong guesses, this bounds how many
    # codes one address may try to guess at all.
    CODE_CHECK_LIMIT_PER_ADDRESS = os.environ.get("CODE_CHECK_LIMIT_PER_ADDRESS", "20 per hour; 100 per day")
    # Flask-Limiter: its storage is REDIS_URL when set (app.py), so every worker counts the same attempts;
    # if Redis goes away each process counts alone rather than refusing every sign-in.
    RATELIMIT_KEY_PREFIX = "jidi"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # Reverse proxies in front of the app whose X-Forwarded-For may be believed (0: none, trust nobody).
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    # The site's address as people reach it: the links in e-mails and text messages (no request to ask).
    SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:5000")
    # E-mail (services.infra.mail): SMTP when MAIL_SERVER is set, else the log.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _on("MAIL_USE_TLS")  # STARTTLS on MAIL_PORT (587)
    MAIL_USE_SSL = _on("MAIL_USE_SSL")  # TLS from the start (465)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@jidi.local")
    MAIL_FROM_NAME = os.environ.get("MAIL_FROM_NAME", "继续教育基地平台")
    MAIL_TIMEOUT = 10
    # Text messages (services.infra.sms): "log" (development) or "aliyun" (Alibaba Cloud SMS).
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "log")
    SMS_LOG_PARAMS = True
    SMS_ENDPOINT = os.environ.get("SMS_ENDPOINT", "https://dysmsapi.aliyuncs.com/")
    SMS_REGION = os.environ.get("SMS_REGION", "cn-hangzhou")
    SMS_ACCESS_KEY_ID = os.environ.get("SMS_ACCESS_KEY_ID", "")
    SMS_ACCESS_KEY_SECRET = os.environ.get("SMS_ACCESS_KEY_SECRET", "")
    SMS_SIGN_NAME = os.environ.get("SMS_SIGN_NAME", "继续教育基地平台")
    # The site's templates and the provider's codes for them (approved in the provider's console).
    SMS_TEMPLATES = {
        "code": os.environ.get("SMS_TEMPLATE_CODE", "SMS_CODE"),
        "notice": os.environ.get("SMS_TEMPLATE_NOTICE", "SMS_NOTICE"),
    }
    SMS_TIMEOUT = 10
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    CATALOG_PAGE_SIZE = 20
    # Public pages are served again to anonymous visitors for this many seconds (blueprints/pagecache.py).
    PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS", "10"))
    PAGE_CACHE_ENTRIES = 256  # per process: its own store, or its copies of what it fetched from Redis
    # Pieces of pages (a catalog card, the filter form) kept under everything they are rendered from, so never
    # stale, for signed-in users too: unused ones go after this many seconds (Redis) or beyond the count.
    FRAGMENT_CACHE_SECONDS = int(os.environ.get("FRAGMENT_CACHE_SECONDS", "3600"))
    FRAGMENT_CACHE_ENTRIES = 8192  # per process: its own store, or its copies of what it fetched from Redis
    # An event a user can repeat at will (a refused page, an ID number shown again, an export) is written to
    # the append-only audit log once per actor, subject and window of this many seconds, and counted after
    # that (services.audit.record_repeatable); 0 writes every one.
    AUDIT_REPEAT_WINDOW_SECONDS = int(os.environ.get("AUDIT_REPEAT_WINDOW_SECONDS", "3600"))
    # Strict-Transport-Security, in seconds; 0 sends none. Only production turns it on: a browser told so by
    # a development server would refuse http://localhost for every project on that port until it expired.
    HSTS_MAX_AGE = 0
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # The site serves the demo data of `flask seed-demo` (`make run` turns it on): every page says, in a
    # discreet banner, that what it shows of the real institutions named in the notices is made up. Off by
    # default (read when the app is made, like the keys below); production refuses it.
    DEMO_MODE = False

    def __init__(self) -> None:
        self.DEMO_MODE = _on("DEMO_MODE")
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_key("secret_key", lambda: secrets.token_hex(32))
        # Encrypts resident ID numbers (32 random bytes, url-safe base64). Losing it loses the numbers.
        self.ID_NUMBER_KEY = os.environ.get("ID_NUMBER_KEY") or _dev_key("id_number_key", _new_id_number_key)


# Keys that have been published (examples, the tests' key): a server using one of them has no secret.
KNOWN_KEYS = frozenset({
    "dev", "secret", "changeme", "change-me", "test-secret", "secret-key", "your-secret-key",
    "dGVzdC1vbmx5LWlkLW51bWJlci1rZXktMzItYnl0ZXM=",
})
MIN_SECRET_KEY_LENGTH = 32


def check_secret_key(key: str) -> str | None:
    """Why ``key`` is not a real SECRET_KEY, or None."""
    if key in KNOWN_KEYS:
        return "is a published example key"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    if len(set(key)) < 8:
        return "repeats too few characters to be random"
    return None


def check_id_number_key(key: str) -> str | None:
    """Why ``key`` is not a real ID_NUMBER_KEY (32 random bytes, url-safe base64), or None."""
    if key in KNOWN_KEYS:
        return "is a published example key"
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (ValueError, TypeError):
        return "is not url-safe base64"
    if len(raw) != 32:
        return "does not decode to 32 bytes"
    if len(set(raw)) < 8:
        return "repeats too few bytes to be random"
    return None


class ProductionConfig(Config):
    DEBUG = False
    TESTING = False
    PREFERRED_URL_SCHEME = "https"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    # Browsers that once reached the site over HTTPS refuse plain HTTP to it (and to its subdomains) for a
    # year, so a network in between cannot strip TLS from a later visit (app.register_security_headers).
    HSTS_MAX_AGE = 365 * 24 * 3600
    # A production log keeps no one-time code, even with the log backend for text messages.
    SMS_LOG_PARAMS = False

    def __init__(self) -> None:
        """:raise RuntimeError: a missing, short or published key, no DATABASE_URL, or FLASK_DEBUG on."""
        for name in ("SECRET_KEY", "ID_NUMBER_KEY", "DATABASE_URL"):
            if not os.environ.get(name):
                raise RuntimeError(f"{name} must be set in the environment in production")
        for name, check in (("SECRET_KEY", check_secret_key), ("ID_NUMBER_KEY", check_id_number_key)):
            problem = check(os.environ[name])
            if problem:
                raise RuntimeError(f"{name} {problem}: make one with "
                                   "python -c 'import base64, secrets; "
                                   "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'")
        if os.environ["SECRET_KEY"] == os.environ["ID_NUMBER_KEY"]:
            raise RuntimeError("SECRET_KEY and ID_NUMBER_KEY must be different keys")
        if os.environ.get("FLASK_DEBUG", "").lower() not in ("", "0", "false", "no"):
            raise RuntimeError("FLASK_DEBUG must be off in production: the debugger runs any code sent to it")
        if _on("DEMO_MODE"):
            raise RuntimeError("DEMO_MODE must be off in production: the demo's made-up data about real "
                               "institutions is not to be served as the real site")
        self.SECRET_KEY = os.environ["SECRET_KEY"]
        self.ID_NUMBER_KEY = os.environ["ID_NUMBER_KEY"]
        # Read now, not when config.py was imported, so that the environment of the server process counts.
        self.SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        self.PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))


def config_from_environment() -> Config:
    return ProductionConfig() if os.environ.get("JIDI_ENV") == "production" else Config()
