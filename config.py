"""Configuration classes, read from the environment."""

import base64
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("JIDI_INSTANCE", ROOT / "instance"))


def _dev_key(name: str, make) -> str:
    """A per-checkout random key for local runs, kept in instance/ (never in the repository or database)."""
    path = INSTANCE / name
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _new_id_number_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'jidi.sqlite3'}"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    UPLOAD_FOLDER = str(INSTANCE / "uploads")
    # Requests above this size get a 413 page; images are refused earlier, by the form (IMAGE_MAX_BYTES).
    MAX_CONTENT_LENGTH = 48 * 1024 * 1024
    IMAGE_MAX_BYTES = 5 * 1024 * 1024
    IMAGE_MAX_PIXELS = 40_000_000
    ROSTER_MAX_BYTES = 10 * 1024 * 1024
    EVIDENCE_FOLDER = str(INSTANCE / "evidence")
    EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
    # An embeddable TrueType CJK font for PDFs (Debian's fonts-wqy-zenhei; `make` installs it).
    PDF_FONT_PATH = os.environ.get("PDF_FONT_PATH", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
    # Shared counters for rate limits (certificate lookups); without it each process counts alone.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    VERIFY_RATE_LIMIT = 30  # lookups per minute and client address
    # Reverse proxies in front of the app whose X-Forwarded-For may be believed (0: none, trust nobody).
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    CATALOG_PAGE_SIZE = 20
    # Public pages are served again to anonymous visitors for this many seconds (services/pagecache.py).
    PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS", "10"))
    PAGE_CACHE_ENTRIES = 256  # per process, when there is no Redis
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None

    def __init__(self):
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_key("secret_key", lambda: secrets.token_hex(32))
        # Encrypts resident ID numbers (32 random bytes, url-safe base64). Losing it loses the numbers.
        self.ID_NUMBER_KEY = os.environ.get("ID_NUMBER_KEY") or _dev_key("id_number_key", _new_id_number_key)


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    def __init__(self):
        for name in ("SECRET_KEY", "ID_NUMBER_KEY", "DATABASE_URL"):
            if not os.environ.get(name):
                raise RuntimeError(f"{name} must be set in the environment in production")
        key = os.environ["SECRET_KEY"]
        self.SECRET_KEY = key
        self.ID_NUMBER_KEY = os.environ["ID_NUMBER_KEY"]


def config_from_environment() -> Config:
    return ProductionConfig() if os.environ.get("JIDI_ENV") == "production" else Config()
