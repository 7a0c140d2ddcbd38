"""Production: secrets required, TLS behind a proxy, secure cookies."""

from __future__ import annotations

from config.settings.base import *  # noqa: F403
from config.settings.env import env_bool, env_int, env_required

SECRET_KEY = env_required("SECRET_KEY")
# the audit chains' HMAC key must be provided (AUDIT_HMAC_KEY_FILE), never made up
AUDIT_HMAC_KEY_AUTOCREATE = False
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
