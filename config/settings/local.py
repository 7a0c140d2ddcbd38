"""Local development and `make demo`: SQLite under .data/, debug on, loopback only."""

from __future__ import annotations

from config.settings.base import *  # noqa: F403
from config.settings.base import DATA_DIR, REST_FRAMEWORK, TSA_CA_CERT_FILE
from config.settings.env import env_bool

DEBUG = env_bool("DEBUG", True)
DATA_DIR.mkdir(parents=True, exist_ok=True)
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

# the demo PKI's root (make demo): management commands such as audit_verify check the
# anchors' tokens against it without extra environment
if TSA_CA_CERT_FILE is None and (DATA_DIR / "pki" / "root-ca.pem").is_file():
    TSA_CA_CERT_FILE = str(DATA_DIR / "pki" / "root-ca.pem")
