"""Configuration classes, read from the environment."""

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("JIDI_INSTANCE", ROOT / "instance"))


def _dev_secret_key() -> str:
    """A per-checkout random key for local runs, kept in instance/ (never in the repository)."""
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'jidi.sqlite3'}"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    UPLOAD_FOLDER = str(INSTANCE / "uploads")
    # Requests above this size get a 413 page; images are refused earlier, by the form (IMAGE_MAX_BYTES).
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    IMAGE_MAX_BYTES = 5 * 1024 * 1024
    IMAGE_MAX_PIXELS = 40_000_000
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    CATALOG_PAGE_SIZE = 20
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None

    def __init__(self):
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_secret_key()


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    def __init__(self):
        key = os.environ.get("SECRET_KEY")
        if not key:
            raise RuntimeError("SECRET_KEY must be set in the environment in production")
        if not os.environ.get("DATABASE_URL"):
            raise RuntimeError("DATABASE_URL must be set in the environment in production")
        self.SECRET_KEY = key


def config_from_environment() -> Config:
    return ProductionConfig() if os.environ.get("JIDI_ENV") == "production" else Config()
